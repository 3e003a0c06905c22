-- cancel: take one waiting or delayed job off its queue, if it is still there, and end it
-- as cancelled: its record, its unique key and its schedule job's active marker.
-- KEYS[1] queue list or delayed zset where the payload was seen  {ns}:queue:<q> / delayed:<q>
-- KEYS[2] job record         {ns}:job:<id>       (with ARGV[4])
-- KEYS[3] job's done list    {ns}:done:<id>      (with ARGV[4])
-- KEYS[4] unique marker      {ns}:unique:<key>   (with ARGV[5])
-- KEYS[5] active marker      {ns}:active:<job>   (with ARGV[6])
-- KEYS[6] held hash          {ns}:held           (with ARGV[6])
-- ARGV[1] "list" or "delayed": the type of KEYS[1]
-- ARGV[2] payload, exactly as stored
-- ARGV[3] job id
-- ARGV[4] seconds the cancelled job's record lives, or "" for a job without a record
-- ARGV[5] "1" if the job holds the unique marker KEYS[4]
-- ARGV[6] "1" if the job is a schedule job's run (its active marker may be released)
-- ARGV[7] now, epoch seconds
-- Returns 1 if the job was removed, 0 if the payload was no longer there (a worker took it,
-- or it was promoted from the delayed set: look again).
-- @include _held
-- @include _job

local removed
if ARGV[1] == 'list' then
  removed = redis.call('LREM', KEYS[1], 1, ARGV[2])
else
  removed = redis.call('ZREM', KEYS[1], ARGV[2])
end
if removed == 0 then
  return 0
end
if ARGV[4] ~= '' then
  record_end(KEYS[2], KEYS[3], true, ARGV[4], 'cancelled', '', '', ARGV[7])
end
if ARGV[5] == '1' then
  release_marker(KEYS[4], ARGV[3])
end
if ARGV[6] == '1' then
  run_over(KEYS[6], KEYS[5], ARGV[3])
end
return 1
