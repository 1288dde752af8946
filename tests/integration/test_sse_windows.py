"""SSE over real HTTP (`chalice local`): a window answers at its first batch of events, not at
its bound, with a retry that reconnects at once; and across reconnects with Last-Event-ID no
event is lost or repeated."""

from __future__ import annotations

import json
import threading
import time

import httpx

from chalicelib.infra import redis_client, redis_keys
from chalicelib.jobs import progress
from chalicelib.jobs.states import EventType
from tests.workers import wait_until

WINDOW_S = 20  # the longest wait: a reply before it is a reply at the first batch


def _signed_up_job(base: str) -> tuple[dict, str, str, str]:
    with httpx.Client(base_url=base, timeout=30) as http:
        email = f"sse-{time.monotonic_ns()}@example.com"
        signup = http.post("/v1/auth/signup", json={"email": email, "password": "sse windows pw"}).json()
        auth = {"Authorization": f"Bearer {signup['access_token']}"}
        job = http.post("/v1/jobs", json={"prompt": "A kite over the dunes"}, headers=auth).json()
        cursor = http.get(f"/v1/jobs/{job['id']}/events", headers=auth).json()["next"]
    return auth, signup["user"]["id"], job["id"], cursor


def _frames(text: str) -> tuple[int | None, list[dict]]:
    """(retry ms, events) of one SSE response."""
    retry, events = None, []
    for frame in text.split("\n\n"):
        fields = dict(line.split(": ", 1) for line in frame.splitlines() if ": " in line)
        if "retry" in fields:
            retry = int(fields["retry"])
        if "data" in fields:
            event = json.loads(fields["data"])
            assert fields["id"] == event["id"] and fields["event"] == event["type"]
            events.append(event)
    return retry, events


def test_each_window_answers_at_its_first_event_before_the_bound(live_api):
    auth, user_id, job_id, cursor = _signed_up_job(live_api)
    slots = redis_keys.long_polls(user_id)
    with httpx.Client(base_url=live_api, timeout=WINDOW_S + 10) as http:
        for i in range(5):
            got: list = []

            def window(after=cursor, got=got) -> None:
                began = time.monotonic()
                reply = http.get(
                    f"/v1/jobs/{job_id}/events",
                    params={"wait": WINDOW_S},
                    headers={**auth, "Accept": "text/event-stream", "Last-Event-ID": after},
                )
                got.append((reply, time.monotonic() - began))

            reader = threading.Thread(target=window)
            reader.start()
            wait_until(
                lambda: redis_client.client().zcard(slots) == 1,
                10,
                "a long-poll slot taken",
                interval_s=0.005,
            )  # the window is open, waiting
            sent = progress.emit(
                job_id, EventType.step_progress, step="image", progress=5 + i, message=f"image {i + 1} of 5"
            )
            reader.join(WINDOW_S + 10)
            reply, took_s = got[0]
            assert reply.status_code == 200 and reply.headers["content-type"].startswith("text/event-stream")
            retry, events = _frames(reply.text)
            assert [e["id"] for e in events] == [sent.id]
            assert events[0]["message"] == f"image {i + 1} of 5"
            assert took_s < WINDOW_S  # answered at the event, not when the window ran out
            assert retry is not None and retry < 100  # and the browser reconnects at once
            cursor = sent.id


def test_no_event_is_lost_or_repeated_across_twenty_reconnects(live_api):
    auth, _, job_id, cursor = _signed_up_job(live_api)
    asked = threading.Semaphore(0)
    sent: list[str] = []

    def produce() -> None:  # a burst of 1..3 events per request the follower makes
        for burst in range(24):
            asked.acquire()
            for _ in range(1 + burst % 3):
                sent.append(progress.emit(job_id, EventType.step_progress, step="video", progress=burst).id)
        asked.acquire()
        sent.append(progress.emit(job_id, EventType.job_succeeded, progress=100).id)

    producer = threading.Thread(target=produce)
    producer.start()
    seen: list[str] = []
    reconnects = 0
    with httpx.Client(base_url=live_api, timeout=WINDOW_S + 10) as http:
        last = cursor
        while True:
            asked.release()
            reply = http.get(
                f"/v1/jobs/{job_id}/events",
                params={"wait": WINDOW_S},
                headers={**auth, "Accept": "text/event-stream", "Last-Event-ID": last},
            )
            reconnects += 1
            _, events = _frames(reply.text)
            seen += [e["id"] for e in events]
            last = seen[-1] if seen else last
            if events and events[-1]["type"] == "job.succeeded":
                break
    producer.join(30)
    assert reconnects >= 20
    assert seen == sent  # each once, in order
