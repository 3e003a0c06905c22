"""The dashboard through Starlette's TestClient against a real Redis, with an in-process
leader on a fake clock: pages, buttons, access token, CSRF, read-only, escaping."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import redis
from starlette.testclient import TestClient

from scheduler.clock import FakeClock
from scheduler.dispatch.leader import LeaseSettings
from scheduler.dispatch.runloop import RunLoop, RunSettings
from scheduler.errors import ResultUnavailable
from scheduler.jobs import build_payload, encode
from scheduler.keys import Keys
from scheduler.queue import Queue
from scheduler.schedule.watch import ScheduleFile
from scheduler.web import WebSettings, create_app
from tests import tasks

from .conftest import WorkerFactory

T0 = 1_767_225_600  # 2026-01-01T00:00:00Z
BASE = "http://127.0.0.1:8080"
HOSTILE = "<script>alert(1)</script>"

SCHEDULE = f"""\
jobs:
  minutely:
    task: tests.tasks:add
    every: 1m
    args: [1, "{HOSTILE}"]
    kwargs: {{note: "<img src=x onerror=alert(2)>"}}
  madrid-morning:
    task: tests.tasks:noop
    cron: "30 9 * * MON-FRI"
    timezone: Europe/Madrid
  switched-off:
    task: tests.tasks:noop
    every: 1h
    enabled: false
