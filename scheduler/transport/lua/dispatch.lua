-- dispatch: the leader enqueues due fires, each (job, fire time) at most once, fenced.
-- KEYS[1] lease            {ns}:lease
-- KEYS[2] paused           {ns}:paused       HASH job -> why/who/when
-- KEYS[3] queue names      {ns}:queues
-- then for each queue q the batch uses (numbered from 0): KEYS[4 + 3q .. 6 + 3q] =
--   {ns}:queue:<q> LIST, {ns}:wake:<q> LIST, {ns}:delayed:<q> ZSET (fires delayed by jitter)
-- ARGV[1] holder id, ARGV[2] epoch: the caller's lease; anything else is refused
-- ARGV[3] (unused: the enqueue time recorded is Redis TIME), ARGV[4] how many stretches
--   of enqueued fires to keep per job (see _fired)
-- ARGV[5] the namespace's key prefix "{ns}:"; each job's own keys are built from it and
--   share the namespace's hash slot:
--     {ns}:state:<job>   HASH watermark (last fire accounted for), enqueued_at (Redis
--                        TIME of the last enqueue), job_id, fired_since
--     {ns}:fired:<job>   ZSET stretches of enqueued fires (see _fired), newest kept
--     {ns}:active:<job>  STRING id of the run queued or running (overlap: skip)
--     {ns}:sent:<job>    STRING id of the last message sent to another target (overlap:
--                        skip; a key of its own, so that no stale id of it holds a job
--                        that becomes a task: job)
-- ARGV[6] the batch, JSON: [[job, queue number, new watermark, overlap skip (0/1),
--   [[fire instant, job id, payload (the index of the ARGV holding its JSON text),
--   due (0 = now, else epoch seconds)], ...],
--   after (the rule has no fire in (after, first fire)), rule tag, other target (0/1)],
--   ...]; the fires of an entry are consecutive fires of its rule. A job of another
--   target (Celery...) has other target 1, queue number -1, and in place of each payload
--   its writes (see _send.lua), run as they are (docs/targets.md): no queue of ours, no
--   wake-up; with overlap skip 1, a ninth element says where the target shows a run still
--   on (see _overlap).
-- ARGV[7] the names of the batch's queues, JSON list, in the order of their keys
-- ARGV[8...] the payloads and the words of the writes (kept out of the batch's JSON, which
--   would escape them)
-- Returns "NOT_LEADER" if the lease is not (holder id, epoch); otherwise one string with,
--   per job in batch order, "status enqueued duplicates overlap_skipped" joined by ";",
--   status 1, or 0 if the job is paused (nothing is changed for a paused job: its fires
--   stay due until it is resumed). One string, because a reply of 40,000 elements costs
--   the caller more to parse than the whole enqueue.
-- @include _push
-- @include _lease
-- @include _fired
-- @include _send
-- @include _overlap

if not held_lease(KEYS[1], ARGV[1], ARGV[2]) then
  return 'NOT_LEADER'
end

local keep, prefix = tonumber(ARGV[4]), ARGV[5]
local time = redis.call('TIME')
local now = time[1] .. '.' .. string.format('%06d', tonumber(time[2]))
local queue_names = cjson.decode(ARGV[7])
local paused = {}
for _, name in ipairs(redis.call('HKEYS', KEYS[2])) do
  paused[name] = true
end
local used, pushed = {}, {}  -- per queue number: any fire enqueued; jobs pushed (to wake)
local results = {}
for _, entry in ipairs(cjson.decode(ARGV[6])) do
  local name, q, watermark, fires = entry[1], entry[2], entry[3], entry[5]
  local overlap_skip, target = entry[4] == 1, entry[8] == 1
  local state = prefix .. 'state:' .. name
  local fired = prefix .. 'fired:' .. name
  local active = prefix .. (target and 'sent:' or 'active:') .. name
  local queue_key, delayed_key = KEYS[4 + 3 * q], KEYS[6 + 3 * q]
  if paused[name] then
    table.insert(results, '0 0 0 0')
  else
    local mark = tonumber(redis.call('HGET', state, 'watermark') or '-1e18')
    local enqueued, duplicates, skipped, last_id = 0, 0, 0, nil
    local prev, tag, run_lo = entry[6], entry[7], nil  -- run_lo: a stretch being enqueued
    for _, fire in ipairs(fires) do
      local at, id, payload, due = fire[1], fire[2], fire[3], fire[4]
      local went = false
      if at <= mark then
        duplicates = duplicates + 1
      elseif overlap_skip and run_active(active, entry[9]) then
        skipped = skipped + 1
      else
        if target then
          send_writes(payload)
        elseif due == 0 then
          redis.call('LPUSH', queue_key, ARGV[payload])
          pushed[q] = (pushed[q] or 0) + 1
        else
          delay_job(delayed_key, due, ARGV[payload])
        end
        if overlap_skip then
          redis.call('SET', active, id)
        end
        enqueued, last_id, went = enqueued + 1, id, true
      end
      if went then
        run_lo = run_lo or prev
      elseif run_lo then
        fired_cover(fired, run_lo, prev, tag)
        run_lo = nil
      end
      prev = at
    end
    if run_lo then
      fired_cover(fired, run_lo, prev, tag)
    end
    local fields = {}
    if enqueued > 0 then
      if not target then
        used[q] = true
      end
      fields = {'enqueued_at', now, 'job_id', last_id}
    end
    if watermark > mark then
      table.insert(fields, 'watermark')
      table.insert(fields, string.format('%d', watermark))
    end
    if #fields > 0 then
      redis.call('HSET', state, unpack(fields))
    end
    if enqueued > 0 then
      fired_trim(fired, state, keep)
    end
    table.insert(results, '1 ' .. enqueued .. ' ' .. duplicates .. ' ' .. skipped)
  end
end
for q in pairs(used) do
  remember_queue(KEYS[3], queue_names[q + 1])
end
for q, count in pairs(pushed) do
  wake_many(KEYS[5 + 3 * q], count)
end
return table.concat(results, ';')
