-- read_states: where each job of a schedule stands, for a new leader (reads only).
-- KEYS[1], KEYS[2], ...  each job's state  {ns}:state:<job>
-- ARGV[1]: none (the script only reads)
-- Returns, per job i, three values at 3i - 2 .. 3i: its watermark and definition digest
-- ("" when missing), and 1 if its state key is due to expire (the job had left the
-- file), else 0.

local out = {}
for i = 1, #KEYS do
  local state = redis.call('HMGET', KEYS[i], 'watermark', 'digest')
  out[#out + 1] = state[1] or ''
  out[#out + 1] = state[2] or ''
  out[#out + 1] = redis.call('PTTL', KEYS[i]) >= 0 and 1 or 0
end
return out