"""


@pytest.fixture
def client(redis_url: str) -> Iterator[redis.Redis]:
    with redis.Redis.from_url(redis_url) as c:
        yield c


@pytest.fixture
def keys(namespace: str) -> Keys:
    return Keys(namespace)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(T0 + 1)


@pytest.fixture
def leader(client: redis.Redis, keys: Keys, clock: FakeClock, tmp_path: Path) -> Iterator[RunLoop]:
    path = tmp_path / "schedule.yml"
    path.write_text(SCHEDULE)
    settings = RunSettings(lease=LeaseSettings(lease=300.0, renew_every=1.0, poll_every=0.25))
    loop = RunLoop(client, keys, clock, ScheduleFile(str(path)), settings)
    loop.step()
    yield loop
    loop.leadership.release()


Browser = Callable[..., TestClient]


@pytest.fixture
def browser(client: redis.Redis, keys: Keys, clock: FakeClock, leader: RunLoop) -> Browser:
    def make(base_url: str = BASE, **settings: object) -> TestClient:
        app = create_app(client, keys, clock, WebSettings(**settings))  # type: ignore[arg-type]
        return TestClient(app, base_url=base_url, follow_redirects=False)

    return make


def csrf_of(page: str) -> str:
    found = re.search(r'name="csrf" value="([0-9a-f]+)"', page)
    assert found, "no CSRF field on the page"
    return found.group(1)


def post(web: TestClient, path: str, form: dict[str, str], origin: str | None = BASE) -> int:
    headers = {"origin": origin} if origin else {}
    return web.post(path, data=form, headers=headers).status_code


def bury(client: redis.Redis, keys: Keys, job_id: str, at: float, **fields: object) -> None:
    """Put a dead job straight into the dead set."""
    payload = build_payload("tests.tasks:add", [1, 2], {}, queue="default", enqueued_at=at)
    record = {
        **payload,
        "id": job_id,
        "error": "ValueError: boom",
        "traceback": "Trace",
        "failed_at": at,
        **fields,
    }
    client.zadd(keys.dead(), {job_id: at})
    client.hset(keys.dead_jobs(), job_id, json.dumps(record))


# -- pages -------------------------------------------------------------------------------


def test_every_page_renders_the_leader_schedule_and_queues(
    browser: Browser, leader: RunLoop, clock: FakeClock, client: redis.Redis, keys: Keys
) -> None:
    clock.advance(60)
    leader.step()  # minutely fires at 00:01
    bury(client, keys, "d1", T0)
    web = browser()
    overview = web.get("/").text
    assert json.loads(client.get(keys.lease()) or "{}")["id"] in overview
    assert "epoch" in overview and "no leader" not in overview
    assert "minutely" in overview  # next fires
    schedules = web.get("/schedules").text
    assert "every minute" in schedules
    assert "Europe/Madrid" in schedules and "disabled" in schedules
    assert "2026-01-01 00:01:00 UTC" in schedules  # the last fire
    assert "Fri 2026-01-02 09:30:00 +01:00" in schedules  # next fire, local time
    assert "2026-01-02 08:30:00 UTC" in schedules  # and in UTC
    assert web.get("/jobs/madrid-morning").status_code == 200
    assert web.get("/jobs/nope").status_code == 404
    assert "d1" in web.get("/dead").text
    assert "Trace" in web.get("/dead/d1").text
    assert web.get("/dead/nope").status_code == 404
    assert web.get("/retries").status_code == 200


def test_job_data_is_escaped_everywhere(browser: Browser, client: redis.Redis, keys: Keys) -> None:
    bury(client, keys, "evil", T0, error=HOSTILE, traceback=HOSTILE, task=HOSTILE)
    client.lpush(
        keys.runs("minutely"),
        json.dumps(
            {
                "job": "minutely",
                "job_id": HOSTILE,
                "status": HOSTILE,
                "fire": "",
                "finished_at": T0,
                "duration": 0.1,
                "error": HOSTILE,
            }
        ),
    )
    client.lpush(keys.runs(), client.lindex(keys.runs("minutely"), 0))  # type: ignore[arg-type]
    web = browser()
    for path in ["/", "/schedules", "/jobs/minutely", "/dead", "/dead/evil"]:
        page = web.get(path).text
        assert "<script>alert" not in page and "<img src=x" not in page, path
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in web.get("/dead/evil").text
    assert "&lt;img src=x onerror=alert(2)&gt;" in web.get("/jobs/minutely").text


def test_a_refused_schedule_file_shows_on_the_overview_escaped_until_fixed(
    browser: Browser, leader: RunLoop, tmp_path: Path
) -> None:
    path = tmp_path / "schedule.yml"
    path.write_text(
        SCHEDULE + f'  "x\\e[2J{HOSTILE}":\n    task: tests.tasks:noop\n    every: 1x\n'
    )
    leader.request_reload()
    leader.step()
    web = browser()
    page = web.get("/").text
    assert "Schedule reload refused" in page and "reload refused</a>" in page
    assert leader.leadership.id in page.split("Schedule reload refused")[1]
    assert "every: &#39;1x&#39; is not a duration" in page
    assert "<script>alert" not in page and "\x1b" not in page
    assert "x\\x1b[2J&lt;script&gt;alert(1)&lt;/script&gt;" in page
    path.write_text(SCHEDULE)
    leader.request_reload()
    leader.step()
    assert "reload refused" not in web.get("/").text


def test_the_dead_set_is_paginated_newest_first(
    browser: Browser, client: redis.Redis, keys: Keys
) -> None:
    for i in range(120):
        bury(client, keys, f"job{i:03d}", T0 + i)
    web = browser()
    first = re.findall(r'<tr data-id="(job\d+)"', web.get("/dead").text)
    assert first == [f"job{i:03d}" for i in range(119, 69, -1)]
    third = re.findall(r'<tr data-id="(job\d+)"', web.get("/dead?page=3").text)
    assert third == [f"job{i:03d}" for i in range(19, -1, -1)]
    assert "page 3 of 3" in web.get("/dead?page=99").text


def test_schedules_can_be_filtered_and_paginated(browser: Browser) -> None:
    web = browser(per_page=2)
    page = web.get("/schedules").text
    assert "page 1 of 2" in page and page.count('<tr id="job-') == 2
    found = web.get("/schedules?q=MADRID").text
    assert found.count('<tr id="job-') == 1 and "madrid-morning" in found
    disabled = web.get("/schedules?show=disabled").text
    assert re.findall(r'<tr id="job-([^"]+)"', disabled) == ["switched-off"]


# -- buttons -----------------------------------------------------------------------------


def test_pause_and_resume_from_the_dashboard_stop_and_restart_the_fires(
    browser: Browser, leader: RunLoop, clock: FakeClock, client: redis.Redis, keys: Keys
) -> None:
    web = browser()
    token = csrf_of(web.get("/schedules").text)
    form = {"csrf": token, "reason": "db migration", "next": "/schedules"}
    response = web.post("/jobs/minutely/pause", data=form, headers={"origin": BASE})
    assert response.status_code == 303 and response.headers["location"] == "/schedules"
    page = web.get("/schedules").text
    assert "minutely: paused (db migration)" in page  # the flash
    assert "db migration" in web.get("/schedules?show=paused").text
    for _ in range(3):
        clock.advance(60)
        leader.step()
    assert client.llen(keys.queue("default")) == 0
    assert post(web, "/jobs/minutely/resume", {"csrf": token}) == 303
    clock.advance(60)
    leader.step()
    assert client.llen(keys.queue("default")) > 0


def test_trigger_enqueues_a_run_now(browser: Browser, client: redis.Redis, keys: Keys) -> None:
    web = browser()
    token = csrf_of(web.get("/jobs/minutely").text)
    assert post(web, "/jobs/minutely/trigger", {"csrf": token}) == 303
    [raw] = client.lrange(keys.queue("default"), 0, -1)
    assert json.loads(raw)["schedule"] == "minutely"
    assert post(web, "/jobs/nope/trigger", {"csrf": token}) == 404


def test_dead_jobs_are_retried_deleted_and_retried_all(
    browser: Browser, client: redis.Redis, keys: Keys
) -> None:
    for name in ("a", "b", "c", "d"):
        bury(client, keys, name, T0)
    bury(client, keys, "raw", T0, raw="not json")
    web = browser()
    token = csrf_of(web.get("/dead").text)
    assert post(web, "/dead/a/retry", {"csrf": token}) == 303
    assert client.llen(keys.queue("default")) == 1
    assert post(web, "/dead/b/delete", {"csrf": token}) == 303
    assert post(web, "/dead/retry-all", {"csrf": token}) == 303
    assert "2 dead jobs enqueued again; 1 without a readable payload stayed" in web.get("/").text
    assert client.llen(keys.queue("default")) == 3
    assert [i.decode() for i in client.zrange(keys.dead(), 0, -1)] == ["raw"]
    assert post(web, "/dead/delete-all", {"csrf": token}) == 303
    assert client.zcard(keys.dead()) == 0


def test_the_dead_page_filters_like_dead_list_and_its_bulk_buttons_take_only_the_matches(
    browser: Browser, client: redis.Redis, keys: Keys
) -> None:
    for i in range(5):
        bury(client, keys, f"t{i}", T0 + i, error="JobTimeout: ran past 60s", schedule="sync")
    bury(client, keys, "m1", T0 + 10, error="SMTP timeout", task="myapp.mail:send", queue="mail")
    bury(client, keys, "x1", T0 + 11)
    web = browser(dead_per_page=2)

    def rows(query: str) -> list[str]:
        return re.findall(r'<tr data-id="([^"]+)"', web.get(f"/dead?{query}").text)

    assert rows("error=TIMEOUT") == ["m1", "t4"]
    assert rows("task=myapp.mail") == ["m1"]
    assert rows("queue=mail") == ["m1"]
    assert rows("job=sync&error=timeout") == ["t4", "t3"]
    page = web.get("/dead?job=sync&error=timeout").text
    assert "5 dead jobs match" in page and 'value="sync"' in page
    assert 'href="/dead?job=sync&amp;error=timeout&amp;page=2"' in page  # the pager keeps it
    assert rows("job=sync&error=timeout&page=3") == ["t0"]
    assert rows("job=nope") == [] and "No dead job matches." in web.get("/dead?job=nope").text

    hostile = web.get("/dead", params={"task": HOSTILE}).text
    assert "<script>alert" not in hostile and "&lt;script&gt;alert(1)&lt;/script&gt;" in hostile

    token = csrf_of(page)
    retry = {"csrf": token, "job": "sync", "error": "timeout", "next": "/dead?job=sync"}
    assert post(web, "/dead/retry-all", retry) == 303
    assert client.llen(keys.queue("default")) == 5
    assert post(web, "/dead/delete-all", {"csrf": token, "queue": "mail"}) == 303
    assert [i.decode() for i in client.zrange(keys.dead(), 0, -1)] == ["x1"]


def park_retry(client: redis.Redis, keys: Keys, job_id: str, due: float, **kwargs: object) -> bytes:
    """Put a failed job's next attempt straight into the delayed set; its member."""
    payload = build_payload(
        "tests.tasks:fail", [], kwargs, queue="default", enqueued_at=T0, job_id=job_id
    )
    payload.update(attempt=2, error="ValueError: boom")
    member = encode(payload).encode()
    client.zadd(keys.delayed("default"), {member: due})
    client.sadd(keys.queues(), "default")
    return member


