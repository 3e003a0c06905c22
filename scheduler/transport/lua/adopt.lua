-- adopt: a new leader records where each job of its schedule stands, fenced.
-- KEYS[1] lease            {ns}:lease
-- then per job i (0-based): KEYS[2 + i] state  {ns}:state:<job>
-- ARGV[1] holder id, ARGV[2] epoch
-- then per job: new watermark ("" = keep the stored one), definition digest ("" = keep)
-- Returns "NOT_LEADER", or the number of jobs whose watermark was set.
-- Each state key is made persistent again (a job back in the file keeps its history).
-- Jobs whose state needs none of this are left out by the caller (read_states.lua).
-- @include _lease

if not held_lease(KEYS[1], ARGV[1], ARGV[2]) then
  return 'NOT_LEADER'
end
local set = 0
for i = 2, #KEYS do
  local watermark, digest = ARGV[1 + 2 * (i - 1)], ARGV[2 + 2 * (i - 1)]
  if watermark ~= '' then
    redis.call('HSET', KEYS[i], 'watermark', watermark)
    set = set + 1
  end
  if digest ~= '' then
    redis.call('HSET', KEYS[i], 'digest', digest)
  end
  redis.call('PERSIST', KEYS[i])
end
return set
