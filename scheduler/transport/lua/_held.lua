-- Fragment (not a script): the threads that still run an attempt of a schedule job's run
-- after the run was settled at its timeout (a sync task cannot be stopped). Until the last
-- of them ends, the job's active marker stays, so `overlap: skip` holds. Included with
-- the line "-- @include _held" (see scheduler/scripts.py).
--
-- The held hash {ns}:held maps "<run id> <attempt> <worker id>" to "open <job>" (another
-- attempt of the run may come) or "over <job>" (the run is over).
--
-- held_by(held, id): the fields of run `id`.
-- run_over(held, active, id): run `id` is over: delete its marker `active` (if it still
--   names the run) when no thread of it runs; else mark its fields "over", so the last
--   thread to end deletes it.
-- thread_ended(held, field): forget a thread (it ended, or its worker is gone); returns
--   the job whose marker it must release if it names the run, or nil.
-- release_marker(active, id): delete the marker `active` if it names run `id`.

local function held_by(held, id)
  local prefix, found = id .. ' ', {}
  for _, field in ipairs(redis.call('HKEYS', held)) do
    if string.sub(field, 1, #prefix) == prefix then
      table.insert(found, field)
    end
  end
  return found
end

local function release_marker(active, id)
  if redis.call('GET', active) == id then
    redis.call('DEL', active)
  end
end

local function run_over(held, active, id)
  local fields = held_by(held, id)
  if #fields == 0 then
    release_marker(active, id)
  end
  for _, field in ipairs(fields) do
    local job = string.match(redis.call('HGET', held, field) or '', '^%a+ (.+)$') or ''
    redis.call('HSET', held, field, 'over ' .. job)
  end
end

local function thread_ended(held, field)
  local value = redis.call('HGET', held, field)
  if not value then
    return nil
  end
  redis.call('HDEL', held, field)
  local state, job = string.match(value, '^(%a+) (.+)$')
  local id = string.match(field, '^(%S+) ')
  if state == 'over' and id and #held_by(held, id) == 0 then
    return job
  end
  return nil
end
