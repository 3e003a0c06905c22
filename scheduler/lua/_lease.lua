-- Fragment (not a script): scripts that act only for the current leader include it with
-- the line "-- @include _lease".
--
-- held_lease(lease_key, holder_id, epoch): the decoded lease if it exists and names this
--   holder and epoch (the fencing check), else nil.

local function held_lease(lease_key, holder_id, epoch)
  local current = redis.call('GET', lease_key)
  if not current then
    return nil
  end
  local lease = cjson.decode(current)
  if lease.id ~= holder_id or lease.epoch ~= tonumber(epoch) then
    return nil
  end
  return lease
end