def delayed_ids(client: redis.Redis, keys: Keys) -> dict[str, float]:
    return {
        json.loads(m)["id"]: s
        for m, s in client.zrange(keys.delayed("default"), 0, -1, withscores=True)
    }


def test_a_waiting_retry_is_listed_made_due_now_or_deleted(
    browser: Browser, client: redis.Redis, keys: Keys, clock: FakeClock
) -> None:
    for job_id in ("r1", "r2"):
        park_retry(client, keys, job_id, T0 + 3600)
    web = browser()
    page = web.get("/retries").text
    assert "r1" in page and "r2" in page and "ValueError: boom" in page
    token = csrf_of(page)
    assert post(web, "/retries/default/r1/now", {"csrf": token}) == 303
    assert delayed_ids(client, keys) == {"r1": clock.now(), "r2": T0 + 3600}
    assert client.llen(keys.wake("default")) == 1
    assert post(web, "/retries/default/r2/delete", {"csrf": token}) == 303
    assert client.zcard(keys.delayed("default")) == 1


def run_once(make_worker: WorkerFactory) -> None:
    """One in-process worker pass: take the due jobs, run them, settle them."""
    worker = make_worker()
    worker.fetch_once()
    worker.run_pending()
    worker.flush()


def test_deleting_a_waiting_retry_ends_its_tracked_job_and_frees_its_unique_key(
    browser: Browser, queue: Queue, make_worker: WorkerFactory
) -> None:
    job_id = queue.enqueue(tasks.fail, "no", retries=2, key="inv:7", result_ttl=600)
    run_once(make_worker)
    assert queue.job(job_id).status == "failed"
    assert queue.enqueue(tasks.fail, "no", key="inv:7") == job_id  # the key is held
    web = browser()
    token = csrf_of(web.get("/retries").text)
    assert post(web, f"/retries/default/{job_id}/delete", {"csrf": token}) == 303
    assert f"{job_id}: deleted" in web.get("/retries").text
    info = queue.job(job_id)
    assert (info.status, info.over, info.error) == ("cancelled", True, None)
    with pytest.raises(ResultUnavailable, match="it is cancelled"):
        queue.result(job_id, timeout=5)  # a waiter wakes: the job has ended
    assert queue.enqueue(tasks.fail, "no", key="inv:7") != job_id


