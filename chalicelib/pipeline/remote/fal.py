"""fal.ai's queue API (`Authorization: Key ...`), and the image step's "fal" provider on it.

One generation: POST the input to `{base_url}/{model}` (-> request_id, status_url, response_url,
cancel_url), poll status_url (IN_QUEUE, IN_PROGRESS, COMPLETED) with a growing pause, GET
response_url (the model's output: URLs of its files), download the file. Every exchange goes
through `chalicelib.infra.outbound` (deadline, size cap, pinned address); the queue URLs fal
answers must stay on the origin we called (the key goes only there), the file URLs are checked
like any URL we fetch and get no key. The whole generation has one deadline (FAL_MAX_WAIT_S);
a stop (the job's cancel) or the deadline sends the cancel call, so nothing keeps running at
fal. A 429 pauses every call of the client until its Retry-After has passed (the storm slows
us down; it does not count as a failure); 5xx and broken connections are retried (bounded).

A job's generation is named by its call's idempotency key (`resume`): its queue URLs are kept in
Redis while it is in flight, so a worker killed mid-wait leaves them to its replacement, which
follows the same request at fal instead of submitting (and paying for) it again. fal takes no
Idempotency-Key: this is what keeps a crash from buying a scene twice.
"""

from __future__ import annotations

import base64
import json
import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from urllib.parse import urlsplit

from PIL import Image, ImageOps, UnidentifiedImageError

from chalicelib.core.settings import get_settings
from chalicelib.http.schemas.jobs import StepUsage
from chalicelib.infra import outbound, redis_client, redis_keys, url_guard
from chalicelib.pipeline.call_cache import NO_CACHE, Ask, Call, CallCache, Paid, digest_file
from chalicelib.pipeline.concept.storyboard import Concept, Scene
from chalicelib.pipeline.errors import ProviderError
from chalicelib.pipeline.media.ffmpeg import RenderCanceled
from chalicelib.pipeline.media.images import ASPECTS
from chalicelib.pipeline.remote import clips
from chalicelib.uploads import image_limits

log = logging.getLogger(__name__)

PROVIDER = "fal"
RETRYABLE = frozenset({408, 500, 502, 503, 504})
MAX_JSON_BYTES = 1024 * 1024  # a queue answer is a few hundred bytes
FIRST_POLL_S = 0.25
# Each pause between status polls 1.2x the last (up to FAL_POLL_MAX_S): a result is seen at most
# ~20% of its wait late. 1.5x let a 5.8 s image wait for the poll at 8 s (bench/generate.py).
POLL_GROWTH = 1.2
STOP_CHECK_S = 0.25  # how often a pause looks at the stop signal
# FLUX's named sizes closest to each aspect (https://fal.ai/models/fal-ai/flux/schnell/api)
IMAGE_SIZES = {"9:16": "portrait_16_9", "16:9": "landscape_16_9", "1:1": "square_hd"}


def _never() -> bool:
    return False


