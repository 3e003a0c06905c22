-- Fragment (not a script): scripts that write a target's message include it with the line
-- "-- @include _send" (see scheduler/transport/scripts.py).
--
-- send_writes(writes): run the writes of one fire of a target (docs/targets.md), each a
--   list {command, key, arguments...} made by the target's sender, in order. An argument
--   written {"bytes": text} is bytes (a pickled RQ field): JSON carries only text, so each
--   byte travels as the character of the same number, and bytes 128..255, which cjson
--   hands over as two UTF-8 bytes, are turned back into one here.

local function send_byte(lead, tail)
  return string.char((string.byte(lead) - 192) * 64 + string.byte(tail) - 128)
end

local function send_writes(writes)
  for _, write in ipairs(writes) do
    for i = 3, #write do
      if type(write[i]) == 'table' then
        write[i] = string.gsub(write[i].bytes, '([\194\195])([\128-\191])', send_byte)
      end
    end
    redis.call(unpack(write))
  end
end
