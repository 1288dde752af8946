"""A local fake of Replicate's predictions API on 127.0.0.1, speaking it as the real service does:
`POST /v1/models/{owner}/{name}/predictions` with `Authorization: Bearer <token>` and a JSON body
`{"input": {...}}` (optionally `Prefer: wait=N`, held until done or N s) answers 201 with a
prediction `{id, model, version, input, logs, output, error, status, created_at, urls: {get,
cancel, stream, web}, metrics}`; `GET /v1/predictions/{id}` follows it (starting, processing,
succeeded, failed, canceled), the finished one with `output` (a list of file URLs for image
models, one URL for video models) and `metrics: {predict_time}`; `POST /v1/predictions/{id}/cancel`
cancels it. Errors are Replicate's problem documents `{title, detail, status}`: 401 for another
token, 404 for an unknown model or prediction, 422 for a body without `input.prompt`, 429 with
`Retry-After` (and `retry_after` in the body), 5xx.

Each prediction runs for a latency drawn from a seeded distribution (`latency=(low, high)`,
`seed`); outputs are real PNGs (image models) or MP4s (video models) served by the fake under
`/files/{id}/...`. Scripted like the other fakes: `server.script(CREATE, "429", "ok")`; create
behaviours: "ok", "429", "500", "503", "401", "failed" (the prediction fails), "malformed" (an
output that is not an image), "huge" (an output of `huge_bytes`), "no_output" (succeeded with
output null), "late" (runs `late_s`, then succeeds), "slow" (runs until canceled or the server
stops). Counters: `created` (successful
creates), `cancels` (cancel calls), `running()` (predictions neither finished nor canceled).
Each request is recorded with `at` (time.monotonic() on arrival) and, once answered, `status`
and `answered_at`: tests order events by them (e.g. nothing arrived during a 429's Retry-After).
A video model's clip has the frame size of its first frame (`start_image` or `image`, a data
URI) or of its `aspect_ratio`; `clip_seconds` long.
"""

from __future__ import annotations

import base64
import io
import json
import random
import secrets
import subprocess
import threading
import time
from collections import defaultdict, deque
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

import imageio_ffmpeg
from PIL import Image

CREATE, GET, CANCEL, FILE = "create", "get", "cancel", "file"
VIDEO_WORDS = ("video", "i2v", "kling", "wan", "minimax", "hailuo")  # model names that make clips
FINISHED = frozenset({"succeeded", "failed", "canceled"})
ASPECT_SIZES = {"1:1": (1024, 1024), "9:16": (576, 1024), "16:9": (1024, 576), "4:5": (816, 1024)}


def _now() -> str:
    return datetime.now(UTC).isoformat().replace("+00:00", "Z")


