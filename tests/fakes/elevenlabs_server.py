"""A local fake of ElevenLabs' text to speech API on 127.0.0.1, speaking it as the real service
does: `POST /v1/text-to-speech/{voice_id}/with-timestamps?output_format=mp3_44100_128` with the
key in `xi-api-key` and a JSON body `{text, model_id, voice_settings?, previous_text?,
next_text?}`, answering `{audio_base64, alignment, normalized_alignment}` (real MP3, made by the
bundled ffmpeg: a tone per character, silence at spaces, so the audio follows the alignment);
`GET /v1/voices` lists the premade voices. Errors carry `{"detail": {"status", "message"}}`:
401 `invalid_api_key` for another key, 429 `too_many_concurrent_requests` (Retry-After) past
`max_concurrent` requests in flight, 400 for an unknown voice or model, 422 for a body without text.

Each request may be held for a latency drawn from a seeded distribution (`latency=(low, high)`,
`seed`; in arrival order, or with `by_input=True` from the seed and the text, so a line gets the
same latency whatever order it arrives in; the record keeps it as `latency_s`), and scripted like the fake OpenAI server: `server.script(SPEECH, "429", "ok")`.
Behaviours: "ok", "429", "500", "503", "401", "quota" (401 quota_exceeded), "slow" (held until
the server stops), "malformed" (a 200 whose audio is not audio), "no_alignment" (the audio
without its alignment), "bad_alignment" (arrays of different lengths), "huge" (a 200 answer
of `huge_bytes`). Requests are recorded (kind, voice, query, the xi-api-key header, JSON body,
status once answered, and the alignment sent) and counted; `wait_for_calls` blocks on a count.
"""

from __future__ import annotations

import base64
import json
import random
import subprocess
import threading
import time
import zlib
from collections import defaultdict, deque
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import imageio_ffmpeg
import numpy as np

SPEECH, VOICES = "with-timestamps", "voices"
MODELS = frozenset(
    {
        "eleven_multilingual_v2",
        "eleven_v3",
        "eleven_turbo_v2_5",
        "eleven_flash_v2_5",
        "eleven_turbo_v2",
        "eleven_flash_v2",
        "eleven_monolingual_v1",
    }
)
HALF_CREDIT = frozenset({"eleven_turbo_v2_5", "eleven_flash_v2_5", "eleven_turbo_v2", "eleven_flash_v2"})
PREMADE = {  # voice id -> name, as GET /v1/voices lists them in every account
    "9BWtsMINqrJLrRacOk9x": "Aria",
    "CwhRBWXzGAHq8TQ4Fs17": "Roger",
    "EXAVITQu4vr4xnSDxMaL": "Sarah",
    "FGY2WhTYpPnrIDTdsKH5": "Laura",
    "IKne3meq5aSn9XLyUdCD": "Charlie",
    "JBFqnCBsd6RMkjVDRZzb": "George",
    "N2lVS1w4EtoT3dr4eOWO": "Callum",
    "SAz9YHcvj6GT2YYXdXww": "River",
    "Xb7hH8MSUJpSbSDYk0k2": "Alice",
    "pqHfZKP75CvOlQylNhV4": "Bill",
    "21m00Tcm4TlvDq8ikWAM": "Rachel",
}
LEAD_IN_S, TAIL_S = 0.05, 0.2  # silence before the first character and after the last


