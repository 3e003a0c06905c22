-- enqueue: put one new job on its queue, or in its queue's delayed set.
-- KEYS[1] queue list      {ns}:queue:<q>
-- KEYS[2] wake list       {ns}:wake:<q>
-- KEYS[3] delayed zset    {ns}:delayed:<q>
-- KEYS[4] queue names     {ns}:queues
-- ARGV[1] payload JSON
-- ARGV[2] queue name
-- ARGV[3] due: epoch seconds, or "" to run now
-- Returns 1.
-- @include _push

remember_queue(KEYS[4], ARGV[2])
if ARGV[3] == '' then
  push_job(KEYS[1], KEYS[2], ARGV[1])
else
  delay_job(KEYS[3], ARGV[3], ARGV[1])
end
return 1
