"""A local fake of fal.ai's queue API on 127.0.0.1, speaking it as fal.ai does.

`POST /{model_id}` (Authorization: `Key <key>`) queues a request and answers `{request_id,
status_url, response_url, cancel_url}`; `GET .../requests/{id}/status` answers IN_QUEUE (with
`queue_position`), IN_PROGRESS, then COMPLETED once the request's latency (drawn from a seeded
distribution) has passed; `GET .../requests/{id}` answers the model's output (`{images: [...]}`
for image models, `{video: {...}}` for image-to-video ones, whose model id ends in
"image-to-video"); `PUT .../requests/{id}/cancel` cancels a request not yet completed (202
CANCELLATION_REQUESTED, else 400 ALREADY_COMPLETED). Outputs are real PNGs and MP4s served from
`/files/`. A bad key gets 401; `storm(n)` answers the next n submissions 429 with Retry-After;
`flaky(n)` the next n calls 503. `output` can be switched to "malformed" (not an image) or
"oversized" (a file over the client's cap). `counts` count submissions, cancels, 429s and 5xx;
`running()` says how many requests are still queued or in progress (not completed nor canceled).

Latency: `latency_s` is one (low, high) range for every model, or a dict of ranges by how the
model id ends (e.g. {"flux/schnell": (3, 6), "image-to-video": (20, 40)}; "" matches any).
It is drawn from `seed`: in arrival order, or (`by_input=True`) from the seed, the model and
the input's prompt, so a scene gets the same latency whatever order its request arrives in
(benches compare runs). Each request records what it was given (`inputs[i]["latency_s"]`) and
when (time.monotonic) it was submitted, completed, canceled and its result fetched.
"""

from __future__ import annotations

import io
import json
import random
import re
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlparse

from PIL import Image

from tests.fakes.media import make_clip

REQUEST = re.compile(r"^/(?P<model>.+)/requests/(?P<id>[0-9a-f-]{36})(?P<tail>/status|/cancel)?$")


