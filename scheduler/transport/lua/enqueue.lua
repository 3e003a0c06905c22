-- enqueue: put one new job on its queue, or in its queue's delayed set, once per job id.
-- KEYS[1] queue list      {ns}:queue:<q>
-- KEYS[2] wake list       {ns}:wake:<q>
-- KEYS[3] delayed zset    {ns}:delayed:<q>
-- KEYS[4] queue names     {ns}:queues
-- KEYS[5] enqueue marker  {ns}:enqueued:<id>
-- ARGV[1] payload JSON
-- ARGV[2] queue name
-- ARGV[3] due: epoch seconds, or "" to run now
-- ARGV[4] seconds the marker lives: the same id sent again within them enqueues nothing
-- Returns 1, or 0 if a job with this id was enqueued within ARGV[4] seconds.
-- A queue that held jobs already is remembered and has a token for idle workers (see
-- wake in _push.lua), so only a push into an empty queue records its name and wakes.
-- @include _push

if not redis.call('SET', KEYS[5], '1', 'NX', 'EX', ARGV[4]) then
  return 0
end
if ARGV[3] == '' then
  if redis.call('LPUSH', KEYS[1], ARGV[1]) == 1 then
    remember_queue(KEYS[4], ARGV[2])
    wake(KEYS[2])
  end
else
  remember_queue(KEYS[4], ARGV[2])
  delay_job(KEYS[3], ARGV[3], ARGV[1])
end
return 1
