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


def _running_job_whose_queue_entry_is_gone(api, user, owner: str) -> str:
    """A job a worker started (lease `owner`, 30 s) whose queue entry BullMQ no longer holds."""
    job_id = api.submit_ok(user)
    assert lifecycle.start(job_id, user["user"]["id"], 1, owner=owner, lease_s=30) == "started"
    queue.discard(job_id)
    return job_id


def test_a_worker_cut_off_from_mysql_is_not_taken_for_dead(api, user):
    from chalicelib.infra import redis_client, redis_keys

    job_id = _running_job_whose_queue_entry_is_gone(api, user, owner="w-alive")
    # its lease lapsed (MySQL was away), but it still says in Redis that it holds the job
    redis_client.client().set(redis_keys.job_heartbeat(job_id), "w-alive", ex=60)
    counts = reconcile(now=utcnow() + GRACE + timedelta(seconds=1))
    assert counts["alive"] >= 1
    assert queue.state(job_id) == "unknown"  # not requeued under its live worker
    assert api.call("GET", f"/v1/jobs/{job_id}", token=user["token"]).json["status"] == "running"


def test_a_heartbeat_of_another_owner_does_not_keep_a_dead_workers_job(api, user):
    from chalicelib.infra import redis_client, redis_keys

    job_id = _running_job_whose_queue_entry_is_gone(api, user, owner="w-dead")
    redis_client.client().set(redis_keys.job_heartbeat(job_id), "w-earlier", ex=60)
    reconcile(now=utcnow() + GRACE + timedelta(seconds=1))
    assert queue.state(job_id) in ("waiting", "prioritized")  # requeued: its worker is gone
