-- lease_renew: extend our lease, only if it is still ours (compare-and-set).
-- KEYS[1] lease           {ns}:lease
-- ARGV[1] holder id
-- ARGV[2] epoch we were given
-- ARGV[3] lease time, milliseconds
-- ARGV[4] id of our Redis connection now (it changes when we reconnect)
-- ARGV[5] run id of the server we talk to (it changes after a failover): a connection
--         id means something only on the server that gave it
-- Returns 1 if renewed, 0 if the lease is gone or someone else's.
-- @include _lease

local lease = held_lease(KEYS[1], ARGV[1], ARGV[2])
if not lease then
  return 0
end
if tostring(lease.client) ~= ARGV[4] or lease.server ~= ARGV[5] then
  lease.client = tonumber(ARGV[4])
  lease.server = ARGV[5]
  redis.call('SET', KEYS[1], cjson.encode(lease), 'PX', ARGV[3])
else
  redis.call('PEXPIRE', KEYS[1], ARGV[3])
end
return 1
