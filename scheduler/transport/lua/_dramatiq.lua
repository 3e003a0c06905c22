-- Fragment (not a script): dramatiq's Redis broker structures, for a dispatch script that
-- sends fires to Dramatiq (scheduler/targets/dramatiq.py encodes the message). Included
-- with "-- @include _dramatiq".
--
-- dramatiq_push(namespace, queue, id, message): what the broker's "enqueue" command does:
--   the message in the hash <namespace>:<queue>.msgs under id, and id at the tail of the
--   list <namespace>:<queue> (queue is "<q>.DQ", the delay queue, for a delayed fire).

local function dramatiq_push(namespace, queue, id, message)
  local queue_key = namespace .. ':' .. queue
  redis.call('HSET', queue_key .. '.msgs', id, message)
  redis.call('RPUSH', queue_key, id)
end
