-- Fragment (not a script): scripts that act only for the current leader include it with
-- the line "-- @include _lease".
--
-- read_lease(value): the lease table of a lease value, or nil if the value is not a JSON
--   object (anyone who can write to Redis can put anything there).
-- held_lease(lease_key, holder_id, epoch): the decoded lease if it exists and names this
--   holder and epoch (the fencing check), else nil.

local function read_lease(value)
  local ok, lease = pcall(cjson.decode, value)
  if ok and type(lease) == 'table' then
    return lease
  end
  return nil
end

local function held_lease(lease_key, holder_id, epoch)
  local current = redis.call('GET', lease_key)
  if not current then
    return nil
  end
  local lease = read_lease(current)
  if not lease or lease.id ~= holder_id or lease.epoch ~= tonumber(epoch) then
    return nil
  end
  return lease
end