class FakeReplicate:
    def __init__(
        self,
        api_token: str | None = None,
        latency: tuple[float, float] = (0.0, 0.0),
        seed: int = 0,
        retry_after: str = "1",
        models: tuple[str, ...] = (
            "black-forest-labs/flux-schnell",
            "black-forest-labs/flux-dev",
            "kwaivgi/kling-v2.1",
            "wan-video/wan-2.2-i2v-fast",
        ),
    ):
        self.api_token = api_token  # when set, any other bearer token gets a 401
        self.latency, self.retry_after, self.models = latency, retry_after, set(models)
        self.huge_bytes = 40 * 1024 * 1024
        self.late_s = 8.0  # how long a "late" prediction runs
        self.clip_seconds = 2.0  # a video model's clip (real models make 5 or 10 s: the render loops it)
        self.clip_color: str | None = None  # a solid colour (easy to find in a render), else a test card
        self.requests: list[dict] = []
        self.predictions: dict[str, dict] = {}
        self.created = self.cancels = 0
        self._files: dict[str, tuple[bytes, str]] = {}
        self._random = random.Random(seed)
        self._scripts: dict[str, deque[str]] = defaultdict(deque)
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        self._closing = threading.Event()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):  # quiet
                pass

            def do_POST(self):
                fake._handle(self, "POST")

            def do_GET(self):
                fake._handle(self, "GET")

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def __enter__(self) -> FakeReplicate:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._closing.set()
        with self._changed:
            self._changed.notify_all()
        self._server.shutdown()
        self._server.server_close()

    def script(self, kind: str, *behaviours: str) -> None:
        with self._lock:
            self._scripts[kind].extend(behaviours)

    def calls(self, kind: str = CREATE) -> list[dict]:
        return [r for r in self.requests if r["kind"] == kind]

    def running(self) -> list[dict]:
        """Predictions that are neither finished nor canceled (advanced to now)."""
        with self._lock:
            for prediction in self.predictions.values():
                self._advance(prediction)
            return [p for p in self.predictions.values() if p["status"] not in FINISHED]

    def wait_for_created(self, count: int, timeout_s: float = 60.0) -> None:
        with self._changed:
            if not self._changed.wait_for(lambda: self.created >= count, timeout_s):
                raise AssertionError(f"{self.created} of {count} predictions created in {timeout_s}s")

    # ---- the predictions' life --------------------------------------------------------------
    def _advance(self, p: dict) -> None:
        """starting -> processing -> the scripted end, at the prediction's drawn times."""
        if p["status"] in FINISHED:
            return
        now = time.monotonic()
        if now >= p["_starts_at"] and p["status"] == "starting":
            p["status"], p["started_at"] = "processing", _now()
        if now < p["_done_at"] or p["_behaviour"] == "slow":
            return
        p["completed_at"] = _now()
        p["metrics"] = {"predict_time": round(p["_done_at"] - p["_starts_at"], 3)}
        behaviour = p["_behaviour"]
        if behaviour == "failed":
            p["status"], p["error"] = "failed", "CUDA out of memory"
            p["logs"] += "Traceback (most recent call last): ... CUDA out of memory\n"
            return
        p["status"] = "succeeded"
        p["logs"] += "done\n"
        if behaviour == "no_output":
            p["output"] = None
            return
        video = any(word in p["model"] for word in VIDEO_WORDS)
        if behaviour == "malformed":
            data, kind = b"<html>this is not an image</html>", "text/html"
        elif behaviour == "huge":
            data, kind = b"\x89PNG\r\n\x1a\n" + b"\0" * self.huge_bytes, "image/png"
        elif video:
            data, kind = mp4_clip(_frame_size(p["input"]), self.clip_seconds, self.clip_color), "video/mp4"
        else:
            data, kind = png_image(p["input"], p["id"]), "image/png"
        name = f"{p['id']}/out-0.{'mp4' if video else 'png'}"
        self._files[name] = (data, kind)
        url = f"{self.base_url}/files/{name}"
        p["output"] = url if video else [url]

    def _public(self, p: dict) -> dict:
        return {k: v for k, v in p.items() if not k.startswith("_")}

    # ---- serving ----------------------------------------------------------------------------
    def _handle(self, handler: BaseHTTPRequestHandler, method: str) -> None:
        raw = handler.rfile.read(int(handler.headers.get("content-length") or 0))
        parts = urlsplit(handler.path).path.strip("/").split("/")
        kind, target = "other", ""
        if (
            method == "POST"
            and len(parts) == 5
            and parts[0:2] == ["v1", "models"]
            and parts[4] == "predictions"
        ):
            kind, target = CREATE, f"{parts[2]}/{parts[3]}"
        elif method == "GET" and len(parts) == 3 and parts[:2] == ["v1", "predictions"]:
            kind, target = GET, parts[2]
        elif (
            method == "POST"
            and len(parts) == 4
            and parts[:2] == ["v1", "predictions"]
            and parts[3] == "cancel"
        ):
            kind, target = CANCEL, parts[2]
        elif method == "GET" and parts[0] == "files":
            kind, target = FILE, "/".join(parts[1:])
        try:
            body = json.loads(raw or b"{}")
        except ValueError:
            body = None
        auth = handler.headers.get("authorization")
        handler.record = {
            "kind": kind,
            "target": target,
            "authorization": auth,
            "body": body,
            "at": time.monotonic(),
        }
        with self._lock:
            self.requests.append(handler.record)
            behaviour = self._scripts[kind].popleft() if self._scripts[kind] else "ok"
        if kind == "other":
            return self._problem(handler, 404, "Not found", "The requested resource could not be found.")
        if kind == FILE:  # delivery URLs are signed, not authorized by the token
            found = self._files.get(target)
            if found is None:
                return self._problem(handler, 404, "Not found", "no such file")
            return self._send_bytes(handler, 200, found[0], found[1])
        if auth is None or not auth.startswith("Bearer "):
            return self._problem(handler, 401, "Unauthenticated", "You did not pass an authentication token")
        if (self.api_token is not None and auth != f"Bearer {self.api_token}") or behaviour == "401":
            return self._problem(
                handler, 401, "Unauthenticated", "You did not pass a valid authentication token"
            )
        if behaviour == "429":
            return self._problem(
                handler,
                429,
                "Request was throttled",
                f"Request was throttled. Expected available in {self.retry_after} seconds.",
                {"Retry-After": self.retry_after},
                {"retry_after": int(float(self.retry_after))},
            )
        if behaviour in ("500", "503"):
            return self._problem(handler, int(behaviour), "Internal Server Error", "Something went wrong.")
        if kind == CREATE:
            return self._create(handler, target, body, behaviour)
        with self._changed:
            p = self.predictions.get(target)
            if p is None:
                return self._problem(handler, 404, "Not found", "The requested resource could not be found.")
            if kind == CANCEL:
                self.cancels += 1
                self._advance(p)
                if p["status"] not in FINISHED:
                    p["status"], p["completed_at"] = "canceled", _now()
                self._changed.notify_all()
            else:
                self._advance(p)
            answer = self._public(p)
        return self._send(handler, 200, answer)

    def _create(self, handler, model: str, body, behaviour: str) -> None:
        if model not in self.models:
            return self._problem(handler, 404, "Not found", f"Model {model} does not exist")
        given = body.get("input") if isinstance(body, dict) else None
        if not isinstance(given, dict) or not isinstance(given.get("prompt"), str) or not given["prompt"]:
            return self._problem(handler, 422, "Input validation failed", "input: prompt is required")
        with self._changed:
            ident = secrets.token_hex(13)[:26]
            wait = self._random.uniform(*self.latency)
            start = time.monotonic()
            p = {
                "id": ident,
                "model": model,
                "version": "dp-" + secrets.token_hex(8),
                "input": given,
                "logs": "",
                "output": None,
                "data_removed": False,
                "error": None,
                "status": "starting",
                "created_at": _now(),
                "urls": {
                    "get": f"{self.base_url}/v1/predictions/{ident}",
                    "cancel": f"{self.base_url}/v1/predictions/{ident}/cancel",
                    "stream": f"{self.base_url}/v1/predictions/{ident}/stream",
                    "web": f"https://replicate.com/p/{ident}",
                },
                "_behaviour": behaviour,
                "_starts_at": start + wait * 0.1,
                "_done_at": start + (self.late_s if behaviour == "late" else wait),
            }
            self.predictions[ident] = p
            self.created += 1
            self._changed.notify_all()
        prefer = handler.headers.get("prefer", "")
        if prefer.startswith("wait"):  # sync mode: held until it finishes, or N seconds
            _, _, seconds = prefer.partition("=")
            limit = time.monotonic() + min(60.0, float(seconds) if seconds.isdigit() else 60.0)
            while time.monotonic() < limit and not self._closing.is_set():
                with self._lock:
                    self._advance(p)
                    if p["status"] in FINISHED:
                        break
                self._closing.wait(0.05)
        with self._lock:
            self._advance(p)
            answer = self._public(p)
        return self._send(handler, 201, answer)

    def _problem(self, handler, status: int, title: str, detail: str, headers=None, extra=None) -> None:
        self._send(
            handler, status, {"title": title, "detail": detail, "status": status, **(extra or {})}, headers
        )

    def _send(self, handler, status: int, payload: dict, headers: dict | None = None) -> None:
        self._send_bytes(handler, status, json.dumps(payload).encode(), "application/json", headers)

    def _send_bytes(self, handler, status: int, data: bytes, kind: str, headers: dict | None = None) -> None:
        handler.record["answered_at"] = time.monotonic()  # before the caller can have it
        try:
            handler.send_response(status)
            handler.send_header("Content-Type", kind)
            handler.send_header("Content-Length", str(len(data)))
            for name, value in (headers or {}).items():
                handler.send_header(name, value)
            handler.end_headers()
            handler.wfile.write(data)
            handler.wfile.flush()
        except OSError:  # the client gave up (timeout, or a body over its cap)
            return
        handler.record["status"] = status