class FakeFal:
    def __init__(
        self,
        tmp_dir: Path,
        api_key: str,
        latency_s: tuple[float, float] | dict[str, tuple[float, float]] = (0.05, 0.2),
        seed: int = 26,
        queue_share: float = 0.4,
        by_input: bool = False,
    ):
        self.dir, self.api_key = tmp_dir, api_key
        self.latency_s, self.queue_share = latency_s, queue_share
        self.seed, self.by_input = seed, by_input
        self.random = random.Random(seed)
        self.requests: dict[str, dict] = {}
        self.files: dict[str, tuple[bytes, str]] = {}
        self.counts = {"submit": 0, "status": 0, "result": 0, "cancel": 0, "429": 0, "5xx": 0, "files": 0}
        self.inputs: list[dict] = []  # every submission's model and input
        self.output = "ok"  # "ok" | "malformed" | "oversized"
        self.hold = ""  # requests to models ending with this stay IN_PROGRESS (cancel tests)
        self.hold_prompts: set[str] = set()  # so do requests whose input's prompt is one of these
        self.changed = threading.Condition(self._lock_for_changes())
        self.retry_after_s = 0.2
        self._storm = self._flaky = 0
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def do_GET(self):
                fake._handle(self, "GET")

            def do_POST(self):
                fake._handle(self, "POST")

            def do_PUT(self):
                fake._handle(self, "PUT")

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def __enter__(self) -> FakeFal:
        self._make_media()
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._server.shutdown()
        self._server.server_close()

    def storm(self, count: int) -> None:
        """The next `count` submissions answer 429 with Retry-After."""
        with self._lock:
            self._storm = count

    def flaky(self, count: int) -> None:
        """The next `count` calls (any) answer 503."""
        with self._lock:
            self._flaky = count

    def _lock_for_changes(self) -> threading.RLock:
        self._lock = threading.RLock()  # re-entered by wait_until's predicates
        return self._lock

    def wait_until(self, predicate, timeout_s: float = 60.0) -> bool:
        """Block until predicate(self) holds (checked on every request the fake serves)."""
        with self.changed:
            return self.changed.wait_for(lambda: predicate(self), timeout_s)

    def latency_for(self, model: str, body: dict) -> float:
        """The seeded latency of a submission to `model` (under the lock)."""
        ranges = self.latency_s if isinstance(self.latency_s, dict) else {"": self.latency_s}
        suffix = max((k for k in ranges if model.endswith(k)), key=len, default=None)
        if suffix is None:
            raise KeyError(f"no latency range for model {model}")
        low, high = ranges[suffix]
        if self.by_input:
            return random.Random(f"{self.seed}:{model}:{body.get('prompt')}").uniform(low, high)
        return self.random.uniform(low, high)

    def running(self) -> int:
        with self._lock:
            return sum(1 for r in self.requests.values() if r["state"] not in ("COMPLETED", "CANCELED"))

    # ---- media ----------------------------------------------------------------------------
    def _make_media(self) -> None:
        out = io.BytesIO()
        Image.new("RGB", (576, 1024), (40, 90, 160)).save(out, "PNG")
        self.files["image.png"] = (out.getvalue(), "image/png")
        clip = make_clip(self.dir / "fal-clip.mp4", 288, 512, seconds=2.0, color="orange", audio=False)
        self.files["clip.mp4"] = (clip.read_bytes(), "video/mp4")
        self.files["malformed.png"] = (b"<html>not an image</html>", "image/png")
        self.files["oversized.png"] = (b"\x89PNG" + b"\0" * (3 * 1024 * 1024), "image/png")

    # ---- serving --------------------------------------------------------------------------
    def _handle(self, handler: BaseHTTPRequestHandler, method: str) -> None:
        try:
            self._serve(handler, method)
        finally:
            with self.changed:
                self.changed.notify_all()

    def _serve(self, handler: BaseHTTPRequestHandler, method: str) -> None:
        path = urlparse(handler.path).path
        if path.startswith("/files/"):
            with self._lock:
                self.counts["files"] += 1
            data, kind = self.files.get(path.removeprefix("/files/"), (b"", "text/plain"))
            return self._send(handler, 200 if data else 404, data, kind)
        if handler.headers.get("authorization") != f"Key {self.api_key}":
            return self._json(handler, 401, {"detail": "Invalid API key"})
        with self._lock:
            if self._flaky > 0:
                self._flaky -= 1
                self.counts["5xx"] += 1
                flaky = True
            else:
                flaky = False
        if flaky:
            return self._json(handler, 503, {"detail": "Service temporarily unavailable"})
        found = REQUEST.match(path)
        if method == "POST" and not found:
            return self._submit(handler, path.strip("/"))
        if not found:
            return self._json(handler, 404, {"detail": "Not found"})
        with self._lock:
            request = self.requests.get(found["id"])
        if request is None or request["model"] != found["model"]:
            return self._json(handler, 404, {"detail": "Request not found"})
        if method == "PUT" and found["tail"] == "/cancel":
            return self._cancel(handler, request)
        if method == "GET" and found["tail"] == "/status":
            return self._status(handler, request)
        if method == "GET" and not found["tail"]:
            return self._result(handler, request)
        return self._json(handler, 405, {"detail": "Method not allowed"})

    def _submit(self, handler, model: str) -> None:
        length = int(handler.headers.get("content-length") or 0)
        try:
            body = json.loads(handler.rfile.read(length) or b"{}")
        except ValueError:
            return self._json(handler, 422, {"detail": "body is not JSON"})
        with self._lock:
            if self._storm > 0:
                self._storm -= 1
                self.counts["429"] += 1
                storm = True
            else:
                storm = False
                self.counts["submit"] += 1
                latency = self.latency_for(model, body)
                request_id = str(uuid.uuid4())
                self.inputs.append({"model": model, "input": body, "latency_s": latency, "id": request_id})
        if storm:
            return self._json(
                handler, 429, {"detail": "Too many requests"}, {"Retry-After": f"{self.retry_after_s:g}"}
            )
        now = time.monotonic()
        request = {
            "id": request_id,
            "model": model,
            "input": body,
            "state": "IN_QUEUE",
            "latency_s": latency,
            "submitted_at": now,
            "started_at": now + latency * self.queue_share,
            "done_at": now + latency,
            "completed_at": None,  # when a call first found it done (the fake advances lazily)
            "canceled_at": None,
            "fetched": 0,  # results answered
        }
        with self._lock:
            self.requests[request_id] = request
        self._json(handler, 200, self._urls(request))

    def _urls(self, request: dict) -> dict:
        root = f"{self.base_url}/{request['model']}/requests/{request['id']}"
        return {
            "request_id": request["id"],
            "response_url": root,
            "status_url": f"{root}/status",
            "cancel_url": f"{root}/cancel",
        }

    def _advance(self, request: dict) -> str:
        with self._lock:
            now = time.monotonic()
            if request["state"] == "IN_QUEUE" and now >= request["started_at"]:
                request["state"] = "IN_PROGRESS"
            held = (bool(self.hold) and request["model"].endswith(self.hold)) or (
                request["input"].get("prompt") in self.hold_prompts
            )
            if request["state"] == "IN_PROGRESS" and now >= request["done_at"] and not held:
                request["state"] = "COMPLETED"
                request["completed_at"] = now
            return request["state"]

    def _status(self, handler, request: dict) -> None:
        with self._lock:
            self.counts["status"] += 1
        state = self._advance(request)
        urls = self._urls(request)
        if state == "CANCELED":  # fal answers a canceled request's status as completed, with an error
            return self._json(handler, 200, {"status": "COMPLETED", "response_url": urls["response_url"]})
        body: dict = {"status": state, "response_url": urls["response_url"]}
        if state == "IN_QUEUE":
            with self._lock:
                body["queue_position"] = sum(
                    1 for r in self.requests.values() if r["state"] == "IN_QUEUE" and r is not request
                )
        if state == "COMPLETED":
            body["metrics"] = {"inference_time": round(request["done_at"] - request["started_at"], 3)}
        self._json(handler, 202 if state != "COMPLETED" else 200, body)

    def _result(self, handler, request: dict) -> None:
        with self._lock:
            self.counts["result"] += 1
        state = self._advance(request)
        if state == "CANCELED":
            return self._json(handler, 400, {"detail": "Request was cancelled"})
        if state != "COMPLETED":
            return self._json(handler, 400, {"detail": "Request is still in progress"})
        with self._lock:
            request["fetched"] += 1
        name = {"malformed": "malformed.png", "oversized": "oversized.png"}.get(self.output, "image.png")
        if request["model"].endswith("image-to-video"):
            name = "malformed.png" if self.output == "malformed" else "clip.mp4"
            data = self.files[name][0]
            video = {
                "url": f"{self.base_url}/files/{name}",
                "content_type": "video/mp4",
                "file_size": len(data),
            }
            return self._json(handler, 200, {"video": video})
        image = {
            "url": f"{self.base_url}/files/{name}",
            "width": 576,
            "height": 1024,
            "content_type": "image/png",
        }
        body = {
            "images": [image],
            "seed": 42,
            "has_nsfw_concepts": [False],
            "prompt": request["input"].get("prompt"),
        }
        self._json(handler, 200, body)

    def _cancel(self, handler, request: dict) -> None:
        with self._lock:
            self.counts["cancel"] += 1
        if self._advance(request) == "COMPLETED":
            return self._json(handler, 400, {"status": "ALREADY_COMPLETED"})
        with self._lock:
            request["state"] = "CANCELED"
            request["canceled_at"] = time.monotonic()
        self._json(handler, 202, {"status": "CANCELLATION_REQUESTED"})

    def _json(self, handler, status: int, body: dict, headers: dict | None = None) -> None:
        self._send(handler, status, json.dumps(body).encode(), "application/json", headers)

    def _send(self, handler, status: int, body: bytes, kind: str, headers: dict | None = None) -> None:
        handler.send_response(status)
        handler.send_header("Content-Type", kind)
        handler.send_header("Content-Length", str(len(body)))
        for name, value in (headers or {}).items():
            handler.send_header(name, value)
        handler.end_headers()
        handler.wfile.write(body)
