-- put_back: return payloads from a worker's in-progress list to the tail of their queue
-- (so they run next), each only if it is still in the list. Used by a worker for the jobs
-- of a fetch whose reply it never received.
-- KEYS[1] in-progress list   {ns}:worker:<id>:jobs:<q>
-- KEYS[2] queue list         {ns}:queue:<q>
-- KEYS[3] wake list          {ns}:wake:<q>
-- ARGV[1] the namespace's key prefix "{ns}:" (the records {ns}:job:<id> of tracked jobs
--         read "queued" again)
-- ARGV[2], ... payloads, newest first
-- Returns how many payloads were put back.
-- @include _push
-- @include _job

local moved = 0
for i = 2, #ARGV do
  if redis.call('LREM', KEYS[1], -1, ARGV[i]) == 1 then
    put_back(KEYS[2], KEYS[3], ARGV[i])
    record_requeued(ARGV[1], ARGV[i])
    moved = moved + 1
  end
end
return moved
