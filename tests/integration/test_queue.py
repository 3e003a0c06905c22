"""Queue.enqueue and the queue's admin reads, against a real redis-server."""

from __future__ import annotations

import json
import shutil
from datetime import datetime, timedelta, timezone

import pytest
import redis

from scheduler.clock import FakeClock
from scheduler.errors import PayloadError
from scheduler.jobs import PAYLOAD_VERSION
from scheduler.keys import Keys
from scheduler.queue import Queue
from tests.helpers import wait_until
from tests.redis_server import RedisServer

from .conftest import START


def stored(client: redis.Redis, key: str) -> list[dict[str, object]]:
    return [json.loads(raw) for raw in client.lrange(key, 0, -1)]


def test_enqueue_pushes_a_versioned_json_payload_and_returns_its_id(
    queue: Queue, client: redis.Redis
) -> None:
    job_id = queue.enqueue("tests.tasks:add", 1, 2, queue="mailers", retries=5, timeout=30, x=1)

    [payload] = stored(client, queue.keys.queue("mailers"))
    assert payload == {
        "v": PAYLOAD_VERSION,
        "id": job_id,
        "task": "tests.tasks:add",
        "args": [1, 2],
        "kwargs": {"x": 1},
        "queue": "mailers",
        "attempt": 1,
        "retries": 5,
        "enqueued_at": START,
        "timeout": 30,
    }
    assert len(job_id) == 32
    assert queue.depth("mailers") == 1
    assert client.llen(queue.keys.wake("mailers")) == 1


def test_every_key_is_in_the_namespace_braces(queue: Queue, client: redis.Redis) -> None:
    queue.enqueue("tests.tasks:noop")
    queue.enqueue("tests.tasks:noop", delay=5)
    keys = sorted(k.decode() for k in client.keys(f"*{queue.keys.namespace}*"))
    assert keys and all(k.startswith("{" + queue.keys.namespace + "}:") for k in keys)


def test_enqueue_takes_an_explicit_job_id(queue: Queue, client: redis.Redis) -> None:
    assert queue.enqueue("tests.tasks:noop", job_id="invoice-42") == "invoice-42"
    assert stored(client, queue.keys.queue("default"))[0]["id"] == "invoice-42"


def test_defaults_are_queue_default_and_three_retries(queue: Queue, client: redis.Redis) -> None:
    queue.enqueue("tests.tasks:noop")
    [payload] = stored(client, queue.keys.queue("default"))
    assert (payload["queue"], payload["retries"], payload["attempt"]) == ("default", 3, 1)
    assert "timeout" not in payload and "schedule" not in payload


def test_delay_parks_the_job_in_the_delayed_set_until_its_time(
    queue: Queue, client: redis.Redis
) -> None:
    job_id = queue.enqueue("tests.tasks:noop", delay=90)

    assert queue.depth() == 0
    [(raw, score)] = client.zrange(queue.keys.delayed("default"), 0, -1, withscores=True)
    assert json.loads(raw)["id"] == job_id
    assert score == START + 90
    assert queue.delayed_count() == 1


def test_at_takes_an_aware_datetime(queue: Queue, client: redis.Redis) -> None:
    at = datetime.fromtimestamp(START, timezone.utc) + timedelta(hours=1)
    queue.enqueue("tests.tasks:noop", at=at.astimezone(timezone(timedelta(hours=5))))
    [(_, score)] = client.zrange(queue.keys.delayed("default"), 0, -1, withscores=True)
    assert score == START + 3600


def test_at_in_the_past_runs_now(queue: Queue) -> None:
    queue.enqueue("tests.tasks:noop", at=datetime(2000, 1, 1, tzinfo=timezone.utc))
    assert (queue.depth(), queue.delayed_count()) == (1, 0)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"at": datetime(2030, 1, 1)}, "aware datetime"),
        ({"delay": 5, "at": datetime(2030, 1, 1, tzinfo=timezone.utc)}, "not both"),
        ({"delay": -1}, "delay= must be seconds >= 0"),
        ({"queue": "bad queue"}, "invalid queue name"),
        ({"queue": "{x}"}, "invalid queue name"),
        ({"retries": -1}, "retries must be"),
        ({"timeout": 0}, "timeout must be"),
        ({"job_id": "has space"}, "invalid job id"),
    ],
)
def test_invalid_enqueue_arguments_raise_and_enqueue_nothing(
    queue: Queue, client: redis.Redis, options: dict[str, object], message: str
) -> None:
    with pytest.raises(PayloadError, match=message):
        queue.enqueue("tests.tasks:noop", **options)  # type: ignore[arg-type]
    assert client.keys(f"*{queue.keys.namespace}*") == []


