-- retry_dead: take one job out of the dead set and put it on its queue again.
-- KEYS[1] dead zset      {ns}:dead
-- KEYS[2] dead hash      {ns}:dead:jobs
-- KEYS[3] queue list     {ns}:queue:<q>
-- KEYS[4] wake list      {ns}:wake:<q>
-- KEYS[5] queue names    {ns}:queues
-- ARGV[1] job id
-- ARGV[2] payload to enqueue (a fresh attempt 1)
-- ARGV[3] queue name
-- Returns 1, or 0 if the job was no longer in the dead set (someone else got there first).
-- @include _push

if redis.call('HDEL', KEYS[2], ARGV[1]) == 0 then
  return 0
end
redis.call('ZREM', KEYS[1], ARGV[1])
remember_queue(KEYS[5], ARGV[3])
push_job(KEYS[3], KEYS[4], ARGV[2])
return 1
