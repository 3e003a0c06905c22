-- Fragment (not a script): is the previous run of a job with `overlap: skip` still queued
-- or running? Included by dispatch.lua with the line "-- @include _overlap".
--
-- run_active(active, probe): `active` is the job's marker.
--   probe nil, a job of ours: the marker {ns}:active:<job> exists (our worker deletes it
--   when the run ends).
--   For another target (docs/targets.md) the marker {ns}:sent:<job> keeps the id of the
--   last message sent and the probe says where the target's own record of it shows the
--   run still on:
--   {"status", key prefix, status...}: the hash <key prefix><id> has one of these statuses
--     (RQ's job hash);
--   {"held", hash...}: one of these hashes still holds the id (Dramatiq keeps a message in
--     its queue's .msgs hash until the worker acks it).

local function run_active(active, probe)
  if probe == nil then
    return redis.call('EXISTS', active) == 1
  end
  local id = redis.call('GET', active)
  if not id then
    return false
  end
  if probe[1] == 'status' then
    local status = redis.call('HGET', probe[2] .. id, 'status')
    for i = 3, #probe do
      if status == probe[i] then
        return true
      end
    end
    return false
  end
  for i = 2, #probe do
    if redis.call('HEXISTS', probe[i], id) == 1 then
      return true
    end
  end
  return false
end
