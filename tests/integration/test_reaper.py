"""The reaper reconciles MySQL (truth) with the queue (which may lose jobs)."""

from __future__ import annotations

from datetime import timedelta

from chalicelib.core.ids import utcnow
from chalicelib.infra import queue
from chalicelib.jobs import lifecycle
from chalicelib.runtime.reaper import JOB_DEADLINE, reconcile

GRACE = timedelta(seconds=60)


def test_a_queued_job_the_queue_lost_is_enqueued_again(api, user):
    job_id = api.call("POST", "/v1/jobs", {"prompt": "lost", "duration_s": 5}, token=user["token"]).json["id"]
    queue.discard(job_id)
    assert queue.state(job_id) == "unknown"

    reconcile(now=utcnow() + GRACE + timedelta(seconds=1))
    assert queue.state(job_id) in ("waiting", "prioritized")

    counts = reconcile(now=utcnow() + GRACE + timedelta(seconds=1))  # already queued: left alone
    assert queue.state(job_id) in ("waiting", "prioritized")
    assert counts["checked"] >= 1


def test_recent_jobs_are_left_alone(api, user):
    job_id = api.call("POST", "/v1/jobs", {"prompt": "fresh", "duration_s": 5}, token=user["token"]).json[
        "id"
    ]
    queue.discard(job_id)
    reconcile()
    assert queue.state(job_id) == "unknown"


def test_a_job_running_past_its_deadline_fails_with_timeout(api, user):
    job_id = api.call("POST", "/v1/jobs", {"prompt": "slow", "duration_s": 5}, token=user["token"]).json["id"]
    assert lifecycle.start(job_id, user["user"]["id"], 1, owner="w1", lease_s=30) == "started"
    reconcile(now=utcnow() + JOB_DEADLINE + timedelta(minutes=1))
    job = api.call("GET", f"/v1/jobs/{job_id}", token=user["token"]).json
    assert job["status"] == "failed"
    assert job["error"]["code"] == "timeout"
    events = api.call("GET", f"/v1/jobs/{job_id}/events", token=user["token"]).json["events"]
    assert events[-1]["type"] == "job.failed"
