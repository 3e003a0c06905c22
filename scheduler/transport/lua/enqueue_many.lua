-- enqueue_many: put new jobs of one queue on it (or in its delayed set), once per job id:
-- a chunk of Queue.batch() in one call.
-- KEYS[1] queue list      {ns}:queue:<q>
-- KEYS[2] wake list       {ns}:wake:<q>
-- KEYS[3] delayed zset    {ns}:delayed:<q>
-- KEYS[4] queue names     {ns}:queues
-- KEYS[4 + i] job i's enqueue marker  {ns}:enqueued:<id>
-- ARGV[1] queue name
-- ARGV[2] seconds a marker lives: an id sent again within them enqueues nothing
-- ARGV[1 + 2i], ARGV[2 + 2i]  job i's payload JSON and due (epoch seconds, "" for now)
-- Returns how many jobs were enqueued (those whose id was not enqueued recently).
-- Jobs due now are pushed in their order, as one enqueue call each would push them.
-- @include _push

local now, later = {}, {}
for i = 5, #KEYS do
  local payload, due = ARGV[2 * (i - 4) + 1], ARGV[2 * (i - 4) + 2]
  if redis.call('SET', KEYS[i], '1', 'NX', 'EX', ARGV[2]) then
    if due == '' then
      now[#now + 1] = payload
    else
      later[#later + 1] = due
      later[#later + 1] = payload
    end
  end
end
if #later > 0 then
  remember_queue(KEYS[4], ARGV[1])
  redis.call('ZADD', KEYS[3], unpack(later))
end
if #now > 0 and redis.call('LPUSH', KEYS[1], unpack(now)) == #now then
  remember_queue(KEYS[4], ARGV[1])
  wake_many(KEYS[2], #now)
end
return #now + #later / 2
