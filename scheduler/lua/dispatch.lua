-- dispatch: the leader enqueues due fires, each (job, fire time) at most once, fenced.
-- KEYS[1] lease            {ns}:lease
-- KEYS[2] paused           {ns}:paused       HASH job -> why/who/when
-- KEYS[3] queue names      {ns}:queues
-- then for each job i (0-based), 6 keys from 4 + 6*i:
--   state   {ns}:state:<job>   HASH watermark (last fire accounted for), enqueued_at, job_id
--   fired   {ns}:fired:<job>   ZSET fire instants enqueued (score = member), newest kept
--   active  {ns}:active:<job>  STRING id of the run queued or running (overlap: skip)
--   queue   {ns}:queue:<q>     LIST
--   wake    {ns}:wake:<q>      LIST
--   delayed {ns}:delayed:<q>   ZSET (fires delayed by jitter)
-- ARGV[1] holder id, ARGV[2] epoch: the caller's lease; anything else is refused
-- ARGV[3] now (epoch seconds), ARGV[4] how many fired instants to keep per job
-- then per job: name, queue, new watermark, overlap ("1" = skip), n fires,
--   then n times: fire instant, job id, payload JSON, due ("" = now, else epoch seconds)
-- Returns "NOT_LEADER" if the lease is not (holder id, epoch); otherwise, per job,
--   {status, enqueued, duplicates, overlap_skipped} with status 1, or 0 if it is paused
--   (nothing is changed for a paused job: its fires stay due until it is resumed).
-- @include _push

local current = redis.call('GET', KEYS[1])
if not current then
  return 'NOT_LEADER'
end
local lease = cjson.decode(current)
if lease.id ~= ARGV[1] or lease.epoch ~= tonumber(ARGV[2]) then
  return 'NOT_LEADER'
end

local now = ARGV[3]
local keep = tonumber(ARGV[4])
local results = {}
local a = 5
local job = 0
while a <= #ARGV do
  local name, queue, watermark = ARGV[a], ARGV[a + 1], ARGV[a + 2]
  local overlap_skip, n = ARGV[a + 3] == '1', tonumber(ARGV[a + 4])
  local k = 4 + 6 * job
  local state, fired, active = KEYS[k], KEYS[k + 1], KEYS[k + 2]
  local queue_key, wake_key, delayed_key = KEYS[k + 3], KEYS[k + 4], KEYS[k + 5]
  a = a + 5
  if redis.call('HEXISTS', KEYS[2], name) == 1 then
    table.insert(results, {0, 0, 0, 0})
  else
    local mark = tonumber(redis.call('HGET', state, 'watermark') or '-1e18')
    local enqueued, duplicates, skipped = 0, 0, 0
    for f = 1, n do
      local at, id, payload, due = tonumber(ARGV[a]), ARGV[a + 1], ARGV[a + 2], ARGV[a + 3]
      a = a + 4
      if at <= mark then
        duplicates = duplicates + 1
      elseif overlap_skip and redis.call('EXISTS', active) == 1 then
        skipped = skipped + 1
      else
        remember_queue(KEYS[3], queue)
        if due == '' then
          push_job(queue_key, wake_key, payload)
        else
          delay_job(delayed_key, due, payload)
        end
        if overlap_skip then
          redis.call('SET', active, id)
        end
        redis.call('ZADD', fired, at, at)
        redis.call('HSET', state, 'enqueued_at', now, 'job_id', id)
        enqueued = enqueued + 1
      end
    end
    if tonumber(watermark) > mark then
      redis.call('HSET', state, 'watermark', watermark)
    end
    if enqueued > 0 and redis.call('ZCARD', fired) > keep then
      local cut = redis.call('ZRANGE', fired, 0, 0 - keep - 1)
      redis.call('ZREMRANGEBYRANK', fired, 0, 0 - keep - 1)
      redis.call('HSET', state, 'fired_since', cut[#cut])
    end
    table.insert(results, {1, enqueued, duplicates, skipped})
  end
  job = job + 1
end
return results