class FakeElevenLabs:
    def __init__(
        self,
        api_key: str | None = None,
        latency: tuple[float, float] = (0.0, 0.0),
        seed: int = 0,
        max_concurrent: int = 0,  # 0: no limit
        retry_after: str = "1",
        by_input: bool = False,
    ):
        self.api_key = api_key  # when set, any other xi-api-key gets a 401
        self.error_detail = ""  # appended to every error message (e.g. text a server leaks)
        self.voices = dict(PREMADE)  # add an account's own (cloned) voices here
        self.latency, self.max_concurrent, self.retry_after = latency, max_concurrent, retry_after
        self.huge_bytes = 40 * 1024 * 1024
        self.requests: list[dict] = []
        self.in_flight = self.peak_in_flight = 0
        self._random, self._seed, self.by_input = random.Random(seed), seed, by_input
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
                fake._handle(self, "POST")

            def do_GET(self):
                fake._handle(self, "GET")

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def __enter__(self) -> FakeElevenLabs:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._release.set()
        self._server.shutdown()
        self._server.server_close()

    def script(self, kind: str, *behaviours: str) -> None:
        with self._lock:
            self._scripts[kind].extend(behaviours)

    def calls(self, kind: str = SPEECH) -> list[dict]:
        return [r for r in self.requests if r["kind"] == kind]

    def answered(self, kind: str = SPEECH) -> list[dict]:
        """The calls that got a 200 (a result the caller received, so paid for)."""
        return [r for r in self.calls(kind) if r.get("status") == 200]

    def wait_for_calls(self, count: int, kind: str = SPEECH, timeout_s: float = 60.0) -> list[dict]:
        with self._arrived:
            if not self._arrived.wait_for(lambda: len(self.calls(kind)) >= count, timeout_s):
                raise AssertionError(f"{kind}: {len(self.calls(kind))} of {count} requests in {timeout_s}s")
        return self.calls(kind)

    # ---- serving --------------------------------------------------------------------------
    def _handle(self, handler: BaseHTTPRequestHandler, method: str) -> None:
        raw = handler.rfile.read(int(handler.headers.get("content-length") or 0))
        url = urlsplit(handler.path)
        parts = url.path.strip("/").split("/")
        kind = "other"
        if (
            method == "POST"
            and len(parts) == 4
            and parts[:2] == ["v1", "text-to-speech"]
            and parts[3] == SPEECH
        ):
            kind = SPEECH
        elif method == "GET" and parts == ["v1", "voices"]:
            kind = VOICES
        try:
            body = json.loads(raw or b"{}")
        except ValueError:
            body = None
        key = handler.headers.get("xi-api-key")
        handler.record = {
            "kind": kind,
            "voice_id": parts[2] if kind == SPEECH else None,
            "query": {k: v[-1] for k, v in parse_qs(url.query).items()},
            "xi_api_key": key,
            "body": body,
            "at": time.monotonic(),  # arrival; answered_at once answered (ordering in tests)
        }
        with self._arrived:
            self.requests.append(handler.record)
            behaviour = self._scripts[kind].popleft() if self._scripts[kind] else "ok"
            self._arrived.notify_all()
            crowded = kind == SPEECH and 0 < self.max_concurrent <= self.in_flight
            if kind == SPEECH and not crowded:
                self.in_flight += 1
                self.peak_in_flight = max(self.peak_in_flight, self.in_flight)
            text = body.get("text") if isinstance(body, dict) else None
            draw = random.Random(f"{self._seed}:{text}") if self.by_input else self._random
            wait = draw.uniform(*self.latency)
            handler.record["latency_s"] = (
                wait if kind == SPEECH and not crowded and behaviour == "ok" else 0.0
            )
        try:
            self._answer(handler, kind, behaviour, key, body, crowded, wait)
        finally:
            if kind == SPEECH and not crowded:
                with self._lock:
                    self.in_flight -= 1

    def _answer(self, handler, kind: str, behaviour: str, key, body, crowded: bool, wait: float) -> None:
        if kind == "other":
            return self._send(handler, 404, {"detail": "Not Found"})
        if key is None:
            return self._error(
                handler, 401, "needs_authorization", "Neither authorization header nor xi-api-key received"
            )
        if (self.api_key is not None and key != self.api_key) or behaviour == "401":
            return self._error(handler, 401, "invalid_api_key", f"Invalid API key: {key}")
        if behaviour == "quota":
            return self._error(handler, 401, "quota_exceeded", "This request exceeds your quota of 10000.")
        if crowded or behaviour == "429":
            return self._error(
                handler,
                429,
                "too_many_concurrent_requests",
                "Too many concurrent requests for your subscription.",
                {"Retry-After": self.retry_after},
            )
        if behaviour in ("500", "503"):
            return self._error(handler, int(behaviour), "internal_error", "Something went wrong.")
        if behaviour == "slow":
            self._release.wait(60)
            return self._error(handler, 503, "internal_error", "too late")
        if wait > 0:
            self._release.wait(wait)  # the seeded latency (ends at once when the server stops)
        if kind == VOICES:
            voices = [
                {"voice_id": v, "name": n, "category": "premade", "labels": {}}
                for v, n in self.voices.items()
            ]
            return self._send(handler, 200, {"voices": voices})
        return self._speech(handler, behaviour, body)

    def _speech(self, handler, behaviour: str, body) -> None:
        record = handler.record
        if not isinstance(body, dict) or not isinstance(body.get("text"), str) or not body["text"]:
            return self._send(
                handler,
                422,
                {"detail": [{"loc": ["body", "text"], "msg": "field required", "type": "missing"}]},
            )
        if record["voice_id"] not in self.voices:
            return self._error(
                handler, 400, "voice_not_found", f"A voice with voice_id {record['voice_id']} was not found."
            )
        model = body.get("model_id") or "eleven_multilingual_v2"
        if model not in MODELS:
            return self._error(
                handler, 400, "model_not_found", f"A model with model ID {model} does not exist."
            )
        fmt = record["query"].get("output_format", "mp3_44100_128")
        try:
            codec, rate, bitrate = fmt.split("_")
            assert codec == "mp3"
        except (ValueError, AssertionError):
            return self._error(handler, 422, "invalid_output_format", f"unsupported output_format {fmt}")
        if behaviour == "huge":
            return self._send_bytes(handler, 200, b'{"audio_base64": "' + b"A" * self.huge_bytes + b'"}')
        text = body["text"]
        alignment = align(text)
        record["alignment"] = alignment
        audio = (
            b"not an mp3 at all" if behaviour == "malformed" else mp3_for(alignment, int(rate), int(bitrate))
        )
        answer: dict = {"audio_base64": base64.b64encode(audio).decode()}
        if behaviour == "bad_alignment":
            alignment = {
                **alignment,
                "character_end_times_seconds": alignment["character_end_times_seconds"][:-3],
            }
        if behaviour != "no_alignment":
            answer |= {"alignment": alignment, "normalized_alignment": alignment}
        cost = len(text) // 2 if model in HALF_CREDIT else len(text)  # credits: what the account is charged
        self._send(
            handler, 200, answer, {"character-cost": str(cost), "request-id": f"req{len(self.requests)}"}
        )

    def _error(self, handler, status: int, kind: str, message: str, headers: dict | None = None) -> None:
        self._send(
            handler, status, {"detail": {"status": kind, "message": message + self.error_detail}}, headers
        )

    def _send(self, handler, status: int, payload: dict, headers: dict | None = None) -> None:
        self._send_bytes(handler, status, json.dumps(payload).encode(), headers)

    def _send_bytes(self, handler, status: int, data: bytes, headers: dict | None = None) -> None:
        handler.record["answered_at"] = time.monotonic()  # before the caller can have it
        try:
            handler.send_response(status)
            handler.send_header("Content-Type", "application/json")
            handler.send_header("Content-Length", str(len(data)))
            for name, value in (headers or {}).items():
                handler.send_header(name, value)
            handler.end_headers()
            handler.wfile.write(data)
            handler.wfile.flush()
        except OSError:  # the client gave up (timeout, or a body over its cap)
            return
        handler.record["status"] = status