@dataclass
class FalClient:
    api_key: str = field(repr=False)
    base_url: str = "https://queue.fal.run"
    sleep: Callable[[float], None] = time.sleep  # injectable: tests record the waits
    waited_s: float = 0.0  # time spent paused by 429s
    throttled: int = 0  # 429 answers seen

    def __post_init__(self) -> None:
        settings = get_settings()
        self.base_url = self.base_url.rstrip("/")
        self.timeout_s = settings.provider_timeout_s
        self.max_retries = settings.provider_max_retries
        self.retry_after_max_s = settings.provider_retry_after_max_s
        self.max_wait_s = settings.fal_max_wait_s
        self.poll_max_s = settings.fal_poll_max_s
        self._origin = _origin(self.base_url)
        self._not_before = 0.0  # monotonic: no call before this (a 429's Retry-After)
        self._lock = threading.Lock()

    # ---- one generation -------------------------------------------------------------------
    def generate(
        self, model: str, body: dict, should_stop: Callable[[], bool] = _never, resume: str | None = None
    ) -> dict:
        """Queue `body` on `model`, wait for it, and return its output (JSON). RenderCanceled
        when should_stop() turns true; ProviderError when fal fails or the deadline passes;
        either way a request still at fal is canceled first. `resume` (the call's idempotency
        key): a request an earlier attempt left in flight is followed, not submitted again."""
        deadline = time.monotonic() + self.max_wait_s
        urls = self._kept(resume)
        if urls is None:
            queued = self._call(
                "POST", f"{self.base_url}/{model.strip('/')}", deadline, should_stop, json=body
            )
            urls = self._queue_urls(queued)
            if len(urls) < 3:
                raise ProviderError(
                    "provider_bad_output", "fal's queue URLs are not on its origin", transient=True
                )
            self._keep(resume, urls)
        else:
            log.info("following a fal request an earlier attempt left in flight")
        try:
            pause = FIRST_POLL_S
            while True:
                state = self._call("GET", urls["status_url"], deadline, should_stop).get("status")
                if state == "COMPLETED":
                    break
                if state not in ("IN_QUEUE", "IN_PROGRESS"):
                    raise ProviderError(
                        "provider_bad_output", f"fal answered status {state!r}", transient=True
                    )
                self._pause(pause, deadline, should_stop)
                pause = min(pause * POLL_GROWTH, self.poll_max_s)
            output = self._call("GET", urls["response_url"], deadline, should_stop)
        except BaseException:
            self._cancel(urls["cancel_url"])
            self._keep(resume, None)
            raise
        self._keep(resume, None)
        return output

    def _queue_urls(self, answer: dict) -> dict[str, str]:
        """The queue URLs of a submission's answer that are on the origin we called."""
        urls: dict[str, str] = {}
        for name in ("status_url", "response_url", "cancel_url"):
            url = answer.get(name)
            if isinstance(url, str) and _origin(url) == self._origin:
                urls[name] = url
        return urls

    def _kept(self, resume: str | None) -> dict[str, str] | None:
        """The queue URLs an earlier attempt kept for this generation (checked like fresh ones)."""
        if not resume:
            return None
        try:
            raw = redis_client.client().get(redis_keys.fal_request(resume))
            urls = self._queue_urls(json.loads(raw)) if raw else {}
        except redis_client.error(ValueError, TypeError, AttributeError) as exc:
            log.warning("fal: the kept request is unreadable (%s); submitting", type(exc).__name__)
            return None
        return urls if len(urls) == 3 else None

    def _keep(self, resume: str | None, urls: dict[str, str] | None) -> None:
        """Remember (or, done, forget) the request in flight; best effort: without Redis a
        replacement submits again, as it would without this."""
        if not resume:
            return
        key = redis_keys.fal_request(resume)
        try:
            if urls is None:
                redis_client.client().delete(key)
            else:
                redis_client.client().set(key, json.dumps(urls), ex=int(self.max_wait_s) + 60)
        except redis_client.error() as exc:
            log.warning("fal: could not keep the request in flight (%s)", type(exc).__name__)

    def _cancel(self, url: str) -> None:
        """Best effort, bounded: tell fal to stop (a completed request answers 400: fine)."""
        try:
            outbound.request(
                "PUT",
                url,
                headers=self._headers(),
                deadline_s=min(5.0, self.timeout_s),
                max_bytes=MAX_JSON_BYTES,
            )
        except outbound.OutboundError as exc:
            log.warning("fal cancel failed: %s", exc.message)

    def _headers(self) -> dict[str, str]:
        return {"Authorization": f"Key {self.api_key}"}

    def _call(
        self,
        method: str,
        url: str,
        deadline: float,
        should_stop: Callable[[], bool],
        json: dict | None = None,
    ) -> dict:
        """One queue exchange as JSON, retried on 429 (paced by Retry-After, until the deadline)
        and on 5xx / broken connections (PROVIDER_MAX_RETRIES)."""
        failures = 0
        while True:
            self._pause(self._not_before - time.monotonic(), deadline, should_stop)
            left = deadline - time.monotonic()
            try:
                reply = outbound.request(
                    method,
                    url,
                    headers=self._headers(),
                    json=json,
                    deadline_s=max(0.001, min(self.timeout_s, left)),
                    max_bytes=MAX_JSON_BYTES,
                )
            except outbound.OutboundError as exc:
                if exc.kind == "blocked":
                    raise ProviderError("provider_url_blocked", exc.message, transient=False) from None
                if exc.kind == "too_large":
                    raise ProviderError("provider_bad_output", exc.message, transient=False) from None
                problem = f"cannot reach fal ({exc.message})"
            else:
                if reply.status in (200, 201, 202):
                    try:
                        answer = reply.json()
                    except ValueError:
                        answer = None
                    if not isinstance(answer, dict):
                        raise ProviderError(
                            "provider_bad_output", "fal's answer is not a JSON object", transient=True
                        )
                    return answer
                if reply.status in (401, 403):
                    raise ProviderError(
                        "provider_key_rejected", f"fal rejected the key ({reply.status})", transient=False
                    )
                if reply.status == 429:
                    self._throttle(reply)
                    continue
                if reply.status not in RETRYABLE:
                    raise ProviderError(
                        "provider_bad_request",
                        f"fal answered {reply.status}",
                        transient=False,
                        detail=self._said(reply),
                    )
                problem = f"fal answered {reply.status}"
            failures += 1
            if failures > self.max_retries:
                raise ProviderError("provider_unavailable", problem, transient=True)
            self._pause(2.0 ** (failures - 1), deadline, should_stop)

    def _throttle(self, reply: outbound.Reply) -> None:
        try:
            wait = min(max(0.0, float(reply.headers.get("retry-after", ""))), self.retry_after_max_s)
        except ValueError:
            wait = 1.0
        with self._lock:
            self.throttled += 1
            self._not_before = max(self._not_before, time.monotonic() + wait)

    def _pause(self, seconds: float, deadline: float, should_stop: Callable[[], bool]) -> None:
        """Wait `seconds`, looking at the stop signal as it goes; past the deadline, fail."""
        end = time.monotonic() + max(0.0, seconds)
        while True:
            if should_stop():
                raise RenderCanceled()
            now = time.monotonic()
            if now >= deadline:
                raise ProviderError(
                    "provider_unavailable", f"fal did not finish within {self.max_wait_s:g} s", transient=True
                )
            if now >= end:
                return
            step = min(STOP_CHECK_S, end - now, deadline - now)
            with self._lock:
                self.waited_s += step
            self.sleep(step)

    def _said(self, reply: outbound.Reply) -> str:
        return reply.content.decode("utf-8", "replace").replace(self.api_key, "[redacted]")[:300]

    # ---- outputs --------------------------------------------------------------------------
    def download(self, url: object, path: Path, max_bytes: int) -> int:
        """A file fal's answer names, to `path` (no key sent; size cap, deadline); -> bytes."""
        if not isinstance(url, str):
            raise ProviderError("provider_bad_output", "fal's answer names no file URL", transient=True)
        try:
            url_guard.check_outbound(url, "download")
        except Exception as exc:  # ValidationFailed: never fetched
            raise ProviderError(
                "provider_url_blocked", f"refused to fetch fal's file: {exc}", transient=False
            ) from None
        try:
            reply = outbound.request(
                "GET", url, deadline_s=get_settings().stock_download_s, max_bytes=max_bytes, save_to=path
            )
        except outbound.OutboundError as exc:
            kind = "provider_bad_output" if exc.kind == "too_large" else "provider_unavailable"
            raise ProviderError(
                kind, f"fal's file: {exc.message}", transient=exc.kind != "too_large"
            ) from None
        if not reply.is_success:
            raise ProviderError("provider_unavailable", f"fal's file answered {reply.status}", transient=True)
        return path.stat().st_size


