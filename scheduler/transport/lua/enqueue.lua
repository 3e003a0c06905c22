-- enqueue: put one new job on its queue, or in its queue's delayed set, once per job id,
-- and (for a unique job) only while no other job holds its unique key.
-- KEYS[1] queue list      {ns}:queue:<q>
-- KEYS[2] wake list       {ns}:wake:<q>
-- KEYS[3] delayed zset    {ns}:delayed:<q>
-- KEYS[4] queue names     {ns}:queues
-- KEYS[5] enqueue marker  {ns}:enqueued:<id>
-- KEYS[6] unique marker   {ns}:unique:<key>  (only with ARGV[5])
-- KEYS[7] job record      {ns}:job:<id>      (only with ARGV[6])
-- ARGV[1] payload JSON
-- ARGV[2] queue name
-- ARGV[3] due: epoch seconds, or "" to run now
-- ARGV[4] seconds the marker lives: the same id sent again within them enqueues nothing
-- ARGV[5] seconds the unique marker lives at most, or ""/absent for a job without a
--         unique key (ARGV[5..9] are absent for a job neither unique nor tracked)
-- ARGV[6] seconds the job record lives (while the job waits), or "" for an untracked job
-- ARGV[7] job id
-- ARGV[8] now, epoch seconds (the record's enqueued_at)
-- ARGV[9] task name (the record's task)
-- Returns 1; 0 if a job with this id was enqueued within ARGV[4] seconds; or, when another
-- job holds the unique key, that job's id (nothing is enqueued, no marker is written).
-- A queue that held jobs already is remembered and has a token for idle workers (see
-- wake in _push.lua), so only a push into an empty queue records its name and wakes.
-- @include _push

local unique_for, record_life = ARGV[5] or '', ARGV[6] or ''
if unique_for == '' then
  if not redis.call('SET', KEYS[5], '1', 'NX', 'EX', ARGV[4]) then
    return 0
  end
else
  if redis.call('EXISTS', KEYS[5]) == 1 then
    return 0
  end
  if not redis.call('SET', KEYS[6], ARGV[7], 'NX', 'EX', unique_for) then
    return redis.call('GET', KEYS[6])
  end
  redis.call('SET', KEYS[5], '1', 'EX', ARGV[4])
end
local status = 'queued'
if ARGV[3] == '' then
  if redis.call('LPUSH', KEYS[1], ARGV[1]) == 1 then
    remember_queue(KEYS[4], ARGV[2])
    wake(KEYS[2])
  end
else
  remember_queue(KEYS[4], ARGV[2])
  delay_job(KEYS[3], ARGV[3], ARGV[1])
  status = 'scheduled'
end
if record_life ~= '' then
  redis.call('HSET', KEYS[7], 'status', status, 'attempt', '1', 'enqueued_at', ARGV[8],
    'due', ARGV[3], 'queue', ARGV[2], 'task', ARGV[9])
  redis.call('EXPIRE', KEYS[7], record_life)
end
return 1
