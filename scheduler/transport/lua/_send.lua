-- Fragment (not a script): scripts that write a target's message include it with the line
-- "-- @include _send" (see scheduler/transport/scripts.py).
--
-- send_writes(writes): run the writes of one fire of a target (docs/targets.md) in order.
--   Each write is a list of positions in ARGV holding its words {command, key,
--   arguments...} (scheduler/targets/base.py, pack_writes): the words, text or bytes,
--   travel as arguments of their own, and words shared by several writes once.

local function send_writes(writes)
  for _, write in ipairs(writes) do
    local command = {}
    for i, at in ipairs(write) do
      command[i] = ARGV[at]
    end
    redis.call(unpack(command))
  end
end
