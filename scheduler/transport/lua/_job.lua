-- Fragment (not a script): the record of a tracked job (enqueued with result_ttl), which
-- the enqueue script writes and the settle and cancel scripts end. Included with the line
-- "-- @include _job" (see scheduler/scripts.py).
--
-- record_end(record, done, over, ttl, status, result, err, finished_at): write how an
--   attempt ended in the job record `record`; when the run is `over`, keep the record
--   `ttl` seconds more and leave one token in the done list `done` (waiters rotate it with
--   BLMOVE, so every waiter sees it). An attempt that is not the last writes only into a
--   record that still exists (it keeps the lifetime it has).

local function record_end(record, done, over, ttl, status, result, err, finished_at)
  if not over and redis.call('EXISTS', record) == 0 then
    return
  end
  redis.call('HSET', record, 'status', status, 'finished_at', finished_at, 'error', err)
  if result ~= '' then
    redis.call('HSET', record, 'result', result)
  end
  if over then
    redis.call('EXPIRE', record, ttl)
    redis.call('DEL', done)
    redis.call('RPUSH', done, '1')
    redis.call('EXPIRE', done, ttl)
  end
end