def test_deleting_a_dead_job_frees_its_unique_key_and_its_record_stays_final(
    browser: Browser, queue: Queue, make_worker: WorkerFactory, client: redis.Redis, keys: Keys
) -> None:
    job_id = queue.enqueue(tasks.fail, "no", retries=0, key="inv:8", result_ttl=600)
    run_once(make_worker)
    assert queue.job(job_id).status == "dead"
    web = browser()
    token = csrf_of(web.get("/dead").text)
    assert post(web, f"/dead/{job_id}/delete", {"csrf": token}) == 303
    assert client.exists(keys.unique("inv:8")) == 0
    info = queue.job(job_id)
    assert (info.status, info.over, info.error) == ("dead", True, "ValueError: no")
    assert queue.enqueue(tasks.fail, "no", key="inv:8") != job_id


def test_retry_now_and_delete_act_on_the_job_of_that_id_not_one_that_mentions_it(
    browser: Browser, client: redis.Redis, keys: Keys, clock: FakeClock
) -> None:
    # other-job's kwargs hold the id report-2026-11, in the very text a pattern over the
    # payload would look for.
    other = park_retry(client, keys, "other-job", T0 + 60, report={"id": "report-2026-11"})
    assert b'"id":"report-2026-11"' in other
    web = browser()
    token = csrf_of(web.get("/retries").text)
    for action in ("now", "delete"):  # report-2026-11 is not waiting (yet)
        assert post(web, f"/retries/default/report-2026-11/{action}", {"csrf": token}) == 303
        assert "report-2026-11: no longer waiting" in web.get("/retries").text
        assert client.zscore(keys.delayed("default"), other) == T0 + 60

    park_retry(client, keys, "report-2026-11", T0 + 3600)
    park_retry(client, keys, "report-2026-1", T0 + 7200)  # a prefix of it
    assert post(web, "/retries/default/report-2026-11/now", {"csrf": token}) == 303
    assert "report-2026-11: due now" in web.get("/retries").text
    assert delayed_ids(client, keys) == {
        "other-job": T0 + 60,
        "report-2026-11": clock.now(),
        "report-2026-1": T0 + 7200,
    }
    assert post(web, "/retries/default/report-2026-11/delete", {"csrf": token}) == 303
    assert "report-2026-11: deleted" in web.get("/retries").text
    assert delayed_ids(client, keys) == {"other-job": T0 + 60, "report-2026-1": T0 + 7200}
    assert post(web, "/retries/default/report-2026-*/delete", {"csrf": token}) == 303
    assert "no longer waiting" in web.get("/retries").text  # an id, not a pattern
    assert delayed_ids(client, keys) == {"other-job": T0 + 60, "report-2026-1": T0 + 7200}
    assert client.zscore(keys.delayed("default"), other) == T0 + 60  # never touched


