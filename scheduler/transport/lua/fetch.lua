-- fetch: one round trip of a worker: acknowledge finished jobs, promote due delayed jobs,
-- and move up to ARGV[3] jobs from its queues that are not paused, in strict priority
-- order or by weight, into its in-progress lists (reliable fetch: a job is always in
-- exactly one list).
-- KEYS[1]           workers zset            {ns}:workers
-- KEYS[2]           the worker's wake list  {ns}:worker:<id>:wake (emptied: we are awake)
-- then for each queue i = 1..n, in priority order, four keys at 2 + 4(i-1) + 1..4:
--                   queue list              {ns}:queue:<q>
--                   delayed zset            {ns}:delayed:<q>
--                   in-progress list        {ns}:worker:<id>:jobs:<q>
--                   wake list               {ns}:wake:<q>
-- KEYS[#KEYS - 2]   paused queues set       {ns}:paused_queues (none taken from these)
-- KEYS[#KEYS - 1]   this minute's counter of runs ended   {ns}:stats:processed:<minute>
-- KEYS[#KEYS]       this minute's counter of runs failed  {ns}:stats:failed:<minute>
-- ARGV[1]           worker id
-- ARGV[2]           now, epoch seconds (Redis clock, passed in so tests can drive time)
-- ARGV[3]           how many jobs to take at most (0: only acknowledge and promote)
-- ARGV[4]           how many due delayed jobs to promote per queue at most
-- ARGV[5]           runs ended since the last call, added to KEYS[#KEYS - 1] (2 h TTL)
-- ARGV[6]           of which failed (retried or dead), added to KEYS[#KEYS] (2 h TTL)
-- ARGV[7]           weights "w1,w2,...", one per queue, or "" for strict priority order
-- ARGV[8]           the worker's credits "c1,c2,..." from the last call ("" at first)
-- ARGV[9], ...      acknowledgements: pairs of (queue index i, payload as fetched)
-- Returns {status, next_due, credits, i1, payload1, i2, payload2, ...}: status 1, or 0
-- when the worker is not registered (acknowledgements applied, nothing taken: register
-- and retry); next_due is the earliest due time among the queues' delayed jobs, or ""
-- if none; credits are the new credits to pass back ("" when strict).
-- Weighted: each job taken goes to the queue of highest credit among those with jobs
-- and not paused, after every such queue gains its weight and before the chosen one
-- loses their sum (smooth weighted round robin: a 5:1 pair takes 5 then 1 of every 6).
-- A queue left empty or paused loses its wake tokens; one left with jobs gets one, which
-- wakes the next idle worker (enqueue leaves a token only when a queue was empty).
-- @include _push

for a = 9, #ARGV, 2 do
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
  return {0, '', ARGV[8]}
end

local now = tonumber(ARGV[2])
local limit = tonumber(ARGV[3])
local batch = tonumber(ARGV[4])
local n = (#KEYS - 5) / 4
local out = {1, '', ''}
local taken = 0
local next_due = nil
local open = {}  -- queue index -> true: not paused and may hold jobs
local paused = {}  -- queue index -> true: paused
-- a queue's name follows "<prefix>queue:" in its key; the prefix is the paused set's
local name_at = #KEYS[#KEYS - 2] - #'paused_queues' + #'queue:' + 1

local function key(i, part)
  return KEYS[2 + 4 * (i - 1) + part]
end

local function numbers(text)
  local list = {}
  for v in string.gmatch(text, '[^,]+') do
    list[#list + 1] = tonumber(v)
  end
  return list
end

local function take(i)
  local payload = redis.call('LMOVE', key(i, 1), key(i, 3), 'RIGHT', 'LEFT')
  if not payload then
    open[i] = nil
    return false
  end
  taken = taken + 1
  out[#out + 1] = i
  out[#out + 1] = payload
  return true
end

local function take_weighted(weights, credits)
  while taken < limit do
    local best, total = nil, 0
    for i = 1, n do
      if open[i] then
        total = total + weights[i]
        if best == nil or credits[i] + weights[i] > credits[best] + weights[best] then
          best = i
        end
      end
    end
    if best == nil then break end
    if take(best) then
      for i = 1, n do
        if open[i] then credits[i] = credits[i] + weights[i] end
      end
      credits[best] = credits[best] - total
    end
  end
  out[3] = table.concat(credits, ',')
end

for i = 1, n do
  local delayed = key(i, 2)
  for _, payload in ipairs(redis.call('ZRANGEBYSCORE', delayed, '-inf', now, 'LIMIT', 0, batch)) do
    redis.call('ZREM', delayed, payload)
    push_job(key(i, 1), key(i, 4), payload)
  end
  paused[i] = redis.call('SISMEMBER', KEYS[#KEYS - 2], string.sub(key(i, 1), name_at)) == 1
  open[i] = not paused[i] or nil
  local first = redis.call('ZRANGE', delayed, 0, 0, 'WITHSCORES')
  if first[2] and (next_due == nil or tonumber(first[2]) < next_due) then
    next_due = tonumber(first[2])
  end
end

if ARGV[7] == '' then
  for i = 1, n do
    while open[i] and taken < limit do take(i) end
  end
else
  local weights, credits = numbers(ARGV[7]), numbers(ARGV[8])
  for i = 1, n do credits[i] = credits[i] or 0 end
  take_weighted(weights, credits)
end

for i = 1, n do
  if paused[i] or redis.call('LLEN', key(i, 1)) == 0 then
    redis.call('DEL', key(i, 4))
  else
    wake(key(i, 4))  -- jobs left behind: an idle worker may take them
  end
end
if next_due then
  out[2] = string.format('%.3f', next_due)
end
return out
