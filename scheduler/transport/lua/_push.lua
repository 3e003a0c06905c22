-- Fragment (not a script): scripts that put payloads on queues include it with the line
-- "-- @include _push" (see scheduler/scripts.py). A dispatcher's enqueue script includes
-- it too, so every producer pushes the same way.
--
-- push_job(queue_key, wake_key, payload): append a payload to a queue (at the head;
--   workers take from the tail) and wake an idle worker.
-- put_back(queue_key, wake_key, payload): return a payload to the tail of its queue, so it
--   runs next, and wake an idle worker.
-- wake(wake_key): leave a wake-up token for an idle worker (at most 16 are kept).
--   A queue that already held jobs needs no token: a worker only waits after finding its
--   queues empty, and a fetch that leaves jobs behind leaves a token (fetch.lua).
-- wake_many(wake_key, n): leave n tokens at once, as n calls of wake would.
-- delay_job(delayed_key, due, payload): park a payload until epoch second `due`.
-- remember_queue(queues_key, name): record a queue name for `scheduler status`.

local function wake(wake_key)
  if redis.call('LPUSH', wake_key, '1') > 16 then
    redis.call('LTRIM', wake_key, 0, 15)
  end
end

local function wake_many(wake_key, n)
  local tokens = {}
  for i = 1, math.min(n, 16) do
    tokens[i] = '1'
  end
  if redis.call('LPUSH', wake_key, unpack(tokens)) > 16 then
    redis.call('LTRIM', wake_key, 0, 15)
  end
end

local function push_job(queue_key, wake_key, payload)
  redis.call('LPUSH', queue_key, payload)
  wake(wake_key)
end

local function put_back(queue_key, wake_key, payload)
  redis.call('RPUSH', queue_key, payload)
  wake(wake_key)
end

local function delay_job(delayed_key, due, payload)
  redis.call('ZADD', delayed_key, due, payload)
end

local function remember_queue(queues_key, name)
  redis.call('SADD', queues_key, name)
end
