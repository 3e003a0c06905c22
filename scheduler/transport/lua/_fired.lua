-- Fragment (not a script): a job's record of enqueued fires, {ns}:fired:<job>, included
-- by dispatch.lua and backfill.lua with the line "-- @include _fired".
--
-- The record is a ZSET of disjoint stretches of time (lo, hi], scored by hi. A stretch
-- says: every fire of one rule in (lo, hi] was enqueued. Its member is "<lo> <rule tag>"
-- (the tag names the rule whose fires it covers), or "<hi>" alone for a single instant
-- (lo = hi - 1), which holds for every rule; older versions wrote only such instants.
-- An instant in no stretch, after the job's fired_since, was never enqueued.
--
-- fired_holds(key, at, tag): true if a stretch covers `at` for rule `tag` (enqueued),
--   false if only a stretch of another rule covers it (unknown), nil if none (never).
-- fired_cover(key, lo, hi, tag): record that every fire of `tag` in (lo, hi] is enqueued;
--   stretches of the same rule it touches are merged into it, another rule's are cut.
-- fired_trim(key, state, keep): keep the newest `keep` stretches; the job's fired_since
--   (in its state hash) moves up to the end of the last one dropped. Returns it (nil if
--   nothing was dropped).

local function fired_bounds(member, score)
  local hi = tonumber(score)
  if hi == nil or hi ~= hi or hi == math.huge or hi == -math.huge then
    return nil
  end
  local lo, tag = string.match(member, '^(%-?%d+) (%S+)$')
  if lo == nil then
    return hi - 1, hi, nil
  end
  return tonumber(lo), hi, tag
end

local function fired_member(lo, hi, tag)
  if hi - lo > 1 then
    return string.format('%d', lo) .. ' ' .. tag
  end
  return string.format('%d', hi)
end

local function fired_add(key, lo, hi, tag)
  redis.call('ZADD', key, hi, fired_member(lo, hi, tag))
end

local function fired_holds(key, at, tag)
  local near = redis.call('ZRANGEBYSCORE', key, at, '+inf', 'WITHSCORES', 'LIMIT', 0, 1)
  if #near == 0 then
    return nil
  end
  local lo, _, owner = fired_bounds(near[1], near[2])
  if lo == nil or lo >= at then
    return nil
  end
  return owner == nil or owner == tag
end

local function fired_cover(key, lo, hi, tag)
  local new_lo, new_hi, drop, cuts, offset = lo, hi, {}, {}, 0
  while true do
    local near = redis.call('ZRANGEBYSCORE', key, lo, '+inf', 'WITHSCORES', 'LIMIT', offset, 16)
    local done = #near < 32
    for i = 1, #near, 2 do
      local a, b, owner = fired_bounds(near[i], near[i + 1])
      if a ~= nil and a > hi then
        done = true
        break
      end
      if a == nil then
        -- unreadable (written straight into Redis): left alone
      elseif owner == nil or owner == tag then
        table.insert(drop, near[i])
        new_lo, new_hi = math.min(new_lo, a), math.max(new_hi, b)
      elseif b > lo and a < hi then
        table.insert(drop, near[i])
        if a < lo then table.insert(cuts, {a, lo, owner}) end
        if b > hi then table.insert(cuts, {hi, b, owner}) end
      end
    end
    if done then
      break
    end
    offset = offset + 16
  end
  local kept = fired_member(new_lo, new_hi, tag)  -- usually the stretch it extends
  for i = #drop, 1, -1 do
    if drop[i] == kept then
      table.remove(drop, i)
    end
  end
  if #drop > 0 then
    redis.call('ZREM', key, unpack(drop))
  end
  for _, cut in ipairs(cuts) do
    fired_add(key, cut[1], cut[2], cut[3])
  end
  fired_add(key, new_lo, new_hi, tag)
end

local function fired_trim(key, state, keep)
  local extra = redis.call('ZCARD', key) - keep
  if extra > 0 then
    local cut = redis.call('ZRANGE', key, extra - 1, extra - 1, 'WITHSCORES')
    redis.call('ZREMRANGEBYRANK', key, 0, extra - 1)
    local since = tonumber(redis.call('HGET', state, 'fired_since') or '') or -1e18
    local hi = tonumber(cut[2])
    if hi ~= nil and hi == hi and hi > since and hi < math.huge then
      redis.call('HSET', state, 'fired_since', string.format('%d', hi))
      since = hi
    end
    return since
  end
  return nil
end
