-- settle: end one fetched job that needs more than an acknowledgement: retry it later,
-- bury it in the dead set, and/or record the last outcome of its schedule job.
-- KEYS[1] in-progress list   {ns}:worker:<id>:jobs:<q> (the job is removed from it)
-- KEYS[2] delayed zset       {ns}:delayed:<q>          (retry)
-- KEYS[3] dead zset          {ns}:dead
-- KEYS[4] dead hash          {ns}:dead:jobs
-- KEYS[5] last outcome hash  {ns}:last:<job>           (only for a schedule job's run)
-- KEYS[6] active marker      {ns}:active:<job>         (only for a schedule job's run)
-- KEYS[7] the job's runs     {ns}:runs:<job>           (only for a schedule job's run)
-- KEYS[8] all jobs' runs     {ns}:runs                 (only for a schedule job's run)
-- KEYS[9] held hash          {ns}:held                 (only for a schedule job's run)
-- ARGV[1] payload as fetched
-- ARGV[2] action: "ack" (done or dropped), "retry" or "dead"
-- ARGV[3] retry payload, or dead record (JSON); "" for ack
-- ARGV[4] retry due time, or time of death (epoch seconds)
-- ARGV[5] job id
-- ARGV[6] dead set cap
-- ARGV[7] "1" if the run is over (not retried): release the active marker if it is ours
--         and no thread of the run still runs (see _held)
-- ARGV[8] the run as JSON, pushed on KEYS[7] and KEYS[8] (each trimmed to the newest
--         50), or "" (with KEYS[5])
-- ARGV[9] "" if the attempt's thread has ended, else its held field "<run id> <attempt>
--         <worker id>": settled at its timeout, it still runs (with KEYS[5])
-- ARGV[10] the schedule job's name (with KEYS[5])
-- ARGV[11], ... last outcome field/value pairs (with KEYS[5])
-- Returns 1, or 0 if the payload was no longer in the in-progress list: the worker had
-- been presumed dead and the job put back in its queue, so nothing else is done.
-- @include _push
-- @include _held

if redis.call('LREM', KEYS[1], -1, ARGV[1]) == 0 then
  return 0
end
local action = ARGV[2]
if action == 'retry' then
  delay_job(KEYS[2], ARGV[4], ARGV[3])
elseif action == 'dead' then
  redis.call('ZADD', KEYS[3], ARGV[4], ARGV[5])
  redis.call('HSET', KEYS[4], ARGV[5], ARGV[3])
  local extra = redis.call('ZCARD', KEYS[3]) - tonumber(ARGV[6])
  while extra > 0 do
    local chunk = math.min(extra, 1000)
    local old = redis.call('ZRANGE', KEYS[3], 0, chunk - 1)
    redis.call('ZREMRANGEBYRANK', KEYS[3], 0, chunk - 1)
    redis.call('HDEL', KEYS[4], unpack(old))
    extra = extra - chunk
  end
end
if KEYS[5] then
  if #ARGV >= 12 then
    redis.call('HSET', KEYS[5], unpack(ARGV, 11))
  end
  if ARGV[8] ~= '' then
    for _, runs in ipairs({KEYS[7], KEYS[8]}) do
      redis.call('LPUSH', runs, ARGV[8])
      redis.call('LTRIM', runs, 0, 49)
    end
  end
  if ARGV[9] ~= '' then
    redis.call('HSET', KEYS[9], ARGV[9], 'open ' .. ARGV[10])
  end
  if ARGV[7] == '1' then
    run_over(KEYS[9], KEYS[6], ARGV[5])
  end
end
return 1
