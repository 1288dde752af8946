"""Submitting and reading jobs through the API (API.md, Jobs). No worker runs here."""

from __future__ import annotations

import pytest

from chalicelib.infra import queue

JOB = {"prompt": "A fox learns to paint the northern lights", "duration_s": 10}


def test_submit_accepts_a_job_and_queues_it(api, user):
    response = api.submit(user, JOB)
    assert response.status_code == 202
    job = response.json
    assert job["status"] == "queued" and job["progress"] == 0 and job["attempt"] == 1
    assert [s["name"] for s in job["steps"]] == ["concept", "image", "video", "upload"]
    assert all(s["status"] == "pending" for s in job["steps"])
    # each step's share of the job's bar, which the console draws the step bars from
    assert sum(s["weight"] for s in job["steps"]) == 100 and all(s["weight"] > 0 for s in job["steps"])
    assert job["request"] == {
        **JOB,
        "aspect": "9:16",
        "language": "en",
        "caption_style": "karaoke",
        "narration": True,
        "music_volume": 0.35,
        "motion": "none",
    }
    assert job["outputs"] is None and job["error"] is None
    assert queue.state(job["id"]) in ("waiting", "prioritized")
    events = api.call("GET", f"/v1/jobs/{job['id']}/events", token=user["token"]).json
    assert [e["type"] for e in events["events"]] == ["job.queued"]
    assert events["status"] == "queued"


@pytest.mark.parametrize(
    "body, field",
    [
        ({"prompt": ""}, "prompt"),
        ({"prompt": "x" * 2001}, "prompt"),
        ({"prompt": "ok", "duration_s": 4}, "duration_s"),
        ({"prompt": "ok", "duration_s": 181}, "duration_s"),
        ({"prompt": "ok", "duration_s": "long"}, "duration_s"),
        ({"prompt": "ok", "aspect": "4:3"}, "aspect"),
        ({"prompt": "ok", "webhook_url": "not a url"}, "webhook_url"),
        ({"prompt": "ok", "colour": "red"}, "colour"),
        ({}, "prompt"),
    ],
)
def test_invalid_jobs_get_422_naming_the_field(api, user, body, field):
    response = api.submit(user, body)
    assert response.status_code == 422, response.body
    assert response.json["error"]["code"] == "validation_error"
    assert field in {d["field"] for d in response.json["error"]["details"]}


def test_duration_over_the_plan_limit_is_422(api, user):
    response = api.submit(user, {"prompt": "ok", "duration_s": 120})
    assert response.status_code == 422
    assert response.json["error"]["details"][0]["field"] == "duration_s"


def test_unknown_provider_is_422(api, user):
    response = api.submit(user, {"prompt": "ok", "providers": {"image": "dall-e-9"}})
    assert response.status_code == 422
    assert response.json["error"]["code"] == "unknown_provider"
    assert response.json["error"]["details"][0]["field"] == "providers.image"