def align(text: str) -> dict:
    """A plausible per-character alignment: letters 55-95 ms (seeded by the text, so the same
    line is timed the same), spaces 40 ms, a pause after , ; : and . ! ?"""
    pick = random.Random(zlib.crc32(text.encode()))
    starts, ends, at = [], [], LEAD_IN_S
    for char in text:
        if char.isspace():
            length = 0.04
        elif char in ",;:":
            length = 0.15
        elif char in ".!?":
            length = 0.25
        else:
            length = pick.uniform(0.055, 0.095)
        starts.append(round(at, 3))
        at += length
        ends.append(round(at, 3))
    return {
        "characters": list(text),
        "character_start_times_seconds": starts,
        "character_end_times_seconds": ends,
    }


def mp3_for(alignment: dict, rate: int, bitrate_k: int) -> bytes:
    """MP3 of a voiced tone under every non-space character and silence elsewhere."""
    total = alignment["character_end_times_seconds"][-1] + TAIL_S
    pcm = np.zeros(int(total * rate), dtype=np.float64)
    for char, start, end in zip(
        alignment["characters"],
        alignment["character_start_times_seconds"],
        alignment["character_end_times_seconds"],
    ):
        if char.isspace() or not char.isalnum():
            continue
        first, last = int(start * rate), int(end * rate)
        t = np.arange(last - first) / rate
        pitch = 140 + (ord(char.lower()) % 26) * 6  # a little melody: each letter its own pitch
        pcm[first:last] = 0.3 * np.sin(2 * np.pi * pitch * t) + 0.1 * np.sin(4 * np.pi * pitch * t)
    samples = (np.clip(pcm, -1, 1) * 32767).astype("<i2").tobytes()
    done = subprocess.run(
        [
            imageio_ffmpeg.get_ffmpeg_exe(),
            "-nostdin",
            "-hide_banner",
            "-loglevel",
            "error",
            "-f",
            "s16le",
            "-ar",
            str(rate),
            "-ac",
            "1",
            "-i",
            "pipe:0",
            "-c:a",
            "libmp3lame",
            "-b:a",
            f"{bitrate_k}k",
            "-f",
            "mp3",
            "pipe:1",
        ],
        input=samples,
        capture_output=True,
        timeout=60,
        check=True,
    )
    return done.stdout