def _origin(url: str) -> tuple[str, str, int | None]:
    parts = urlsplit(url)
    return parts.scheme, (parts.hostname or "").lower(), parts.port


def image_url(output: dict) -> object:
    """The first image's URL of a FLUX answer ({"images": [{"url", "width", ...}]})."""
    images = output.get("images")
    first = images[0] if isinstance(images, list) and images else None
    return first.get("url") if isinstance(first, dict) else None


def _unusable(why: str) -> ProviderError:
    return ProviderError("provider_bad_output", f"fal's image is unusable: {why}", transient=True)


def _generated_image(
    client: FalClient, model: str, body: dict, work: Path, should_stop: Callable[[], bool], key: str | None
) -> tuple[bytes, dict[str, float]]:
    """One image made and fetched: its bytes (capped) and what fal bills for it."""
    output = client.generate(model, body, should_stop, resume=key)
    client.download(image_url(output), work, get_settings().fal_max_output_bytes)
    try:
        return work.read_bytes(), {"images": 1}
    finally:
        work.unlink(missing_ok=True)


def render_images(
    client: FalClient,
    concept: Concept,
    aspect: str,
    style: str | None,
    paths: list[Path],
    model: str,
    cache: CallCache = NO_CACHE,
    should_stop: Callable[[], bool] = _never,
    on_done: Callable[[], None] = lambda: None,
) -> StepUsage:
    """One generated still per scene, FAL_PARALLEL_CALLS at a time, each kept in the job's call
    cache as it arrives and checked like an upload (type, pixel limit) before it is fitted to
    the frame. Any scene failing fails the provider (the chain falls back with a note)."""
    started = time.monotonic()

    def one(scene: Scene, path: Path) -> Paid:
        prompt = f"{scene.visual}." + (f" Style: {style}." if style else "") + " No text or letters."
        body = {
            "prompt": prompt,
            "image_size": IMAGE_SIZES[aspect],
            "num_images": 1,
            "enable_safety_checker": True,
        }
        call = Call(PROVIDER, model, "queue", body)
        path.parent.mkdir(parents=True, exist_ok=True)
        fetched = path.with_suffix(".fal")
        paid = cache.remember(call, partial(_generated_image, client, model, body, fetched, should_stop))
        try:
            with image_limits.open_checked(paid.content) as image:  # bounded before it decodes
                fitted = ImageOps.fit(image.convert("RGB"), ASPECTS[aspect], Image.Resampling.LANCZOS)
        except (ValueError, UnidentifiedImageError, OSError) as exc:
            cache.forget(call)
            raise _unusable(
                exc.message if isinstance(exc, image_limits.ImageRejected) else "not an image"
            ) from None
        fitted.save(path, format="PNG", compress_level=1)
        on_done()
        return paid

    with ThreadPoolExecutor(get_settings().fal_parallel_calls) as pool:
        futures = [pool.submit(one, scene, path) for scene, path in zip(concept.scenes, paths)]
        try:
            results = [f.result() for f in futures]
        except BaseException:
            for future in futures:
                future.cancel()  # not started yet: never submitted to fal
            raise
    usage = StepUsage(purpose="image", provider=PROVIDER, model=model, variant=IMAGE_SIZES[aspect])
    for paid in results:
        paid.add_to(usage)
        usage.bytes += len(paid.content)
    usage.wall_s = round(time.monotonic() - started, 3)
    return usage


