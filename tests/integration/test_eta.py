"""The time left: priced from recent runs of the same shape, refined as the job runs, on every
event and on the job's state."""

from __future__ import annotations

import time

import pytest

from chalicelib.infra import redis_client, redis_keys
from chalicelib.jobs import eta, progress
from chalicelib.jobs.states import EventType

JOB = {"prompt": "A lighthouse keeper paints the sea", "duration_s": 10}


def test_a_shape_is_priced_by_its_recent_runs_then_a_fitted_line_then_built_in_rates():
    assert eta.estimate("video", 10, [[10, 30.0], [10, 34.0], [20, 90.0]]) == 32.0  # same size: median
    assert eta.estimate("video", 15, [[10, 30.0], [20, 50.0]]) == 40.0  # between sizes: the line
    fixed, rate = eta.DEFAULT_RATES["video"]
    assert eta.estimate("video", 10, []) == fixed + rate * 10


@pytest.mark.usefixtures("redis_mode")
def test_every_event_and_the_job_carry_a_time_left_that_shrinks_as_steps_finish(api, user):
    redis = redis_client.client()
    for part in eta.plan(JOB, queued=True):  # recent runs: each part of this shape took 2 s
        redis.delete(redis_keys.eta_samples(part.shape))
        eta.record(part.shape, part.units, 2.0)
    job = api.call("POST", "/v1/jobs", JOB, token=user["token"]).json
    queued = api.call("GET", f"/v1/jobs/{job['id']}/events", token=user["token"]).json["events"][0]
    assert queued["type"] == "job.queued" and queued["eta_at"]
    assert 9.0 <= queued["eta_s"] <= 10.0  # the wait in line and four steps, 2 s each

    at = time.time()
    eta.on_event(job["id"], EventType.job_started, None, None, now=at)
    eta.on_event(job["id"], EventType.step_started, "concept", None, now=at)
    left_then = eta.on_event(job["id"], EventType.step_succeeded, "concept", None, now=at + 2)
    assert left_then is not None and abs(left_then - 6.0) < 0.01  # three steps of 2 s ahead
    eta.on_event(job["id"], EventType.step_started, "image", None, now=at + 2)
    halfway = eta.on_event(job["id"], EventType.step_progress, "image", 50, now=at + 3)
    assert halfway is not None and 4.0 < halfway < 6.0  # one second of image left, then 4 s

    sent = progress.emit(job["id"], EventType.step_progress, step="image", progress=15, step_progress=60)
    assert sent.eta_s is not None and sent.eta_at is not None
    state = api.call("GET", f"/v1/jobs/{job['id']}", token=user["token"]).json
    assert state["eta_s"] is not None and state["eta_at"] == sent.eta_at

    api.call("POST", f"/v1/jobs/{job['id']}/cancel", token=user["token"])
    canceled = api.call("GET", f"/v1/jobs/{job['id']}", token=user["token"]).json
    assert canceled["eta_s"] is None and canceled["eta_at"] is None  # it won't end: no estimate


def test_the_etag_holds_while_only_the_countdown_moves(api, user):
    job = api.call("POST", "/v1/jobs", JOB, token=user["token"]).json
    first = api.call("GET", f"/v1/jobs/{job['id']}", token=user["token"])
    again = api.call(
        "GET", f"/v1/jobs/{job['id']}", token=user["token"], headers={"If-None-Match": first.headers["etag"]}
    )
    assert again.status_code == 304