def png_image(given: dict, seed: str) -> bytes:
    """A real PNG of the asked aspect: a gradient coloured by the prediction."""
    width, height = ASPECT_SIZES.get(str(given.get("aspect_ratio")), (1024, 1024))
    pick = random.Random(seed)
    top = tuple(pick.randrange(256) for _ in range(3))
    image = Image.new("RGB", (width, height), top)
    image.paste(tuple(255 - c for c in top), (0, height // 2, width, height))
    out = io.BytesIO()
    image.save(out, format="PNG", compress_level=1)
    return out.getvalue()


def _frame_size(given: dict) -> tuple[int, int]:
    """A clip's frame: its first frame's size (an image-to-video model keeps it), else the
    `aspect_ratio` asked, else 16:9; halved and even (small, quick to make)."""
    first = given.get("start_image") or given.get("image")
    width, height = ASPECT_SIZES.get(str(given.get("aspect_ratio")), (1024, 576))
    if isinstance(first, str) and first.startswith("data:") and "," in first:
        try:
            with Image.open(io.BytesIO(base64.b64decode(first.split(",", 1)[1]))) as image:
                width, height = image.size
        except (ValueError, OSError):
            pass
    return width // 4 * 2, height // 4 * 2


_clips: dict[tuple[tuple[int, int], float, str | None], bytes] = {}


def mp4_clip(size: tuple[int, int], seconds: float = 2.0, color: str | None = None) -> bytes:
    """A real H.264 MP4 at 24 fps: one `color`, or ffmpeg's moving test pattern; made once."""
    if (size, seconds, color) not in _clips:
        width, height = size
        source = f"color=c={color}:" if color else "testsrc2="
        done = subprocess.run(
            [
                imageio_ffmpeg.get_ffmpeg_exe(),
                "-nostdin", "-hide_banner", "-loglevel", "error",
                "-f", "lavfi", "-i", f"{source}size={width}x{height}:rate=24:duration={seconds}",
                "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p",
                "-movflags", "frag_keyframe+empty_moov", "-f", "mp4", "pipe:1",
            ],
            capture_output=True,
            timeout=60,
            check=True,
        )  # fmt: skip
        _clips[size, seconds, color] = done.stdout
    return _clips[size, seconds, color]
