"""The time left: priced from recent runs of the same shape, refined as the job runs (and by the
concept's real shape), on every event and on the job's state. Its arithmetic: tests/unit/test_eta.py."""

from __future__ import annotations

import textwrap
import threading
import time

import pytest

from chalicelib.infra import redis_client, redis_keys
from chalicelib.jobs import eta, progress, step_times
from chalicelib.jobs.states import EventType
from chalicelib.pipeline import registry
from chalicelib.pipeline.context import Context
from chalicelib.pipeline.steps import concept as concept_step

JOB = {"prompt": "A lighthouse keeper paints the sea", "duration_s": 10}


@pytest.mark.usefixtures("redis_mode")
def test_every_event_and_the_job_carry_a_time_left_that_shrinks_as_steps_finish(api, user):
    redis = redis_client.client()
    for part in eta.plan(JOB, queued=True):  # recent runs: each part of this shape took 2 s
        redis.delete(redis_keys.eta_samples(part.shape))
        step_times.record(part.shape, step_times.Sample(part.units, 2.0))
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


# A concept provider whose storyboard is not what the request implies: 6 s in 3 scenes.
SHORT_CONCEPT = """
from chalicelib.http.schemas.jobs import StepUsage
from chalicelib.pipeline.concept.offline import write_concept
from chalicelib.pipeline.registry import Provider


def six_seconds(task, client):
    return write_concept(task.request["prompt"], 6), StepUsage(purpose="concept", provider="six_seconds")


PROVIDER = Provider(purpose="concept", name="six_seconds", run=six_seconds)
"""


@pytest.fixture
def short_concept(tmp_path, monkeypatch):
    """The provider above, installed as a plug-in package (entry point) is."""
    (tmp_path / "six_seconds.py").write_text(SHORT_CONCEPT)
    info = tmp_path / "six_seconds-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: six-seconds\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(
        textwrap.dedent("""\
        [media_orchestrator.plugins]
        six_seconds = six_seconds:PROVIDER
        """)
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    registry.reload()
    yield
    monkeypatch.undo()
    registry.reload()


def test_the_time_left_shrinks_as_steps_finish_and_follows_the_concepts_real_length(
    short_concept, api, user, tmp_path
):
    request = {
        "prompt": "A heron waits at the weir",
        "duration_s": 30,
        "providers": {"concept": "six_seconds"},
    }
    job = api.call("POST", "/v1/jobs", request, token=user["token"]).json
    redis = redis_client.client()
    lines = {"queue": step_times.Line(0.5, 0), "concept": step_times.Line(1.0, 0)}
    lines |= {"image": step_times.Line(1.0, 0.5), "video": step_times.Line(1.0, 0.5)}
    lines |= {"upload": step_times.Line(0.5, 0.01)}
    for part in eta.plan(job["request"], queued=True):  # recent runs of 6, 10 and 30 s videos
        redis.delete(redis_keys.eta_samples(part.shape))
        for units in (3, 6, 10, 30) if part.name in ("video", "upload") else (1, 3, 6):
            step_times.record(part.shape, step_times.Sample(units, lines[part.name].at(units)))
    at = time.time()
    queued = eta.on_event(job["id"], EventType.job_queued, None, None, now=at)
    started = eta.on_event(job["id"], EventType.job_started, None, None, now=at + 0.5)
    eta.on_event(job["id"], EventType.step_started, "concept", None, now=at + 0.5)

    ctx = Context(
        job_id=job["id"], request=job["request"], work=tmp_path, owner="test", stop=threading.Event()
    )
    ctx.user_id = user["user"]["id"]
    concept_step.run(ctx, {})  # the real step: the storyboard is 6 s, not 30
    after_concept = eta.on_event(job["id"], EventType.step_succeeded, "concept", None, now=at + 1.5)
    assert queued is not None and started is not None and after_concept is not None
    planned_for_30 = lines["image"].at(6) + lines["video"].at(30) + lines["upload"].at(30)
    made_for_6 = lines["image"].at(3) + lines["video"].at(6) + lines["upload"].at(6)
    assert started == pytest.approx(1.0 + planned_for_30, rel=0.05)
    assert after_concept == pytest.approx(made_for_6, rel=0.05)  # priced again by what it is

    lefts = [queued, started, after_concept]
    clock = at + 1.5
    for step, units in (("image", 3), ("video", 6), ("upload", 6)):  # each as long as planned
        eta.on_event(job["id"], EventType.step_started, step, None, now=clock)
        clock += 0.5 * lines[step].at(units)
        lefts.append(eta.on_event(job["id"], EventType.step_progress, step, 50, now=clock))
        clock += 0.5 * lines[step].at(units)
        lefts.append(eta.on_event(job["id"], EventType.step_succeeded, step, None, now=clock))
    assert all(a > b for a, b in zip(lefts, lefts[1:])), lefts  # each step's end brings it closer
    assert lefts[-1] == pytest.approx(0.0, abs=0.01)
    assert eta.on_event(job["id"], EventType.job_succeeded, None, None, now=clock) == 0.0
