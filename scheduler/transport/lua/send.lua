-- send: a run of a target's job triggered by hand, outside its schedule (no watermark).
-- KEYS[1] .. KEYS[n] the keys the writes touch, in order (the writes name them again)
-- ARGV[1] the writes, JSON: [[position of a word in ARGV, ...], ...] (see _send.lua)
-- ARGV[2...] their words
-- Returns 1.
-- @include _send

send_writes(cjson.decode(ARGV[1]))
return 1
