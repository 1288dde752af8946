"""The events long-poll: never an endless XREAD BLOCK 0, and a bound on how many long-polls one
user holds open at once (over it: 429 with Retry-After)."""

from __future__ import annotations

import threading
import time

import pytest

from chalicelib.accounts.auth import Principal
from chalicelib.core.ids import new_id
from chalicelib.core.settings import get_settings
from chalicelib.infra import redis_client, redis_keys
from chalicelib.jobs import longpoll, progress
from chalicelib.jobs import service as jobs
from chalicelib.jobs.states import EventType
from tests.workers import wait_until

JOB = {"prompt": "A heron waits for the tide", "duration_s": 10}

# Against the standalone Redis and a cluster-mode one (ElastiCache Serverless is cluster mode).
pytestmark = pytest.mark.usefixtures("redis_mode")


@pytest.mark.parametrize(
    "wait_s, expected", [(0, None), (0.0004, None), (0.000999, None), (0.001, 1), (0.5, 500), (20, 20000)]
)
def test_block_is_never_zero_which_redis_reads_as_forever(wait_s, expected):
    assert longpoll.block_ms(wait_s) == expected


def test_a_wait_under_a_millisecond_returns_instead_of_blocking_forever():
    job_id = new_id("job")  # no stream yet: a blocking read would wait for its first entry
    result: list = []
    reader = threading.Thread(target=lambda: result.append(progress.read(job_id, None, 0.0004)))
    reader.start()
    try:
        reader.join(timeout=10)
        assert not reader.is_alive(), "XREAD blocked past the wait"
        assert result == [[]]
    finally:  # release a reader stuck in BLOCK 0 (the bug), then leave nothing behind
        redis_client.client().xadd(redis_keys.job_events(job_id), {"e": "{}"})
        reader.join()
        redis_client.client().delete(redis_keys.job_events(job_id))


def test_one_user_holds_at_most_the_configured_long_polls(api, user, monkeypatch):
    monkeypatch.setattr(get_settings(), "long_polls_per_user", 1)
    job_id = api.call("POST", "/v1/jobs", JOB, token=user["token"]).json["id"]
    path = f"/v1/jobs/{job_id}/events"
    cursor = api.call("GET", path, token=user["token"]).json["next"]
    slots = redis_keys.long_polls(user["user"]["id"])
    held: list = []
    poll = threading.Thread(
        target=lambda: held.append(jobs.events(Principal(user["user"]["id"]), job_id, cursor, 15))
    )
    poll.start()
    try:
        wait_until(
            lambda: redis_client.client().zcard(slots) == 1, 10, "a long-poll slot taken", interval_s=0.01
        )
        refused = api.call("GET", f"{path}?after={cursor}&wait=5", token=user["token"])
        assert refused.status_code == 429
        assert refused.json["error"]["code"] == "too_many_long_polls"
        assert 1 <= int(refused.headers["retry-after"]) <= 20
        # a plain read (wait=0) holds no slot, and another user is not affected
        assert api.call("GET", f"{path}?after={cursor}", token=user["token"]).status_code == 200
        other = api.signup()
        other_job = api.call("POST", "/v1/jobs", JOB, token=other["token"]).json["id"]
        assert api.call("GET", f"/v1/jobs/{other_job}/events?wait=1", token=other["token"]).status_code == 200
    finally:
        progress.emit(job_id, EventType.step_progress, step="concept", progress=1)
        poll.join()
    assert [e.type for e in held[0].events] == [EventType.step_progress]
    assert redis_client.client().zcard(slots) == 0  # the slot was given back
    again = api.call("GET", f"{path}?after={held[0].next}&wait=1", token=user["token"])
    assert again.status_code == 200 and again.json["events"] == []


def test_a_job_that_ended_long_ago_answers_at_once_without_a_slot(api, user, monkeypatch):
    from chalicelib.infra import db

    job_id = api.call("POST", "/v1/jobs", JOB, token=user["token"]).json["id"]
    assert api.call("POST", f"/v1/jobs/{job_id}/cancel", token=user["token"]).status_code == 202
    db.execute("UPDATE jobs SET finished_at = finished_at - INTERVAL 5 MINUTE WHERE id = %s", (job_id,))
    monkeypatch.setattr(get_settings(), "long_polls_per_user", 1)
    slots = redis_keys.long_polls(user["user"]["id"])
    redis_client.client().zadd(slots, {"held-elsewhere": time.time() + 60})  # the user's one slot
    try:
        page = api.call("GET", f"/v1/jobs/{job_id}/events?wait=20", token=user["token"])
        # no 429: a read that cannot block needs no slot; and the page ends with the cancel
        assert page.status_code == 200
        assert page.json["status"] == "canceled"
        assert page.json["events"][-1]["type"] == "job.canceled"
    finally:
        redis_client.client().delete(slots)


def test_a_page_read_before_the_final_event_landed_does_not_claim_the_end(api, user):
    """The job ends and its final event lands between reading a page and answering it: the page
    must not say "canceled" without the event, or a client stopping there never sees it."""
    from chalicelib.jobs import repository as jobs_db

    job_id = api.call("POST", "/v1/jobs", JOB, token=user["token"]).json["id"]
    before = api.call("GET", f"/v1/jobs/{job_id}/events", token=user["token"]).json["next"]
    assert api.call("POST", f"/v1/jobs/{job_id}/cancel", token=user["token"]).status_code == 202
    row = jobs_db.get(job_id, user["user"]["id"])
    assert row is not None and row.status == "canceled"
    assert jobs._page_status(row, [], before) == "running"  # the page stopped before the event
    last = progress.last_event(job_id)
    assert last is not None and last.type == EventType.job_canceled
    assert jobs._page_status(row, [], last.id) == "canceled"  # caught up: the end is the end


def test_a_steps_end_and_the_next_steps_start_reach_a_waiting_poll_together(api, user, monkeypatch):
    monkeypatch.setattr(progress, "FOLLOW_MS", 10_000)  # whatever the interleaving: one batch
    job_id = api.call("POST", "/v1/jobs", JOB, token=user["token"]).json["id"]
    cursor = progress.last_event(job_id).id
    got: list = []
    reader = threading.Thread(target=lambda: got.append(progress.read(job_id, cursor, 10)))
    reader.start()
    progress.emit(job_id, EventType.step_succeeded, step="concept", progress=5)
    progress.emit(job_id, EventType.step_started, step="image", progress=5)
    reader.join(timeout=30)
    assert [e.type for e in got[0]] == [EventType.step_succeeded, EventType.step_started]
