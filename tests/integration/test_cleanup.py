"""Cleanup removes exactly what retention says may go, in bounded, resumable, idempotent runs.

Rows are aged with SQL and `now` is passed in, so nothing waits for time to pass.
"""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from chalicelib.core.ids import utcnow
from chalicelib.infra import audit, db, redis_keys, storage
from chalicelib.infra.redis_client import client as redis
from chalicelib.runtime import cleanup
from chalicelib.uploads import service as uploads
from tests.integration.test_uploads import PNG, post_file, start

# Against the standalone Redis and a cluster-mode one: streams of different jobs are in different slots.
pytestmark = pytest.mark.usefixtures("redis_mode")

STEPS = (
    "concept/concept.json",
    "image/scene-01.png",
    "video/video.mp4",
    "output/video.mp4",
    "output/thumbnail.jpg",
    "output/captions.srt",
)
NOTHING = {
    "jobs_expired": 0,
    "job_objects_deleted": 0,
    "uploads_expired": 0,
    "upload_objects_deleted": 0,
    "streams_deleted": 0,
    "audit_deleted": 0,
    "links_deleted": 0,
}


def finished_job(api, user, *, age: timedelta, now, status="succeeded", plan="free") -> str:
    """A job as the worker leaves it: artifacts in S3, outputs recorded, created `age` ago."""
    job_id = api.call("POST", "/v1/jobs", {"prompt": "old news", "duration_s": 5}, token=user["token"]).json[
        "id"
    ]
    for name in STEPS:
        storage.put_bytes(b"x", storage.job_prefix(job_id) + name, "application/octet-stream")
    outputs = {
        "video": storage.job_prefix(job_id) + "output/video.mp4",
        "thumbnail": storage.job_prefix(job_id) + "output/thumbnail.jpg",
        "captions": storage.job_prefix(job_id) + "output/captions.srt",
    }
    db.execute(
        "UPDATE jobs SET status = %s, plan = %s, outputs = %s, created_at = %s,"
        " finished_at = %s WHERE id = %s",
        (status, plan, json.dumps(outputs), now - age, now - age + timedelta(minutes=3), job_id),
    )
    return job_id


def job_objects(job_id: str) -> list[str]:
    return [name for name in STEPS if storage.exists(storage.job_prefix(job_id) + name)]


def test_jobs_past_their_plans_retention_expire_and_lose_their_media(api, user):
    now = utcnow()
    old = finished_job(api, user, age=timedelta(days=7, hours=1), now=now)
    old_failed = finished_job(api, user, age=timedelta(days=8), now=now, status="failed")
    young = finished_job(api, user, age=timedelta(days=6, hours=23), now=now)
    old_but_pro = finished_job(api, user, age=timedelta(days=8), now=now, plan="pro")

    counts = cleanup.run(now=now)

    assert counts["jobs_expired"] == 2
    assert counts["job_objects_deleted"] == 2 * len(STEPS)
    assert job_objects(old) == job_objects(old_failed) == []
    assert job_objects(young) == job_objects(old_but_pro) == list(STEPS)
    expired = api.call("GET", f"/v1/jobs/{old}", token=user["token"]).json
    assert expired["status"] == "expired" and expired["outputs"] is None
    kept = api.call("GET", f"/v1/jobs/{young}", token=user["token"]).json
    assert kept["status"] == "succeeded" and kept["outputs"]["video_url"]
    assert kept["outputs"]["expires_at"] > now.isoformat()
    listed = api.call("GET", "/v1/jobs?status=expired", token=user["token"]).json["items"]
    assert {j["id"] for j in listed} == {old, old_failed}

    assert cleanup.run(now=now) == NOTHING


def test_job_expiry_is_bounded_and_resumes_where_it_stopped(api, user):
    now = utcnow()
    ids = [finished_job(api, user, age=timedelta(days=10 - i), now=now) for i in range(3)]
    assert cleanup.run(now=now, limit=2)["jobs_expired"] == 2
    assert [bool(job_objects(i)) for i in ids] == [False, False, True]  # oldest first
    assert cleanup.run(now=now, limit=2)["jobs_expired"] == 1
    assert cleanup.run(now=now, limit=2) == NOTHING


