"""Job transitions (chalicelib.jobs.lifecycle): each is one transaction with its quota effect, and
what follows in Redis can fail without losing money or leaving a job stuck."""

from __future__ import annotations

from chalicelib.infra import queue, redis_client, redis_keys
from chalicelib.jobs import lifecycle

JOB = {"prompt": "a lighthouse at dusk", "duration_s": 5}


def jobs_used(api, user) -> int:
    return api.call("GET", "/v1/me", token=user["token"]).json["usage"]["jobs_used"]


def test_cancel_with_redis_down_keeps_the_refund(api, user, doomed_redis):
    job_id = api.call("POST", "/v1/jobs", JOB, token=user["token"]).json["id"]
    assert jobs_used(api, user) == 1
    doomed_redis.terminate()  # Redis goes away between the submission and the cancel
    doomed_redis.wait()

    canceled = api.call("POST", f"/v1/jobs/{job_id}/cancel", token=user["token"])

    assert canceled.status_code == 202, canceled.body
    assert canceled.json["status"] == "canceled"
    assert jobs_used(api, user) == 0  # the refund moved with the cancel, in its transaction
    again = api.call("POST", f"/v1/jobs/{job_id}/cancel", token=user["token"])
    assert again.status_code == 409 and jobs_used(api, user) == 0


def test_submit_with_redis_down_is_accepted_and_the_reaper_queues_it_later(api, user, doomed_redis):
    doomed_redis.terminate()
    doomed_redis.wait()
    submitted = api.call("POST", "/v1/jobs", JOB, token=user["token"])
    assert submitted.status_code == 202, submitted.body
    assert submitted.json["status"] == "queued" and jobs_used(api, user) == 1


def test_a_cancel_flag_of_an_earlier_attempt_does_not_stop_the_retried_job(api, user):
    job_id = api.call("POST", "/v1/jobs", JOB, token=user["token"]).json["id"]
    api.call("POST", f"/v1/jobs/{job_id}/cancel", token=user["token"])
    assert lifecycle.cancel_requested(job_id, attempt=1)

    retried = api.call("POST", f"/v1/jobs/{job_id}/retry", token=user["token"]).json
    assert retried["attempt"] == 2
    assert redis_client.client().exists(redis_keys.job_cancel(job_id))  # still there: stale
    assert not lifecycle.cancel_requested(job_id, attempt=2)
    assert queue.state(job_id) in ("waiting", "prioritized")


def test_retry_and_redrive_reopen_the_same_way(api, user):
    from chalicelib.runtime import ops

    job_id = api.call("POST", "/v1/jobs", JOB, token=user["token"]).json["id"]
    assert lifecycle.fail(job_id, "video_failed", "ffmpeg crashed", "video")
    assert jobs_used(api, user) == 0  # a system failure gives the reservation back

    assert job_id in ops.redrive(limit=1000, code="video_failed")
    job = api.call("GET", f"/v1/jobs/{job_id}", token=user["token"]).json
    assert job["status"] == "queued" and job["attempt"] == 2
    assert jobs_used(api, user) == 0  # an operator's redrive is not charged again
    assert queue.state(job_id) in ("waiting", "prioritized")
    events = api.call("GET", f"/v1/jobs/{job_id}/events", token=user["token"]).json["events"]
    assert events[-1]["type"] == "job.retrying"
    assert events[-1]["message"] == "attempt 2 redriven by an operator"
