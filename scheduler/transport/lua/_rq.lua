-- Fragment (not a script): RQ's structures, for a dispatch script that sends fires to RQ
-- (scheduler/targets/rq.py builds the fields). Included with "-- @include _rq".
--
-- rq_push(prefix, queue, id, shared, fields, ttl, due): write the job as rq's
--   Queue.enqueue_job does: the hash <prefix>:job:<id> (the job's shared fields, then this
--   fire's), its TTL when ttl > 0, the queue's key in <prefix>:queues, and the id at the
--   tail of <prefix>:queue:<queue>; or, when due > 0 (epoch seconds), in
--   <prefix>:scheduled:<queue> scored by due, for `rq worker --with-scheduler`.

local function rq_push(prefix, queue, id, shared, fields, ttl, due)
  local job_key = prefix .. ':job:' .. id
  redis.call('HSET', job_key, unpack(shared))
  redis.call('HSET', job_key, unpack(fields))
  if ttl > 0 then
    redis.call('EXPIRE', job_key, ttl)
  end
  local queue_key = prefix .. ':queue:' .. queue
  redis.call('SADD', prefix .. ':queues', queue_key)
  if due == 0 then
    redis.call('RPUSH', queue_key, id)
  else
    redis.call('ZADD', prefix .. ':scheduled:' .. queue, due, id)
  end
end
