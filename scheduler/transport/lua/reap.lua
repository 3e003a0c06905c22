-- reap: put the unfinished jobs of a worker back at the tail of their queues (so they run
-- next) and forget the worker. Used on a worker whose heartbeat expired, and by a worker
-- on itself when it stops.
-- KEYS[1] workers zset       {ns}:workers
-- KEYS[2] worker hash        {ns}:worker:<id>
-- KEYS[3] worker wake list   {ns}:worker:<id>:wake
-- KEYS[4] held hash          {ns}:held (the worker's abandoned threads are forgotten, and
--                            the active markers they kept released as their runs allow)
-- then for each queue of the worker, three keys:
--         in-progress list   {ns}:worker:<id>:jobs:<q>
--         queue list         {ns}:queue:<q>
--         wake list          {ns}:wake:<q>
-- ARGV[1] worker id
-- ARGV[2] now, epoch seconds (Redis clock)
-- ARGV[3] heartbeat expiry in seconds, or "" to reap without checking (a worker stopping)
-- ARGV[4] the namespace's key prefix "{ns}:" (for the active markers {ns}:active:<job>,
--         and the records {ns}:job:<id> of tracked jobs, which read "queued" again)
-- Returns -1 if the worker's heartbeat is not expired (nothing done), else how many jobs
-- were put back.
-- @include _push
-- @include _held
-- @include _job

if ARGV[3] ~= '' then
  local beat = redis.call('ZSCORE', KEYS[1], ARGV[1])
  if beat and tonumber(beat) > tonumber(ARGV[2]) - tonumber(ARGV[3]) then
    return -1
  end
end
local suffix = ' ' .. ARGV[1]
for _, field in ipairs(redis.call('HKEYS', KEYS[4])) do
  if string.sub(field, -#suffix) == suffix then
    local job = thread_ended(KEYS[4], field)
    if job then
      release_marker(ARGV[4] .. 'active:' .. job, string.match(field, '^(%S+) '))
    end
  end
end
local moved = 0
for i = 5, #KEYS - 2, 3 do
  local n = 0
  while true do
    local payload = redis.call('LMOVE', KEYS[i], KEYS[i + 1], 'LEFT', 'RIGHT')
    if not payload then break end
    record_requeued(ARGV[4], payload)
    n = n + 1
  end
  if n > 0 then
    wake(KEYS[i + 2])
  end
  moved = moved + n
end
redis.call('ZREM', KEYS[1], ARGV[1])
redis.call('DEL', KEYS[2], KEYS[3])
return moved
