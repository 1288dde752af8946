"""A local fake of the OpenAI HTTP API (chat completions, image generation, speech) on
127.0.0.1, so providers are tested over real HTTP without the internet.

Each test scripts what the next requests to a path get: `server.script("chat/completions",
"429", "ok")` answers 429 (Retry-After: 1) once, then succeeds; once a path's script is used up
it succeeds. Behaviours: "ok", "429", "500", "400", "401", "slow" (holds the request until the
server stops, so the client times out), "malformed" (a 200 whose content is not the JSON asked
for), "huge" (images: a few-KB PNG claiming 13000x13000 pixels). Requests are recorded (path,
Authorization and Idempotency-Key headers, JSON body or multipart fields, and the status once it
was answered) for assertions; `wait_for_calls` blocks until a path has had so many requests.
"""

from __future__ import annotations

import base64
import email.parser
import email.policy
import io
import json
import math
import re
import struct
import threading
import time
import wave
from collections import defaultdict, deque
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from PIL import Image

PATHS = ("chat/completions", "images/generations", "audio/speech", "audio/transcriptions")


class FakeOpenAI:
    def __init__(self, api_key: str | None = None):
        self.api_key = api_key  # when set, any other bearer token gets a 401
        self.error_detail = ""  # appended to every error message (e.g. text a server leaks)
        self.requests: list[dict] = []
        self._scripts: dict[str, deque[str]] = defaultdict(deque)
        self._lock = threading.Lock()
        self._arrived = threading.Condition(self._lock)
        self._release = threading.Event()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):  # quiet
                pass

            def do_POST(self):
                fake._handle(self)

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/v1"

    def __enter__(self) -> FakeOpenAI:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._release.set()  # slow answers end now
        self._server.shutdown()
        self._server.server_close()

    def script(self, path: str, *behaviours: str) -> None:
        with self._lock:
            self._scripts[path].extend(behaviours)

    def calls(self, path: str) -> list[dict]:
        return [r for r in self.requests if r["path"] == path]

    def answered(self, path: str) -> list[dict]:
        """The calls that got a 200 (a result the caller received, so paid for)."""
        return [r for r in self.calls(path) if r.get("status") == 200]

    def wait_for_calls(self, path: str, count: int, timeout_s: float = 60.0) -> list[dict]:
        """Until `path` has had `count` requests (an event, not a poll); returns them."""
        with self._arrived:
            if not self._arrived.wait_for(lambda: len(self.calls(path)) >= count, timeout_s):
                raise AssertionError(f"{path}: {len(self.calls(path))} of {count} requests in {timeout_s}s")
        return self.calls(path)

    # ---- serving --------------------------------------------------------------------------
    def _handle(self, handler: BaseHTTPRequestHandler) -> None:
        length = int(handler.headers.get("content-length") or 0)
        raw = handler.rfile.read(length)
        path = handler.path.split("/v1/", 1)[-1]
        auth = handler.headers.get("authorization", "")
        content_type = handler.headers.get("content-type", "")
        try:
            body = (
                _form(content_type, raw)
                if content_type.startswith("multipart/")
                else json.loads(raw or b"{}")
            )
        except ValueError:
            body = {}
        handler.record = {
            "path": path,
            "authorization": auth,
            "idempotency_key": handler.headers.get("idempotency-key"),
            "body": body,
            "at": time.monotonic(),  # arrival; answered_at once answered (ordering in tests)
        }
        with self._arrived:
            self.requests.append(handler.record)
            behaviour = self._scripts[path].popleft() if self._scripts[path] else "ok"
            self._arrived.notify_all()
        if path not in PATHS:
            return self._send(handler, 404, {"error": {"message": f"no route {path}"}})
        if self.api_key is not None and auth != f"Bearer {self.api_key}":
            behaviour = "401"
        if behaviour == "slow":
            self._release.wait(60)
            return self._send(handler, 503, {"error": {"message": "too late"}})
        if behaviour in ("400", "401", "500"):
            messages = {
                "400": "bad request",
                "401": f"Incorrect API key provided: {auth[7:]}",
                "500": "server error",
            }
            return self._send(
                handler, int(behaviour), {"error": {"message": messages[behaviour] + self.error_detail}}
            )
        if behaviour == "429":
            return self._send(handler, 429, {"error": {"message": "slow down"}}, {"Retry-After": "1"})
        if behaviour == "huge" and path == "images/generations":  # a decompression bomb
            from tests.fakes.bomb import bomb_png

            return self._send(
                handler, 200, {"data": [{"b64_json": base64.b64encode(bomb_png(13000, 13000)).decode()}]}
            )
        answer = {
            "chat/completions": _chat,
            "images/generations": _image,
            "audio/speech": _speech,
            "audio/transcriptions": _transcription,
        }[path](body, malformed=behaviour == "malformed")
        if isinstance(answer, bytes):
            return self._send_bytes(handler, 200, answer, "audio/wav")
        return self._send(handler, 200, answer)

    def _send(self, handler, status: int, payload: dict, headers: dict | None = None) -> None:
        self._send_bytes(handler, status, json.dumps(payload).encode(), "application/json", headers)

    def _send_bytes(
        self, handler, status: int, data: bytes, content_type: str, headers: dict | None = None
    ) -> None:
        handler.record["answered_at"] = time.monotonic()  # before the caller can have it
        try:
            handler.send_response(status)
            handler.send_header("Content-Type", content_type)
            handler.send_header("Content-Length", str(len(data)))
            for name, value in (headers or {}).items():
                handler.send_header(name, value)
            handler.end_headers()
            handler.wfile.write(data)
            handler.wfile.flush()
        except OSError:  # the client gave up (timeout)
            return
        handler.record["status"] = status


