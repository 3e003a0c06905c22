-- release: the abandoned thread of an attempt of a schedule job's run has ended (the run
-- was settled at its timeout, see _held): forget it, and delete the job's active marker if
-- the run is over, no other thread of it still runs and the marker still names it.
-- KEYS[1] held hash          {ns}:held
-- KEYS[2] active marker      {ns}:active:<job>
-- ARGV[1] held field         "<run id> <attempt> <worker id>"
-- ARGV[2] run id
-- Returns 1 if the marker was the run's to release (deleted if it still named the run),
-- else 0.
-- @include _held

if thread_ended(KEYS[1], ARGV[1]) then
  release_marker(KEYS[2], ARGV[2])
  return 1
end
return 0