def test_a_redirect_goes_back_only_to_a_local_path(browser: Browser) -> None:
    web = browser()
    token = csrf_of(web.get("/schedules").text)
    for target in ("//evil.example/", "https://evil.example/", "/\\evil.example"):
        response = web.post(
            "/jobs/minutely/trigger",
            data={"csrf": token, "next": target},
            headers={"origin": BASE},
        )
        assert response.headers["location"] == "/"


# -- access and CSRF ---------------------------------------------------------------------


def test_a_post_without_the_right_csrf_token_or_from_another_origin_is_refused(
    browser: Browser, client: redis.Redis, keys: Keys
) -> None:
    web = browser()
    token = csrf_of(web.get("/schedules").text)
    path = "/jobs/minutely/pause"
    assert post(web, path, {}) == 403
    assert post(web, path, {"csrf": "0" * 64}) == 403
    assert post(web, path, {"csrf": token}, origin="http://evil.example") == 403
    assert post(web, path, {"csrf": token}, origin="http://127.0.0.1:9999") == 403
    assert post(web, path, {"csrf": token}, origin=None) == 403  # neither Origin nor Referer
    other = browser()  # another browser's token does not fit this browser's session
    other.get("/")
    assert post(other, path, {"csrf": token}) == 403
    assert client.hlen(keys.paused()) == 0
    referer = web.post(path, data={"csrf": token}, headers={"referer": f"{BASE}/schedules"})
    assert referer.status_code == 303 and client.hlen(keys.paused()) == 1


