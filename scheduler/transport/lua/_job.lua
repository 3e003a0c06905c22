-- Fragment (not a script): the record of a tracked job (enqueued with result_ttl), which
-- the enqueue script writes, the settle and cancel scripts end, and the reap and put_back
-- scripts return to "queued". Included with the line "-- @include _job" (see
-- scheduler/scripts.py).
--
-- record_end(record, done, over, ttl, status, result, err, finished_at): write how an
--   attempt ended in the job record `record`; when the run is `over`, keep the record
--   `ttl` seconds more and leave one token in the done list `done` (waiters rotate it with
--   BLMOVE, so every waiter sees it). An attempt that is not the last writes only into a
--   record that still exists (it keeps the lifetime it has).
-- record_requeued(prefix, payload): a payload taken by a worker went back to its queue
--   (the worker died, stopped or never received it): if it is a tracked job whose record
--   `<prefix>job:<id>` says "running", make it say "queued" again. The attempt stays: the
--   same attempt runs again, as a job recovered from a dead worker does in Sidekiq and RQ.

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

local function record_requeued(prefix, payload)
  local ok, job = pcall(cjson.decode, payload)
  if not ok or type(job) ~= 'table' or type(job.id) ~= 'string'
      or type(job.result_ttl) ~= 'number' then
    return
  end
  local record = prefix .. 'job:' .. job.id
  if redis.call('HGET', record, 'status') == 'running' then
    redis.call('HSET', record, 'status', 'queued')
    redis.call('HDEL', record, 'started_at')
  end
end