def _form(content_type: str, raw: bytes) -> dict:
    """A multipart form's fields (text) and files (bytes), by name."""
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
        f"Content-Type: {content_type}\r\n\r\n".encode() + raw
    )
    fields = {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        data = part.get_payload(decode=True)
        fields[name] = data if part.get_filename() else data.decode()
    return fields


def _transcription(body: dict, malformed: bool) -> dict:
    """Word timestamps: the prompt's words (we send the script as the prompt) spread evenly
    over the uploaded WAV, as verbose_json with timestamp_granularities[]=word answers."""
    if malformed:
        return {"text": "", "words": "nope"}
    with wave.open(io.BytesIO(body.get("file") or b""), "rb") as wav:
        seconds = wav.getnframes() / wav.getframerate()
    said = str(body.get("prompt", "")).split()
    step = seconds / max(1, len(said))
    return {
        "text": " ".join(said),
        "duration": seconds,
        "language": body.get("language", "en"),
        "words": [
            {"word": w.strip(".,!?"), "start": round(i * step, 3), "end": round((i + 0.8) * step, 3)}
            for i, w in enumerate(said)
        ],
    }


def _chat(body: dict, malformed: bool) -> dict:
    text = " ".join(m.get("content", "") for m in body.get("messages", []))
    count = int((re.search(r"exactly (\d+) scenes", text) or [0, 3])[1])
    idea = (re.search(r"Video idea: (.+?)\.", text) or [0, "an idea"])[1]
    concept = {
        "title": f"About {idea}"[:80],
        "hashtags": ["fake", "#test"],
        "scenes": [
            {"narration": f"Scene {i + 1} shows {idea}.", "visual": f"painting {i + 1} of {idea}"}
            for i in range(count)
        ],
    }
    content = "{not json" if malformed else json.dumps(concept)
    return {
        "id": "chatcmpl-fake",
        "object": "chat.completion",
        "choices": [
            {"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": "stop"}
        ],
        "usage": {
            "prompt_tokens": 50 + len(text) // 4,
            "completion_tokens": len(content) // 4,
            "total_tokens": 50 + len(text) // 4 + len(content) // 4,
        },
    }


def _image(body: dict, malformed: bool) -> dict:
    """A picture a quarter of the requested size, coloured by the prompt (so scaling is tested)."""
    if malformed:
        return {"data": [{"b64_json": "bm90IGFuIGltYWdl"}]}
    width, height = (int(v) // 4 for v in body.get("size", "1024x1024").split("x"))
    shade = sum(body.get("prompt", "").encode()) % 200
    image = Image.new("RGB", (width, height), (shade, 255 - shade, 128))
    for y in range(0, height, 16):
        image.paste((255, shade, 0), (0, y, width, y + 4))
    out = io.BytesIO()
    image.save(out, format="PNG")
    return {"created": 0, "data": [{"b64_json": base64.b64encode(out.getvalue()).decode()}]}


def _speech(body: dict, malformed: bool) -> bytes:
    """A tone, 60 ms per character of input, as 24 kHz WAV (what OpenAI answers for "wav")."""
    if malformed:
        return b"this is not audio"
    rate, seconds = 24000, max(0.3, 0.06 * len(body.get("input", "")))
    frames = b"".join(
        struct.pack("<h", int(8000 * math.sin(2 * math.pi * 220 * i / rate)))
        for i in range(int(rate * seconds))
    )
    out = io.BytesIO()
    with wave.open(out, "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(rate)
        wav.writeframes(frames)
    return out.getvalue()
