-- Fragment (not a script): scripts that write a target's message include it with the line
-- "-- @include _send" (see scheduler/transport/scripts.py).
--
-- send_writes(writes): run the writes of one fire of a target (docs/targets.md), each a
--   list {command, key, arguments...} made by the target's sender, in order. An argument
--   that is a list of numbers is bytes (a pickled RQ field): JSON carries only text, so
--   each byte is sent as its value and the string rebuilt here.

local function send_bytes(values)
  local parts = {}
  for i = 1, #values, 4000 do
    parts[#parts + 1] = string.char(unpack(values, i, math.min(i + 3999, #values)))
  end
  return table.concat(parts)
end

local function send_writes(writes)
  for _, write in ipairs(writes) do
    for i = 3, #write do
      if type(write[i]) == 'table' then
        write[i] = send_bytes(write[i])
      end
    end
    redis.call(unpack(write))
  end
end
