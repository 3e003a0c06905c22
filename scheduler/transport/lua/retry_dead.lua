-- retry_dead: take one job out of the dead set and put it on its queue again.
-- KEYS[1] dead zset      {ns}:dead
-- KEYS[2] dead hash      {ns}:dead:jobs
-- KEYS[3] queue list     {ns}:queue:<q>
-- KEYS[4] wake list      {ns}:wake:<q>
-- KEYS[5] queue names    {ns}:queues
-- KEYS[6] job record     {ns}:job:<id>   (with ARGV[4])
-- KEYS[7] job's done list {ns}:done:<id> (with ARGV[4])
-- ARGV[1] job id
-- ARGV[2] payload to enqueue (a fresh attempt 1)
-- ARGV[3] queue name
-- ARGV[4] seconds the record of a tracked job lives while it waits again, or "" for a job
--         without a record (ARGV[5..6] are then absent)
-- ARGV[5] enqueued_at of the fresh attempt (epoch seconds)
-- ARGV[6] task name
-- Returns 1, or 0 if the job was no longer in the dead set (someone else got there first).
-- A tracked job's record reads "queued" again at attempt 1, its end (and its done token,
-- so waiters on Queue.result wait again) forgotten.
-- @include _push

if redis.call('HDEL', KEYS[2], ARGV[1]) == 0 then
  return 0
end
redis.call('ZREM', KEYS[1], ARGV[1])
remember_queue(KEYS[5], ARGV[3])
push_job(KEYS[3], KEYS[4], ARGV[2])
if (ARGV[4] or '') ~= '' then
  redis.call('HDEL', KEYS[6], 'started_at', 'finished_at', 'error', 'result', 'due')
  redis.call('HSET', KEYS[6], 'status', 'queued', 'attempt', '1', 'enqueued_at', ARGV[5],
    'queue', ARGV[3], 'task', ARGV[6])
  redis.call('EXPIRE', KEYS[6], ARGV[4])
  redis.call('DEL', KEYS[7])
end
return 1
