-- register: a worker's heartbeat; registers it (again) if it is not registered.
-- KEYS[1] workers zset   {ns}:workers
-- KEYS[2] worker hash    {ns}:worker:<id>
-- ARGV[1] worker id
-- ARGV[2] now, epoch seconds (Redis clock)
-- ARGV[3], ... worker hash field/value pairs (host, pid, queues, concurrency, started_at)
-- Returns 1 if the worker was registered already, 0 if this call registered it.

local added = redis.call('ZADD', KEYS[1], ARGV[2], ARGV[1])
if added == 1 or redis.call('EXISTS', KEYS[2]) == 0 then
  redis.call('HSET', KEYS[2], unpack(ARGV, 3))
end
return 1 - added
