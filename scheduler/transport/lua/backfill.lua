-- backfill: enqueue fires of the past that were never enqueued, each at most once.
-- KEYS[1] state          {ns}:state:<job>   HASH watermark, fired_since (see dispatch.lua)
-- KEYS[2] fired          {ns}:fired:<job>   ZSET fire instants enqueued
-- KEYS[3] queue list     {ns}:queue:<q>
-- KEYS[4] wake list      {ns}:wake:<q>
-- KEYS[5] queue names    {ns}:queues
-- ARGV[1] "1" for a dry run (classify only), "0" to enqueue
-- ARGV[2] now (epoch seconds): the horizon when the job has no watermark yet
-- ARGV[3] queue name, or "" for a job of another target (Celery...): each payload is then
--   the fire's writes, JSON [[command, key, arguments...], ...] (docs/targets.md), and
--   KEYS[3..5] are not used
-- then per fire, in order: fire instant, payload JSON
-- Returns one character per fire: "e" enqueued (or would be, in a dry run), "a" already
--   enqueued, "p" pending (after the watermark: the dispatcher enqueues it, by its misfire
--   policy), "u" unknown (older than the fired record keeps: refused rather than risk a
--   second run).
-- The dispatcher never enqueues a fire at or before the watermark, and every enqueue of
-- either adds the fire to `fired`, so the two never enqueue the same fire.
-- @include _push
-- @include _send

local dry = ARGV[1] == '1'
local watermark = tonumber(redis.call('HGET', KEYS[1], 'watermark') or ARGV[2])
local since = tonumber(redis.call('HGET', KEYS[1], 'fired_since') or '-1e18')
local codes = {}
for i = 4, #ARGV, 2 do
  local at, payload = tonumber(ARGV[i]), ARGV[i + 1]
  local code
  if redis.call('ZSCORE', KEYS[2], ARGV[i]) then
    code = 'a'
  elseif at > watermark then
    code = 'p'
  elseif at <= since then
    code = 'u'
  else
    code = 'e'
    if not dry then
      if ARGV[3] == '' then
        send_writes(cjson.decode(payload))
      else
        remember_queue(KEYS[5], ARGV[3])
        push_job(KEYS[3], KEYS[4], payload)
      end
      redis.call('ZADD', KEYS[2], at, ARGV[i])
    end
  end
  table.insert(codes, code)
end
return table.concat(codes)
