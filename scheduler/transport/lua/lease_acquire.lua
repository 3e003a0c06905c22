-- lease_acquire: become the leader of a namespace, or renew if we already are.
-- KEYS[1] lease           {ns}:lease    STRING JSON {id, epoch, host, pid, since, client}
-- KEYS[2] epoch counter   {ns}:epoch    INT, grows with every new leader (fencing token)
-- KEYS[3] released list   {ns}:lease:released   token pushed when a leader steps down
-- ARGV[1] holder id (unique per process)
-- ARGV[2] holder info JSON {id, host, pid, client, server} (epoch and since are added here)
-- ARGV[3] lease time, milliseconds
-- ARGV[4] now, epoch seconds (the shared clock), stored as `since`
-- ARGV[5] the lease value we saw and may take over (its holder's connection is gone),
--         or "" to take the lease only when it is free
-- ARGV[6] the epoch floor: the highest epoch the caller has seen. The new epoch is above
--         it even when the counter is behind (a failover lost its last increments), so an
--         epoch never goes backwards while one scheduler that saw it is alive.
-- Returns {epoch, "acquired" | "renewed"} when we hold the lease, else {0, current value}.
-- A lease value that is not a JSON object is someone else's (it is taken only as ARGV[5]).
-- @include _lease

local current = redis.call('GET', KEYS[1])
if current then
  local lease = read_lease(current)
  if lease and lease.id == ARGV[1] then
    redis.call('PEXPIRE', KEYS[1], ARGV[3])
    return {lease.epoch, 'renewed'}
  end
  if ARGV[5] == '' or current ~= ARGV[5] then
    return {0, current}
  end
end
local epoch = redis.call('INCR', KEYS[2])
local floor = tonumber(ARGV[6]) or 0
if epoch <= floor then
  epoch = floor + 1
  redis.call('SET', KEYS[2], epoch)
end
local lease = cjson.decode(ARGV[2])
lease.epoch = epoch
lease.since = tonumber(ARGV[4])
redis.call('SET', KEYS[1], cjson.encode(lease), 'PX', ARGV[3])
redis.call('DEL', KEYS[3])
return {epoch, 'acquired'}
