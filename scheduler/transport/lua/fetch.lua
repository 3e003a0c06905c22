-- fetch: one round trip of a worker: acknowledge finished jobs, promote due delayed jobs,
-- and move up to ARGV[3] jobs from its queues, in strict priority order, into its
-- in-progress lists (reliable fetch: a job is always in exactly one list).
-- KEYS[1]           workers zset            {ns}:workers
-- KEYS[2]           the worker's wake list  {ns}:worker:<id>:wake (emptied: we are awake)
-- then for each queue i = 1..n, in priority order, four keys at 2 + 4(i-1) + 1..4:
--                   queue list              {ns}:queue:<q>
--                   delayed zset            {ns}:delayed:<q>
--                   in-progress list        {ns}:worker:<id>:jobs:<q>
--                   wake list               {ns}:wake:<q>
-- KEYS[#KEYS - 1]   this minute's counter of runs ended   {ns}:stats:processed:<minute>
-- KEYS[#KEYS]       this minute's counter of runs failed  {ns}:stats:failed:<minute>
-- ARGV[1]           worker id
-- ARGV[2]           now, epoch seconds (Redis clock, passed in so tests can drive time)
-- ARGV[3]           how many jobs to take at most (0: only acknowledge and promote)
-- ARGV[4]           how many due delayed jobs to promote per queue at most
-- ARGV[5]           runs ended since the last call, added to KEYS[#KEYS - 1] (2 h TTL)
-- ARGV[6]           of which failed (retried or dead), added to KEYS[#KEYS] (2 h TTL)
-- ARGV[7], ...      acknowledgements: pairs of (queue index i, payload as fetched)
-- Returns {status, next_due, i1, payload1, i2, payload2, ...}: status 1, or 0 when the
-- worker is not registered (acknowledgements applied, nothing taken: register and retry);
-- next_due is the earliest due time among the queues' delayed jobs, or "" if none.
-- A queue left empty loses its wake tokens; one left with jobs gets one, which wakes
-- the next idle worker (enqueue leaves a token only when a queue was empty).
-- @include _push

for a = 7, #ARGV, 2 do
  redis.call('LREM', KEYS[2 + 4 * (tonumber(ARGV[a]) - 1) + 3], -1, ARGV[a + 1])
end
for s = 0, 1 do
  local count = tonumber(ARGV[5 + s])
  if count > 0 and redis.call('INCRBY', KEYS[#KEYS - 1 + s], count) == count then
    redis.call('EXPIRE', KEYS[#KEYS - 1 + s], 7200)
  end
end
redis.call('DEL', KEYS[2])
if not redis.call('ZSCORE', KEYS[1], ARGV[1]) then
  return {0, ''}
end

local now = tonumber(ARGV[2])
local limit = tonumber(ARGV[3])
local batch = tonumber(ARGV[4])
local out = {1, ''}
local taken = 0
local next_due = nil
for base = 2, #KEYS - 3, 4 do
  local queue, delayed, jobs, wake_key = KEYS[base + 1], KEYS[base + 2], KEYS[base + 3], KEYS[base + 4]
  for _, payload in ipairs(redis.call('ZRANGEBYSCORE', delayed, '-inf', now, 'LIMIT', 0, batch)) do
    redis.call('ZREM', delayed, payload)
    push_job(queue, wake_key, payload)
  end
  while taken < limit do
    local payload = redis.call('LMOVE', queue, jobs, 'RIGHT', 'LEFT')
    if not payload then break end
    taken = taken + 1
    out[#out + 1] = (base - 2) / 4 + 1
    out[#out + 1] = payload
  end
  if redis.call('LLEN', queue) == 0 then
    redis.call('DEL', wake_key)
  else
    wake(wake_key)  -- jobs left behind: an idle worker may take them
  end
  local first = redis.call('ZRANGE', delayed, 0, 0, 'WITHSCORES')
  if first[2] and (next_due == nil or tonumber(first[2]) < next_due) then
    next_due = tonumber(first[2])
  end
end
if next_due then
  out[2] = string.format('%.3f', next_due)
end
return out
