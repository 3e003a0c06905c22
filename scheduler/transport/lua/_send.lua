-- Fragment (not a script): scripts that write a target's message include it with the line
-- "-- @include _send" (see scheduler/transport/scripts.py).
--
-- send_writes(writes): run the writes of one fire of a target (docs/targets.md), each a
--   list {command, key, arguments...} made by the target's sender, in order.

local function send_writes(writes)
  for _, write in ipairs(writes) do
    redis.call(unpack(write))
  end
end
