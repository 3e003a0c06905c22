-- lease_release: step down, only if the lease is still ours, and wake a standby at once.
-- KEYS[1] lease           {ns}:lease
-- KEYS[2] released list   {ns}:lease:released
-- ARGV[1] holder id
-- ARGV[2] epoch we were given
-- Returns 1 if released, 0 if it was not ours (nothing is changed then).
-- @include _lease

if not held_lease(KEYS[1], ARGV[1], ARGV[2]) then
  return 0
end
redis.call('DEL', KEYS[1])
redis.call('LPUSH', KEYS[2], '1')
redis.call('LTRIM', KEYS[2], 0, 0)
return 1