def _generated_clip(
    client: FalClient, model: str, body: dict, work: Path, should_stop: Callable[[], bool], key: str | None
) -> tuple[bytes, dict[str, float]]:
    output = client.generate(model, body, should_stop, resume=key)
    video = output.get("video")
    client.download(
        video.get("url") if isinstance(video, dict) else None, work, get_settings().fal_max_output_bytes
    )
    try:
        return work.read_bytes(), {"video_s": float(body["duration"])}
    finally:
        work.unlink(missing_ok=True)


def render_clips(
    client: FalClient,
    scenes: list[Scene],
    aspect: str,
    stills: list[Path],
    model: str,
    check: Callable[[Path], str | None],
    notes: list[str],
    cache: CallCache = NO_CACHE,
    should_stop: Callable[[], bool] = _never,
    on_done: Callable[[], None] = lambda: None,
) -> StepUsage:
    """Per scene, its still animated by an image-to-video model (the scene's visual as the
    motion prompt, the frame's aspect, the still sent as a data URI), FAL_PARALLEL_CALLS at a
    time, through AI motion's shared loop (remote/clips.py: cache, probe, notes, stop)."""

    def make(scene: Scene, still: Path) -> tuple[Call, Ask]:
        body = {
            "prompt": scene.visual,
            "duration": str(clips.clip_seconds(scene.duration_s)),
            "aspect_ratio": aspect,
            "negative_prompt": "blur, distortion, text, letters",
        }

        def ask(key: str | None) -> tuple[bytes, dict[str, float]]:
            sent = {
                **body,
                "image_url": "data:image/png;base64," + base64.b64encode(still.read_bytes()).decode(),
            }
            return _generated_clip(client, model, sent, still.with_suffix(".fal"), should_stop, key)

        return Call(PROVIDER, model, "queue", {**body, "image": digest_file(still)}), ask

    return clips.render_clips(
        "fal",
        StepUsage(purpose="video", provider=PROVIDER, model=model, variant=aspect),
        scenes,
        stills,
        make,
        check,
        notes,
        get_settings().fal_parallel_calls,
        cache,
        on_done,
    )
