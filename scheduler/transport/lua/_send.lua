-- Fragment (not a script): scripts that write a target's message include it with the line
-- "-- @include _send" (see scheduler/transport/scripts.py).
--
-- send_writes(writes): run the writes of one fire of a target (docs/targets.md), each a
--   list {command, key, arguments...} made by the target's sender, in order. An argument
--   written {"bytes": text} is bytes (a pickled RQ field): JSON carries only text, so each
--   byte travels as the character of the same number, and bytes 128..255, which cjson
--   hands over as two UTF-8 bytes, are turned back into one here.

local send_latin1 = {}
for byte = 128, 255 do
  send_latin1[string.char(192 + math.floor(byte / 64), 128 + byte % 64)] = string.char(byte)
end

local function send_writes(writes)
  for _, write in ipairs(writes) do
    for i = 3, #write do
      if type(write[i]) == 'table' then
        write[i] = string.gsub(write[i].bytes, '[\194\195][\128-\191]', send_latin1)
      end
    end
    redis.call(unpack(write))
  end
end