def test_malformed_json_is_400_and_wrong_content_type_is_415(api, user):
    bad = api.call("POST", "/v1/jobs", raw=b'{"prompt": "unterminated', token=user["token"])
    assert bad.status_code == 400 and bad.json["error"]["code"] == "malformed_json"
    not_object = api.call("POST", "/v1/jobs", raw=b'["prompt"]', token=user["token"])
    assert not_object.status_code == 400
    not_utf8 = api.call("POST", "/v1/jobs", raw=b"\xff\xfe", token=user["token"])
    assert not_utf8.status_code == 400
    form = api.call(
        "POST",
        "/v1/jobs",
        raw=b"prompt=hi",
        token=user["token"],
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert form.status_code == 415 and form.json["error"]["code"] == "unsupported_media_type"


def test_same_idempotency_key_and_body_replays_the_same_job(api, user):
    first = api.submit(user, JOB, headers={"Idempotency-Key": "order-42"})
    again = api.submit(user, JOB, headers={"Idempotency-Key": "order-42"})
    assert first.status_code == again.status_code == 202
    assert again.json["id"] == first.json["id"]
    assert again.headers.get("idempotent-replayed") == "true"
    assert "idempotent-replayed" not in first.headers
    listed = api.call("GET", "/v1/jobs", token=user["token"]).json["items"]
    assert [j["id"] for j in listed] == [first.json["id"]]


def test_idempotency_key_reused_with_another_body_is_409(api, user):
    api.submit(user, JOB, headers={"Idempotency-Key": "k1"})
    response = api.submit(user, {**JOB, "duration_s": 12}, headers={"Idempotency-Key": "k1"})
    assert response.status_code == 409
    assert response.json["error"]["code"] == "idempotency_key_reused"


def test_idempotency_keys_are_per_user(api, user):
    other = api.signup()
    mine = api.submit(user, JOB, headers={"Idempotency-Key": "shared"}).json
    theirs = api.submit(other, JOB, headers={"Idempotency-Key": "shared"}).json
    assert mine["id"] != theirs["id"]


def test_idempotency_key_longer_than_255_is_422(api, user):
    response = api.submit(user, JOB, headers={"Idempotency-Key": "k" * 256})
    assert response.status_code == 422


def test_another_users_job_is_404_like_a_missing_one(api, user):
    other = api.signup()
    job_id = api.submit(user, JOB).json["id"]
    for path in (f"/v1/jobs/{job_id}", f"/v1/jobs/{job_id}/events"):
        theirs = api.call("GET", path, token=other["token"])
        missing = api.call("GET", path.replace(job_id, "job_doesnotexist"), token=user["token"])
        assert theirs.status_code == missing.status_code == 404
        assert theirs.json == missing.json
    assert api.call("GET", "/v1/jobs", token=other["token"]).json["items"] == []


def test_job_list_is_newest_first_with_cursor_and_status_filter(api, user):
    ids = [api.submit(user, {**JOB, "prompt": f"job {i}"}).json["id"] for i in range(5)]
    seen, cursor = [], None
    while True:
        page = api.call(
            "GET", "/v1/jobs?limit=2" + (f"&cursor={cursor}" if cursor else ""), token=user["token"]
        ).json
        seen += [j["id"] for j in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == ids[::-1]
    assert len(api.call("GET", "/v1/jobs?status=queued", token=user["token"]).json["items"]) == 5
    assert api.call("GET", "/v1/jobs?status=succeeded", token=user["token"]).json["items"] == []
    assert api.call("GET", "/v1/jobs?status=bogus", token=user["token"]).status_code == 422
    assert api.call("GET", "/v1/jobs?limit=0", token=user["token"]).status_code == 422
    assert api.call("GET", "/v1/jobs?limit=abc", token=user["token"]).status_code == 422


def test_get_job_supports_etag(api, user):
    job_id = api.submit(user, JOB).json["id"]
    first = api.call("GET", f"/v1/jobs/{job_id}", token=user["token"])
    etag = first.headers["etag"]
    cached = api.call("GET", f"/v1/jobs/{job_id}", token=user["token"], headers={"If-None-Match": etag})
    assert cached.status_code == 304 and not cached.body
    stale = api.call("GET", f"/v1/jobs/{job_id}", token=user["token"], headers={"If-None-Match": '"old"'})
    assert stale.status_code == 200 and stale.json["id"] == job_id


def test_events_long_poll_and_sse_framing(api, user):
    job_id = api.submit(user, JOB).json["id"]
    first = api.call("GET", f"/v1/jobs/{job_id}/events?wait=0", token=user["token"]).json
    cursor = first["next"]
    empty = api.call("GET", f"/v1/jobs/{job_id}/events?after={cursor}&wait=1", token=user["token"]).json
    assert empty["events"] == [] and empty["next"] == cursor

    sse = api.call(
        "GET",
        f"/v1/jobs/{job_id}/events?wait=0",
        token=user["token"],
        headers={"Accept": "text/event-stream"},
    )
    assert sse.status_code == 200 and sse.headers["content-type"].startswith("text/event-stream")
    text = sse.body.decode()
    assert f"id: {cursor}\nevent: job.queued\ndata: " in text
    resumed = api.call(
        "GET",
        f"/v1/jobs/{job_id}/events?wait=0",
        token=user["token"],
        headers={"Accept": "text/event-stream", "Last-Event-ID": cursor},
    )
    assert "event:" not in resumed.body.decode()

    assert api.call("GET", f"/v1/jobs/{job_id}/events?wait=21", token=user["token"]).status_code == 422
    assert api.call("GET", f"/v1/jobs/{job_id}/events?after=zzz", token=user["token"]).status_code == 422


def test_wrong_method_uses_the_error_envelope(api, user):
    wrong = api.call("PUT", "/v1/jobs", JOB, token=user["token"])
    assert wrong.status_code == 405 and wrong.json["error"]["code"] == "method_not_allowed"


def test_events_page_turns_terminal_only_with_the_final_event(api, user):
    from chalicelib.infra import db
    from chalicelib.jobs import progress, transitions
    from chalicelib.jobs.states import EventType

    job_id = api.submit(user, JOB).json["id"]
    cursor = api.call("GET", f"/v1/jobs/{job_id}/events", token=user["token"]).json["next"]
    with db.transaction() as cur:  # MySQL first, the event an instant later
        assert transitions.fail(cur, job_id, "video_failed", "boom", "video")
    page = api.call("GET", f"/v1/jobs/{job_id}/events?after={cursor}", token=user["token"]).json
    assert page["events"] == [] and page["status"] == "running"  # so the client polls once more
    progress.emit(job_id, EventType.job_failed, message="video_failed: boom")
    page = api.call("GET", f"/v1/jobs/{job_id}/events?after={cursor}", token=user["token"]).json
    assert [e["type"] for e in page["events"]] == ["job.failed"] and page["status"] == "failed"
    again = api.call("GET", f"/v1/jobs/{job_id}/events?after={page['next']}", token=user["token"]).json
    assert again["events"] == [] and again["status"] == "failed"


def test_a_stream_token_reads_only_its_own_jobs_events(api, user):
    """A browser's EventSource can't send headers: the console passes a job-scoped token."""
    job = api.call("POST", "/v1/jobs", {"prompt": "a stream token"}, token=user["token"]).json
    other = api.call("POST", "/v1/jobs", {"prompt": "another job"}, token=user["token"]).json
    minted = api.call("POST", f"/v1/jobs/{job['id']}/stream-token", token=user["token"])
    assert minted.status_code == 201
    token = minted.json["token"]

    ok = api.call(
        "GET", f"/v1/jobs/{job['id']}/events?stream_token={token}", headers={"Accept": "text/event-stream"}
    )
    assert ok.status_code == 200 and b"event: job.queued" in ok.body
    elsewhere = api.call("GET", f"/v1/jobs/{other['id']}/events?stream_token={token}")
    assert elsewhere.status_code == 401
    # It is not an access token either.
    assert api.call("GET", "/v1/me", token=token).status_code == 401
    stranger = api.signup()
    assert api.call("POST", f"/v1/jobs/{job['id']}/stream-token", token=stranger["token"]).status_code == 404


def test_sse_last_event_id_wins_over_the_urls_after(api, user):
    """An EventSource reconnects to its first URL, sending Last-Event-ID: that cursor counts."""
    job = api.call("POST", "/v1/jobs", {"prompt": "reconnects"}, token=user["token"]).json
    first = api.call("GET", f"/v1/jobs/{job['id']}/events", token=user["token"]).json
    last = first["next"]
    again = api.call(
        "GET",
        f"/v1/jobs/{job['id']}/events?after=0-0",
        token=user["token"],
        headers={"Accept": "text/event-stream", "Last-Event-ID": last},
    )
    assert b"event: job.queued" not in again.body