@pytest.mark.parametrize("task", ["tests.tasks", "tests.tasks:", "os.system", "a b:c", ":x"])
def test_a_task_must_be_module_colon_callable(queue: Queue, task: str) -> None:
    with pytest.raises(PayloadError, match=r"package\.module:callable"):
        queue.enqueue(task)


def test_arguments_must_be_json(queue: Queue) -> None:
    with pytest.raises(PayloadError, match="JSON"):
        queue.enqueue("tests.tasks:add", object())


def test_a_payload_a_worker_would_not_read_is_refused_at_enqueue(
    queue: Queue, client: redis.Redis
) -> None:
    with pytest.raises(PayloadError, match="over the limit of 1,048,576 \\(max_payload_bytes\\)"):
        queue.enqueue("tests.tasks:add", "x" * (1024 * 1024), "")
    deep: list[object] = []
    for _ in range(150):
        deep = [deep]
    with pytest.raises(PayloadError, match="nested deeper than 100 levels"):
        queue.enqueue("tests.tasks:add", deep, 1)
    small = Queue(client, queue.keys.namespace, queue.clock, max_payload_bytes=2048)
    with pytest.raises(PayloadError, match="over the limit of 2,048"), small.batch() as batch:
        batch.enqueue("tests.tasks:add", "x" * 2048, "")
    assert client.keys(f"*{queue.keys.namespace}*") == []


def test_batch_sends_every_job_in_one_go_and_returns_ids(queue: Queue, client: redis.Redis) -> None:
    with queue.batch() as batch:
        ids = [batch.enqueue("tests.tasks:add", i, i) for i in range(5)]
        later = batch.enqueue("tests.tasks:noop", delay=10)
        assert queue.depth() == 0
    assert queue.depth() == 5
    assert [p["id"] for p in reversed(stored(client, queue.keys.queue("default")))] == ids
    assert json.loads(client.zrange(queue.keys.delayed("default"), 0, 0)[0])["id"] == later


def test_a_batch_that_raises_sends_nothing(queue: Queue) -> None:
    with pytest.raises(RuntimeError), queue.batch() as batch:
        batch.enqueue("tests.tasks:noop")
        raise RuntimeError
    assert queue.depth() == 0


def test_queues_lists_the_depth_of_every_queue_enqueued_to(queue: Queue) -> None:
    queue.enqueue("tests.tasks:noop", queue="a")
    queue.enqueue("tests.tasks:noop", queue="a")
    queue.enqueue("tests.tasks:noop", queue="b", delay=5)
    assert queue.queues() == {"a": 2, "b": 0}


def test_namespaces_do_not_share_jobs(
    client: redis.Redis, clock: FakeClock, namespace: str
) -> None:
    one = Queue(client, namespace + "a", clock=clock)
    two = Queue(client, namespace + "b", clock=clock)
    one.enqueue("tests.tasks:noop")
    assert (one.depth(), two.depth()) == (1, 0)


def test_from_url_reads_the_environment(
    redis_url: str, namespace: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SCHEDULER_REDIS_URL", redis_url)
    monkeypatch.setenv("SCHEDULER_NAMESPACE", namespace)
    q = Queue.from_url()
    q.enqueue("tests.tasks:noop")
    assert q.keys.prefix == Keys(namespace).prefix
    assert q.depth() == 1
    q.client.close()


def test_scripts_survive_a_redis_restarted_empty(own_redis: RedisServer, clock: FakeClock) -> None:
    client = redis.Redis.from_url(own_redis.url)
    q = Queue(client, "restart", clock=clock)
    q.enqueue("tests.tasks:noop")
    client.script_flush()
    q.enqueue("tests.tasks:noop")
    assert q.depth() == 2
    own_redis.stop(kill=True)
    (own_redis.folder / "appendonly.aof").unlink(missing_ok=True)
    shutil.rmtree(own_redis.folder / "appendonlydir", ignore_errors=True)
    own_redis.start()
    q.enqueue("tests.tasks:noop")
    assert q.depth() == 1
    client.close()


def test_a_queue_used_as_a_context_manager_closes_its_connections(
    redis_url: str, namespace: str, client: redis.Redis
) -> None:
    with Queue.from_url(redis_url, namespace) as q:
        q.enqueue("tests.tasks:noop")
        own = str(q.client.client_id())
        assert own in {c["id"] for c in client.client_list()}
    wait_until(lambda: own not in {c["id"] for c in client.client_list()}, 5, "the close")