def test_uploads_left_pending_over_a_day_expire_with_their_objects(api, user):
    now = utcnow()
    stale = start(api, user).json  # posted but never confirmed, so still pending
    post_file(stale, PNG)
    recent = start(api, user).json
    done = start(api, user).json
    post_file(done, PNG)
    assert api.call("GET", f"/v1/uploads/{done['id']}", token=user["token"]).json["status"] == "uploaded"
    for form, age in ((stale, timedelta(hours=25)), (recent, timedelta(hours=23)), (done, timedelta(days=3))):
        db.execute("UPDATE uploads SET created_at = %s WHERE id = %s", (now - age, form["id"]))

    counts = cleanup.run(now=now)

    assert counts["uploads_expired"] == 1 and counts["upload_objects_deleted"] == 1
    assert not storage.exists(uploads.incoming_key(user["user"]["id"], stale["id"]))
    status = {
        f["id"]: api.call("GET", f"/v1/uploads/{f['id']}", token=user["token"]).json["status"]
        for f in (stale, recent, done)
    }
    assert status == {stale["id"]: "expired", recent["id"]: "pending", done["id"]: "uploaded"}
    assert storage.exists(uploads.object_key_for(user["user"]["id"], done["id"]))
    assert cleanup.run(now=now) == NOTHING


def test_progress_streams_of_jobs_finished_over_a_day_ago_are_dropped(api, user):
    now = utcnow()
    ids = [
        api.call("POST", "/v1/jobs", {"prompt": f"stream {i}", "duration_s": 5}, token=user["token"]).json[
            "id"
        ]
        for i in range(3)
    ]
    old, recent, unfinished = ids
    for job_id, age in ((old, timedelta(hours=25)), (recent, timedelta(hours=23))):
        db.execute("UPDATE jobs SET status = 'failed', finished_at = %s WHERE id = %s", (now - age, job_id))
    db.execute("UPDATE jobs SET finished_at = %s WHERE id = %s", (now - timedelta(days=2), unfinished))

    counts = cleanup.run(now=now)

    assert counts["streams_deleted"] == 1
    assert [bool(redis().exists(redis_keys.job_events(i))) for i in ids] == [False, True, True]
    assert cleanup.run(now=now) == NOTHING


def test_stream_cleanup_is_bounded_and_resumes_where_it_stopped(api, user):
    now = utcnow()
    ids = [
        api.call("POST", "/v1/jobs", {"prompt": f"batch {i}", "duration_s": 5}, token=user["token"]).json[
            "id"
        ]
        for i in range(2)
    ]
    for i, job_id in enumerate(ids):
        db.execute(
            "UPDATE jobs SET status = 'canceled', finished_at = %s WHERE id = %s",
            (now - timedelta(days=3 - i), job_id),
        )
    assert cleanup.run(now=now, limit=1)["streams_deleted"] == 1
    assert [bool(redis().exists(redis_keys.job_events(i))) for i in ids] == [False, True]
    assert cleanup.run(now=now, limit=1)["streams_deleted"] == 1
    assert cleanup.run(now=now, limit=1) == NOTHING


def test_audit_entries_past_retention_are_deleted_oldest_first_in_batches(user):
    now = utcnow()
    ages = [400, 380, 366, 364]
    for days in ages:
        audit.record("test.aged", user_id=user["user"]["id"], target=f"{days}d")
        db.execute(
            "UPDATE audit_log SET created_at = %s WHERE action = 'test.aged' AND target = %s",
            (now - timedelta(days=days), f"{days}d"),
        )

    def left():
        return sorted(
            r["target"]
            for r in db.fetch_all(
                "SELECT target FROM audit_log WHERE action = 'test.aged' AND user_id = %s",
                (user["user"]["id"],),
            )
        )

    assert cleanup.run(now=now, limit=2)["audit_deleted"] == 2
    assert left() == ["364d", "366d"]
    assert cleanup.run(now=now, limit=2)["audit_deleted"] == 1
    assert left() == ["364d"]
    assert cleanup.run(now=now, limit=2) == NOTHING


def test_the_scheduled_handler_runs_a_pass():
    from functions.cleanup import handler

    assert set(handler({}, None)) == set(NOTHING)


def test_email_links_expired_over_a_day_ago_are_deleted_in_batches(api):
    user = api.signup()
    now = utcnow()
    for _ in range(2):
        assert api.call("POST", "/v1/auth/password-reset", {"email": user["email"]}).status_code == 202
    tokens = "SELECT COUNT(*) AS n FROM account_tokens WHERE user_id = %s"
    assert db.fetch_one(tokens, (user["user"]["id"],))["n"] == 3  # verification + two resets
    db.execute(
        "UPDATE account_tokens SET expires_at = %s WHERE user_id = %s AND purpose = 'password_reset'",
        (now - timedelta(days=2), user["user"]["id"]),
    )
    assert cleanup.run(now=now, limit=1)["links_deleted"] == 1
    assert cleanup.run(now=now, limit=1)["links_deleted"] == 1
    assert cleanup.run(now=now) == NOTHING
    assert db.fetch_one(tokens, (user["user"]["id"],))["n"] == 1  # the live verification link stays
