"""Jobs survive crashes and bad steps, and stop when canceled: real worker processes, real
ffmpeg, real faults (SIGKILL, a missing bucket), no patched-out pipeline."""

from __future__ import annotations

import pytest

from chalicelib.core.settings import get_settings
from chalicelib.infra import aws, storage
from chalicelib.jobs import repository as jobs_db
from chalicelib.runtime import ops
from tests.conftest import grant_plan
from tests.workers import (
    FAST_TAKEOVER,
    Workers,
    ffmpeg_processes,
    private_queue,
    wait_for_event,
    wait_for_status,
    wait_until,
)


@pytest.fixture
def workers(monkeypatch, tmp_path):
    with private_queue(monkeypatch) as name:
        pool = Workers(tmp_path, {"QUEUE_NAME": name, "WORKER_CONCURRENCY": "1", **FAST_TAKEOVER})
        yield pool
        pool.stop_all()
        print(pool.logs())  # pytest shows it only when the test failed


def submit(api, user, **body) -> str:
    return api.submit_ok(
        user, {"prompt": "A kite over a quiet harbour at dawn", "duration_s": 6, "aspect": "1:1"}, **body
    )


def test_cancel_stops_a_running_render_within_seconds(api, user, workers):
    workers.start()
    job_id = submit(api, user, duration_s=30, aspect="9:16")
    wait_for_event(job_id, lambda e: e.type.value == "step.started" and e.step == "video")
    wait_until(lambda: ffmpeg_processes(job_id), 60, "the render starting")

    response = api.call("POST", f"/v1/jobs/{job_id}/cancel", token=user["token"])
    assert response.status_code == 202 and response.json["status"] == "canceled"
    wait_until(lambda: not ffmpeg_processes(job_id), 5, "ffmpeg stopping after cancel")

    job = api.call("GET", f"/v1/jobs/{job_id}", token=user["token"]).json
    assert job["status"] == "canceled" and job["outputs"] is None
    assert {s["name"]: s["status"] for s in job["steps"]}["video"] == "canceled"
    assert not storage.exists(f"jobs/{job_id}/output/video.mp4")
    assert api.call("GET", "/v1/me", token=user["token"]).json["usage"]["jobs_used"] == 0


def test_a_queued_job_that_is_canceled_never_starts(api, user, workers):
    job_id = submit(api, user)
    api.call("POST", f"/v1/jobs/{job_id}/cancel", token=user["token"])
    other = submit(api, user)  # a second job shows the worker did take work
    workers.start()
    wait_for_status(other, {"succeeded"})
    assert jobs_db.get(job_id, None).started_at is None
    assert jobs_db.step_runs(job_id) == []


def test_a_worker_killed_mid_step_loses_nothing(api, user, workers):
    first = workers.start()
    job_id = submit(api, user)
    wait_for_event(job_id, lambda e: e.type.value == "step.started" and e.step == "video")
    wait_until(lambda: ffmpeg_processes(job_id), 60, "the render starting")
    workers.kill(first)  # SIGKILL mid-render, ffmpeg included
    workers.start()

    row = wait_for_status(job_id, {"succeeded", "failed"}, timeout_s=90)
    assert row.status == "succeeded"
    runs = jobs_db.step_runs(job_id)
    video_runs = [r.status for r in runs if r.step == "video"]
    assert video_runs == ["abandoned", "succeeded"]
    for step in ("concept", "image", "upload"):  # finished steps were not redone
        assert [r.status for r in runs if r.step == step] == ["succeeded"]
    assert storage.exists(f"jobs/{job_id}/output/video.mp4")


@pytest.fixture
def late_bucket():
    """A bucket that does not exist yet: S3 calls fail until the test creates it."""
    name = f"{get_settings().media_bucket}-late"
    yield name
    s3 = aws.client("s3")
    try:
        for obj in s3.list_objects_v2(Bucket=name).get("Contents", []):
            s3.delete_object(Bucket=name, Key=obj["Key"])
        s3.delete_bucket(Bucket=name)
    except s3.exceptions.NoSuchBucket:
        pass


def test_transient_failures_retry_with_backoff_then_succeed(api, user, workers, late_bucket):
    workers.start(MEDIA_BUCKET=late_bucket)
    job_id = submit(api, user)
    retrying, _ = wait_for_event(job_id, lambda e: e.type.value == "job.retrying")
    assert retrying.step == "concept" and "attempt 2" in retrying.message
    aws.client("s3").create_bucket(Bucket=late_bucket)  # S3 is back
    row = wait_for_status(job_id, {"succeeded", "failed"})
    assert row.status == "succeeded" and row.attempt == 2
    concept_runs = [r.status for r in jobs_db.step_runs(job_id) if r.step == "concept"]
    assert concept_runs == ["failed", "succeeded"]


def test_out_of_attempts_is_a_dead_letter_that_can_be_redriven(api, user, workers, late_bucket, monkeypatch):
    monkeypatch.setattr(get_settings(), "job_attempts", 2)  # attempts are set when enqueued
    workers.start(MEDIA_BUCKET=late_bucket)
    job_id = submit(api, user)
    row = wait_for_status(job_id, {"failed"})
    assert row.error_code == "concept_failed" and row.error_step == "concept"
    job = api.call("GET", f"/v1/jobs/{job_id}", token=user["token"]).json
    assert job["error"]["code"] == "concept_failed" and job["error"]["step"] == "concept"
    assert [r.status for r in jobs_db.step_runs(job_id)] == ["failed", "failed"]
    assert api.call("GET", "/v1/me", token=user["token"]).json["usage"]["jobs_used"] == 0  # refunded

    assert job_id in [r.id for r in jobs_db.failed(100, "concept_failed")]
    aws.client("s3").create_bucket(Bucket=late_bucket)
    assert job_id in ops.redrive(limit=100, code="concept_failed")
    row = wait_for_status(job_id, {"succeeded", "failed"})
    assert row.status == "succeeded"


def test_one_users_burst_does_not_hold_back_another_users_job(api, user, workers):
    grant_plan(user["user"]["id"], "pro")  # 3 at once and a better plan than the other user's
    burst = [submit(api, user, prompt=f"burst {i}") for i in range(8)]
    other = api.signup()
    single = submit(api, other, prompt="just one")

    workers.start()  # one worker, one job at a time
    wait_for_status(single, {"succeeded"}, timeout_s=120)
    started = sorted(
        (row.started_at, job_id)
        for job_id in burst + [single]
        if (row := jobs_db.get(job_id, None)).started_at
    )
    position = [job_id for _, job_id in started].index(single)
    assert position <= 1, "the single job waited behind more than one job of the burst"
    for job_id in burst:  # don't render the rest of the burst
        api.call("POST", f"/v1/jobs/{job_id}/cancel", token=user["token"])
