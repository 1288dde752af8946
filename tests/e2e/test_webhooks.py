"""Outgoing webhooks: endpoints, and signed deliveries of job events by the worker, retried."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from standardwebhooks import Webhook

from chalicelib.infra import db
from tests.workers import FAST_TAKEOVER, Workers, private_queue, wait_for_status


class Receiver:
    """A webhook receiver on loopback that records deliveries, and answers 500 to the first
    delivery of the event type `fail_once`."""

    def __init__(self, fail_once: bytes | None = None):
        self.deliveries: list[tuple[dict, bytes]] = []
        self.fail_once = fail_once
        self.changed = threading.Condition()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["content-length"]))
                with receiver.changed:
                    receiver.deliveries.append(({k.lower(): v for k, v in self.headers.items()}, body))
                    failing = receiver.fail_once is not None and receiver.fail_once in body
                    if failing:
                        receiver.fail_once = None
                    receiver.changed.notify_all()
                self.send_response(500 if failing else 204)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def wait_for(self, predicate, timeout_s: float = 60) -> list:
        with self.changed:
            assert self.changed.wait_for(lambda: predicate(self.deliveries), timeout_s), self.deliveries
            return list(self.deliveries)

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver():
    r = Receiver()
    yield r
    r.close()


def register(api, user, url, **extra):
    return api.call("POST", "/v1/webhook-endpoints", {"url": url, **extra}, token=user["token"])


def test_endpoint_life_cycle_shows_the_secret_once(api, user, receiver):
    created = register(api, user, receiver.url)
    assert created.status_code == 201
    assert created.json["secret"].startswith("whsec_")
    assert "step.progress" not in created.json["events"] and "job.succeeded" in created.json["events"]
    listed = api.call("GET", "/v1/webhook-endpoints", token=user["token"]).json["items"]
    assert [e["id"] for e in listed] == [created.json["id"]] and "secret" not in listed[0]
    assert created.json["secret"] not in repr(db.fetch_all("SELECT * FROM webhook_endpoints"))
    other = api.signup()
    assert (
        api.call("DELETE", f"/v1/webhook-endpoints/{created.json['id']}", token=other["token"]).status_code
        == 404
    )
    assert (
        api.call("DELETE", f"/v1/webhook-endpoints/{created.json['id']}", token=user["token"]).status_code
        == 204
    )
    assert api.call("GET", "/v1/webhook-endpoints", token=user["token"]).json["items"] == []


@pytest.mark.parametrize(
    "body, field",
    [
        ({"url": "http://169.254.169.254/latest/meta-data"}, "url"),
        ({"url": "http://hooks.example.com/x"}, "url"),
        ({"url": "not a url"}, "url"),
        ({"url": "https://hooks.example.com/x", "events": ["job.exploded"]}, "events.0"),
    ],
)
def test_bad_endpoints_are_422(api, user, body, field):
    response = api.call("POST", "/v1/webhook-endpoints", body, token=user["token"])
    assert response.status_code == 422
    assert response.json["error"]["details"][0]["field"] == field


def test_a_jobs_webhook_url_must_be_a_registered_endpoint(api, user, receiver):
    job = {"prompt": "hooked", "duration_s": 5, "webhook_url": receiver.url}
    refused = api.call("POST", "/v1/jobs", job, token=user["token"])
    assert refused.status_code == 422 and refused.json["error"]["details"][0]["field"] == "webhook_url"
    register(api, user, receiver.url)
    assert api.call("POST", "/v1/jobs", job, token=user["token"]).status_code == 202


@pytest.mark.e2e
def test_job_events_are_delivered_signed_and_retried(api, user, monkeypatch, tmp_path):
    receiver = Receiver(fail_once=b'"type":"job.queued"')  # a 500 first: it must come again
    with private_queue(monkeypatch) as name:
        pool = Workers(tmp_path, {"QUEUE_NAME": name, "WORKER_CONCURRENCY": "1", **FAST_TAKEOVER})
        try:
            endpoint = register(api, user, receiver.url).json
            job_id = api.call(
                "POST",
                "/v1/jobs",
                {"prompt": "a bell rings over snow", "duration_s": 5, "aspect": "1:1"},
                token=user["token"],
            ).json["id"]
            pool.start()
            wait_for_status(job_id, {"succeeded"})
            got = receiver.wait_for(
                lambda ds: (
                    any(b"job.succeeded" in body for _, body in ds)
                    and sum(b"job.queued" in body for _, body in ds) == 2
                )
            )
        finally:
            pool.stop_all()
            receiver.close()
            print(pool.logs())

    verifier = Webhook(endpoint["secret"])
    payloads = [verifier.verify(body, headers) for headers, body in got]  # raises if unsigned
    types = [p["type"] for p in payloads]
    assert "step.progress" not in types
    # the first delivery (job.queued) got a 500 and came again later, with the same message id
    queued = [headers["webhook-id"] for (headers, _), p in zip(got, payloads) if p["type"] == "job.queued"]
    assert len(queued) == 2 and queued[0] == queued[1]
    assert {"job.started", "step.succeeded", "job.succeeded"} <= set(types)
    assert all(p["data"]["job_id"] == job_id for p in payloads)
    row = db.fetch_one("SELECT last_status FROM webhook_endpoints WHERE id = %s", (endpoint["id"],))
    assert row["last_status"] == 204
