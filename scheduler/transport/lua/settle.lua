-- settle: end one fetched job that needs more than an acknowledgement: retry it later,
-- bury it in the dead set, record the outcome of a tracked job (docs/api.md, job status),
-- free its unique key, and/or record the last outcome of its schedule job.
-- KEYS[1] in-progress list   {ns}:worker:<id>:jobs:<q> (the job is removed from it)
-- KEYS[2] delayed zset       {ns}:delayed:<q>          (retry)
-- KEYS[3] dead zset          {ns}:dead
-- KEYS[4] dead hash          {ns}:dead:jobs
-- KEYS[5] job record         {ns}:job:<id>             (with ARGV[8])
-- KEYS[6] job's done list    {ns}:done:<id>            (with ARGV[8])
-- KEYS[7] unique marker      {ns}:unique:<key>         (with ARGV[9])
-- KEYS[8] cancel flag        {ns}:cancel:<id>          (deleted when the run is over)
-- KEYS[9] last outcome hash  {ns}:last:<job>           (only for a schedule job's run)
-- KEYS[10] active marker     {ns}:active:<job>         (only for a schedule job's run)
-- KEYS[11] the job's runs    {ns}:runs:<job>           (only for a schedule job's run)
-- KEYS[12] all jobs' runs    {ns}:runs                 (only for a schedule job's run)
-- KEYS[13] held hash         {ns}:held                 (only for a schedule job's run)
-- ARGV[1] payload as fetched
-- ARGV[2] action: "ack" (done, dropped or cancelled), "retry" or "dead"
-- ARGV[3] retry payload, or dead record (JSON); "" for ack
-- ARGV[4] retry due time, or time of death (epoch seconds)
-- ARGV[5] job id
-- ARGV[6] dead set cap
-- ARGV[7] "1" if the run is over (not retried): free its unique key and cancel flag, and
--         release the active marker if it is ours and no thread of the run still runs
-- ARGV[8] seconds the job record and done list live once the run is over, or "" for a job
--         without a record
-- ARGV[9] "1" if the job holds the unique marker KEYS[7] (freed if it still names the job)
-- ARGV[10] the record's status: succeeded, failed, dead, cancelled or expired
-- ARGV[11] the JSON return value kept in the record, or ""
-- ARGV[12] the record's error, or ""
-- ARGV[13] finished_at (epoch seconds)
-- ARGV[14] the run as JSON, pushed on KEYS[11] and KEYS[12] (each trimmed to the newest
--         50, and the error of the run pushed out of the newest 5 cut to the first 60
--         bytes of its first line), or "" (with KEYS[9])
-- ARGV[15] "" if the attempt's thread has ended, else its held field "<run id> <attempt>
--         <worker id>": settled at its timeout, it still runs (with KEYS[9])
-- ARGV[16] the schedule job's name (with KEYS[9])
-- ARGV[17], ... last outcome field/value pairs (with KEYS[9])
-- Returns 1, or 0 if the payload was no longer in the in-progress list: the worker had
-- been presumed dead and the job put back in its queue, so nothing else is done.
-- @include _push
-- @include _held
-- @include _job

local RUNS_KEPT, RUNS_IN_FULL, SHORT_ERROR = 50, 5, 60

-- The run at ``index`` of list ``runs`` keeps only the start of its error's first line:
-- a list of failing runs stays small, and the newest errors are read in full.
local function shorten_error(runs, index)
  local raw = redis.call('LINDEX', runs, index)
  if not raw then
    return
  end
  local ok, run = pcall(cjson.decode, raw)
  if not ok or type(run) ~= 'table' or type(run.error) ~= 'string' then
    return
  end
  local line = string.match(run.error, '^[^\r\n]*')
  if #line > SHORT_ERROR then
    local cut = SHORT_ERROR
    local byte = line:byte(cut + 1)
    while cut > 0 and byte >= 128 and byte < 192 do  -- not inside a UTF-8 character
      byte = line:byte(cut)
      cut = cut - 1
    end
    line = line:sub(1, cut) .. '\226\128\166'  -- an ellipsis
  end
  if line ~= run.error then
    run.error = line
    redis.call('LSET', runs, index, cjson.encode(run))
  end
end

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
local over = ARGV[7] == '1'
if ARGV[8] ~= '' then
  record_end(KEYS[5], KEYS[6], over, ARGV[8], ARGV[10], ARGV[11], ARGV[12], ARGV[13])
end
if over then
  if ARGV[9] == '1' then
    release_marker(KEYS[7], ARGV[5])
  end
  redis.call('DEL', KEYS[8])
end
if KEYS[9] then
  if #ARGV >= 18 then
    redis.call('HSET', KEYS[9], unpack(ARGV, 17))
  end
  if ARGV[14] ~= '' then
    for _, runs in ipairs({KEYS[11], KEYS[12]}) do
      redis.call('LPUSH', runs, ARGV[14])
      redis.call('LTRIM', runs, 0, RUNS_KEPT - 1)
      shorten_error(runs, RUNS_IN_FULL)
    end
  end
  if ARGV[15] ~= '' then
    redis.call('HSET', KEYS[13], ARGV[15], 'open ' .. ARGV[16])
  end
  if over then
    run_over(KEYS[13], KEYS[10], ARGV[5])
  end
end
return 1