def test_with_a_token_every_page_needs_it_once_then_the_cookie_does(browser: Browser) -> None:
    web = browser(token="s3cret")
    assert web.get("/").status_code == 401
    assert web.get("/dead?token=wrong").status_code == 401
    assert web.get("/static/style.css").status_code == 200  # no data in there
    signed_in = web.get("/dead?page=2&token=s3cret")
    assert signed_in.status_code == 200
    assert 'content="0;url=/dead?page=2"' in signed_in.text  # the token leaves the address
    cookie = signed_in.headers["set-cookie"]
    assert "scheduler_auth=" in cookie and "s3cret" not in cookie
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie.replace("Strict", "strict")
    assert web.get("/dead").status_code == 200
    stranger = browser(token="s3cret")
    assert stranger.get("/", headers={"authorization": "Bearer s3cret"}).status_code == 200
    assert stranger.get("/", headers={"authorization": "Bearer nope"}).status_code == 401


def test_a_bearer_token_acts_without_csrf_but_a_cookie_needs_it(
    browser: Browser, client: redis.Redis, keys: Keys
) -> None:
    web = browser(token="s3cret")
    bearer = {"authorization": "Bearer s3cret"}
    assert web.post("/jobs/minutely/pause", headers=bearer).status_code == 303
    assert client.hexists(keys.paused(), "minutely")
    web.get("/?token=s3cret")
    assert post(web, "/jobs/minutely/resume", {}) == 403  # cookie, no CSRF token


def test_read_only_shows_no_buttons_and_refuses_every_post(
    browser: Browser, client: redis.Redis, keys: Keys
) -> None:
    bury(client, keys, "d1", T0)
    web = browser(read_only=True)
    for path in ["/", "/schedules", "/jobs/minutely", "/dead", "/dead/d1", "/retries"]:
        page = web.get(path).text
        assert 'method="post"' not in page and "read-only" in page, path
    token = csrf_of(browser().get("/schedules").text)  # even a valid-looking form
    assert post(web, "/dead/d1/retry", {"csrf": token}) == 403
    assert client.zcard(keys.dead()) == 1


def test_without_a_token_only_loopback_host_names_are_answered(browser: Browser) -> None:
    assert browser("http://localhost:8080").get("/").status_code == 200
    assert browser("http://[::1]:8080").get("/").status_code == 200
    assert browser("http://evil.example:8080").get("/").status_code == 400  # DNS rebinding
    assert browser("http://evil.example:8080", token="t").get("/?token=t").status_code == 200


def test_every_response_carries_the_security_headers(browser: Browser) -> None:
    web = browser()
    for response in (web.get("/"), web.get("/nope"), web.get("/static/live.js")):
        headers = response.headers
        assert "script-src 'self'" in headers["content-security-policy"]
        assert "unsafe-inline" not in headers["content-security-policy"]
        assert headers["x-frame-options"] == "DENY"
        assert headers["x-content-type-options"] == "nosniff"
        assert headers["referrer-policy"] == "same-origin"
    session = browser().get("/schedules").headers["set-cookie"]
    assert session.startswith("scheduler_session=") and "HttpOnly" in session
    assert "SameSite=Strict" in session


# -- enqueued jobs -----------------------------------------------------------------------


def test_a_queue_page_lists_waiting_and_delayed_jobs_paged_and_cancels_one(
    browser: Browser, client: redis.Redis, keys: Keys, clock: FakeClock
) -> None:
    queue = Queue(client, keys.namespace, clock=clock)
    waiting = [queue.enqueue("tests.tasks:add", i, 0, queue="mail") for i in range(5)]
    later = queue.enqueue("tests.tasks:add", 9, 9, queue="mail", delay=600, result_ttl=60)
    client.lpush(keys.queue("mail"), f"\xff{HOSTILE}".encode("latin-1", "replace"))
    web = browser(dead_per_page=2)

    first = web.get("/queues/mail").text
    assert "6 jobs wait" in first and "1 delayed jobs" in first
    assert waiting[0] in first and waiting[1] in first and waiting[2] not in first
    assert waiting[2] in web.get("/queues/mail?page=2").text
    last = web.get("/queues/mail?page=9").text  # past the end: the last page
    assert "page 3 of 3" in last and "unreadable: payload is not" in last
    assert HOSTILE not in last
    assert 'href="/queues/mail"' in web.get("/").text

    token = csrf_of(first)
    assert post(web, f"/queued/{later}/cancel", {"csrf": token, "next": "/queues/mail"}) == 303
    assert queue.delayed_count("mail") == 0
    page = web.get(f"/queued/{later}").text
    assert "cancelled" in page and "tests.tasks:add" in page and 'method="post"' not in page
    assert "unknown" in web.get(f"/queued/{waiting[0]}").text
    assert web.get("/queues/no%20way").status_code == 404


