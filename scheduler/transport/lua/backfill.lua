-- backfill: enqueue fires of the past that were never enqueued, each at most once.
-- KEYS[1] state          {ns}:state:<job>   HASH watermark, fired_since (see dispatch.lua)
-- KEYS[2] fired          {ns}:fired:<job>   ZSET stretches of enqueued fires (see _fired)
-- KEYS[3] queue list     {ns}:queue:<q>
-- KEYS[4] wake list      {ns}:wake:<q>
-- KEYS[5] queue names    {ns}:queues
-- ARGV[1] "1" for a dry run (classify only), "0" to enqueue
-- ARGV[2] now (epoch seconds): the horizon when the job has no watermark yet
-- ARGV[3] queue name, or "" for a job of another target (Celery...): each payload is then
--   the fire's writes, JSON (see _send.lua; docs/targets.md), and KEYS[3..5] are not used
-- ARGV[4] the rule's tag, ARGV[5] after: the rule has no fire in (after, first fire)
-- ARGV[6] how many stretches of enqueued fires to keep per job
-- ARGV[7] how many fires follow
-- then per fire, in order (consecutive fires of the rule): fire instant, payload JSON;
--   then the words of the writes of another target's fires
-- Returns one character per fire: "e" enqueued (or would be, in a dry run), "a" already
--   enqueued, "p" pending (after the watermark: the dispatcher enqueues it, by its misfire
--   policy), "u" unknown (older than the fired record keeps, or within a stretch another
--   rule of the job enqueued: refused rather than risk a second run).
-- The dispatcher never enqueues a fire at or before the watermark, and every enqueue of
-- either is recorded in `fired`, so the two never enqueue the same fire.
-- @include _push
-- @include _fired
-- @include _send

local dry, tag, keep = ARGV[1] == '1', ARGV[4], tonumber(ARGV[6])
local watermark = tonumber(redis.call('HGET', KEYS[1], 'watermark') or '') or tonumber(ARGV[2])
local since = tonumber(redis.call('HGET', KEYS[1], 'fired_since') or '') or -1e18
local codes, prev, run_lo = {}, tonumber(ARGV[5]), nil
local function close_run()
  if run_lo and not dry then
    fired_cover(KEYS[2], run_lo, prev, tag)
    since = fired_trim(KEYS[2], KEYS[1], keep) or since
  end
  run_lo = nil
end
for i = 8, 7 + 2 * tonumber(ARGV[7]), 2 do
  local at, payload = tonumber(ARGV[i]), ARGV[i + 1]
  local code
  if at > watermark then
    code = 'p'
  elseif at <= since then
    code = 'u'
  else
    local held = fired_holds(KEYS[2], at, tag)
    if held == nil then
      code = 'e'
      if not dry then
        if ARGV[3] == '' then
          send_writes(cjson.decode(payload))
        else
          remember_queue(KEYS[5], ARGV[3])
          push_job(KEYS[3], KEYS[4], payload)
        end
      end
    else
      code = held and 'a' or 'u'
    end
  end
  if code == 'a' or code == 'e' then
    run_lo = run_lo or prev
  else
    close_run()
  end
  prev = at
  table.insert(codes, code)
end
close_run()
return table.concat(codes)