def test_read_only_shows_no_cancel_button_and_refuses_it(
    browser: Browser, client: redis.Redis, keys: Keys, clock: FakeClock
) -> None:
    job_id = Queue(client, keys.namespace, clock=clock).enqueue("tests.tasks:noop", result_ttl=9)
    web = browser(read_only=True)
    for path in ["/queues/default", f"/queued/{job_id}"]:
        assert 'method="post"' not in web.get(path).text, path
    token = csrf_of(browser().get("/schedules").text)
    assert post(web, f"/queued/{job_id}/cancel", {"csrf": token}) == 403
    assert client.llen(keys.queue("default")) == 1


def test_the_overview_marks_a_paused_queue(
    browser: Browser, client: redis.Redis, keys: Keys
) -> None:
    client.sadd(keys.paused_queues(), "mail")
    overview = browser().get("/").text
    row = overview[overview.index('href="/queues/mail"') :].split("</tr>")[0]
    assert 'class="badge s-paused">paused' in row and "No queue has been used yet" not in overview


def test_a_queue_paused_and_resumed_from_its_page_stops_and_restarts_the_workers(
    browser: Browser, queue: Queue, make_worker: WorkerFactory, client: redis.Redis, keys: Keys
) -> None:
    job_id = queue.enqueue(tasks.add, 1, 2, queue="mail", result_ttl=60)
    worker = make_worker("mail")
    web = browser()
    page = web.get("/queues/mail").text
    assert 'action="/queues/mail/pause"' in page and "s-paused" not in page
    back = {"csrf": csrf_of(page), "next": "/queues/mail"}
    assert post(web, "/queues/mail/pause", back) == 303
    page = web.get("/queues/mail").text
    assert "queue mail: paused" in page and 'class="badge s-paused">paused' in page
    assert 'action="/queues/mail/resume"' in page and 'action="/queues/mail/pause"' not in page
    assert client.sismember(keys.paused_queues(), "mail")
    assert worker.fetch_once() == 0  # as `scheduler queue pause` does: nothing is taken
    assert post(web, "/queues/mail/pause", back) == 303
    assert "queue mail: was paused already" in web.get("/queues/mail").text

    assert post(web, "/queues/mail/resume", back) == 303
    assert "queue mail: resumed" in web.get("/queues/mail").text
    assert not client.sismember(keys.paused_queues(), "mail")
    assert worker.fetch_once() == 1
    worker.run_pending()
    worker.flush()
    assert queue.job(job_id).status == "succeeded"
    assert post(web, "/queues/no%20way/pause", back) == 404


def test_queue_pause_and_resume_are_guarded_like_every_button(
    browser: Browser, client: redis.Redis, keys: Keys
) -> None:
    web = browser()
    token = csrf_of(web.get("/queues/mail").text)
    assert 'action="/queues/mail/pause"' not in browser(read_only=True).get("/queues/mail").text
    assert post(browser(read_only=True), "/queues/mail/pause", {"csrf": token}) == 403
    assert post(web, "/queues/mail/pause", {"csrf": "0" * len(token)}) == 403
    assert post(web, "/queues/mail/pause", {"csrf": token}, "http://evil.example") == 403
    assert not client.sismember(keys.paused_queues(), "mail")
    client.sadd(keys.paused_queues(), "mail")
    assert post(browser(read_only=True), "/queues/mail/resume", {"csrf": token}) == 403
    assert client.sismember(keys.paused_queues(), "mail")
