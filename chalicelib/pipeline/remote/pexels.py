"""Stock footage from Pexels for the image step (`providers.image = "pexels"`, the user's key).

Per scene: search Pexels videos with the key words of the scene's visual, prefer a clip at least
as long as the scene and close to the frame's aspect, and download its smallest MP4 rendition at
or above the output height (size cap, deadline). No video? A Pexels photo, cover-cropped. No
photo either (or Pexels fails)? The offline still. Each fallback leaves a note on the job.
Downloads are kept in S3 under the job by Pexels id, so a retried job fetches nothing twice.
Pexels' rate-limit headers are honoured: with no request left, wait for the reset when it is
near, else give up on Pexels for now (the scenes fall back).
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urljoin

from chalicelib.core.settings import get_settings
from chalicelib.infra import outbound, storage, url_guard
from chalicelib.pipeline.concept.storyboard import Scene, key_words
from chalicelib.pipeline.errors import ProviderError
from chalicelib.pipeline.media.images import ASPECTS

log = logging.getLogger(__name__)

PROVIDER = "pexels"
ORIENTATION = {"9:16": "portrait", "16:9": "landscape", "1:1": "square"}
PER_PAGE = 15
RETRYABLE = frozenset({429, 500, 502, 503, 504})
MAX_REDIRECTS = 5
MAX_JSON_BYTES = 2 * 1024 * 1024  # a search page is ~50 KB
REDIRECTS = frozenset({301, 302, 303, 307, 308})


@dataclass
class PexelsClient:
    """Pexels' JSON API (Authorization: the bare key) and its file downloads."""

    api_key: str = field(repr=False)
    base_url: str = field(default_factory=lambda: get_settings().pexels_api_url)  # never the user's
    sleep: Callable[[float], None] = time.sleep
    remaining: int | None = None  # X-Ratelimit-Remaining of the last answer
    reset_at: float | None = None  # X-Ratelimit-Reset (epoch seconds) of the last answer
    waited_s: float = 0.0  # time spent waiting for Pexels' rate limit

    def __post_init__(self) -> None:
        settings = get_settings()
        self.base_url = self.base_url.rstrip("/")
        self.timeout_s = settings.provider_timeout_s
        self.max_retries = settings.provider_max_retries
        self.wait_max_s = settings.provider_retry_after_max_s

    def _respect_rate_limit(self) -> None:
        if self.remaining is None or self.remaining > 0 or self.reset_at is None:
            return
        wait = self.reset_at - time.time()
        if wait <= 0:
            return
        if wait > self.wait_max_s:
            raise ProviderError(
                "provider_unavailable", f"Pexels' rate limit is used up for {wait:.0f} s more", transient=True
            )
        self._wait(wait)

    def _wait(self, seconds: float) -> None:
        self.waited_s += seconds
        self.sleep(seconds)

    def _note_limits(self, headers: Mapping[str, str]) -> None:
        try:
            self.remaining = int(headers["x-ratelimit-remaining"])
            self.reset_at = float(headers["x-ratelimit-reset"])
        except (KeyError, ValueError):
            pass

    def get(self, path: str, params: dict) -> dict:
        """GET a JSON API path; ProviderError once retries are spent."""
        url = f"{self.base_url}/{path.lstrip('/')}"
        for attempt in range(self.max_retries + 1):
            self._respect_rate_limit()
            try:
                reply = outbound.request(
                    "GET",
                    url,
                    params=params,
                    headers={"Authorization": self.api_key},
                    deadline_s=self.timeout_s,
                    max_bytes=MAX_JSON_BYTES,
                )
            except outbound.OutboundError as exc:
                if exc.kind in ("blocked", "too_large"):
                    raise _provider_error(exc) from None
                problem, wait = f"cannot reach Pexels ({exc.message})", None
            else:
                self._note_limits(reply.headers)
                if reply.is_success:
                    try:
                        return reply.json()
                    except ValueError:
                        raise ProviderError(
                            "provider_bad_output", f"{path}: not JSON", transient=True
                        ) from None
                if reply.status in (401, 403):
                    raise ProviderError(
                        "provider_key_rejected",
                        f"Pexels rejected your key ({reply.status})",
                        transient=False,
                    )
                if reply.status not in RETRYABLE:
                    raise ProviderError(
                        "provider_bad_request", f"{path} answered {reply.status}", transient=False
                    )
                problem, wait = f"{path} answered {reply.status}", self._retry_wait(reply)
            if attempt == self.max_retries:
                raise ProviderError("provider_unavailable", problem, transient=True)
            if wait is not None and wait > self.wait_max_s:
                raise ProviderError(
                    "provider_unavailable", f"{problem}; retry in {wait:.0f} s", transient=True
                )
            self._wait(2.0**attempt if wait is None else wait)
        raise AssertionError("unreachable")

    def _retry_wait(self, reply: outbound.Reply) -> float | None:
        try:
            return max(0.0, float(reply.headers["retry-after"]))
        except (KeyError, ValueError):
            pass
        if self.reset_at is not None and reply.status == 429:
            return max(0.0, self.reset_at - time.time())
        return None

    def download(self, url: str, path: Path, max_bytes: int, deadline_s: float) -> int:
        """Stream a file to `path`: at most max_bytes, within deadline_s in all; -> bytes written.
        Redirects (Pexels links go through a CDN) are followed by hand, each target checked
        like the first: a redirect must not reach an address we would not call."""
        deadline = time.monotonic() + deadline_s
        for _ in range(MAX_REDIRECTS + 1):
            _check_destination(url)
            try:
                reply = outbound.request(
                    "GET",
                    url,
                    deadline_s=max(0.001, deadline - time.monotonic()),
                    max_bytes=max_bytes,
                    save_to=path,
                )
            except outbound.OutboundError as exc:
                raise _provider_error(exc) from None
            if reply.status in REDIRECTS and "location" in reply.headers:
                url = urljoin(url, reply.headers["location"])
                continue
            if not reply.is_success:
                raise ProviderError(
                    "provider_unavailable", f"download answered {reply.status}", transient=True
                )
            return path.stat().st_size
        raise ProviderError("provider_bad_output", f"more than {MAX_REDIRECTS} redirects", transient=False)


def _provider_error(exc: outbound.OutboundError) -> ProviderError:
    """What a failed exchange means for the step: a blocked address or an oversized answer will
    not change on a retry; a timeout or a broken connection may."""
    if exc.kind == "blocked":
        return ProviderError("provider_url_blocked", exc.message, transient=False)
    if exc.kind == "too_large":
        return ProviderError("provider_bad_output", exc.message, transient=False)
    return ProviderError("provider_unavailable", exc.message, transient=True)


def _check_destination(url: str) -> None:
    """https only (loopback http in the local stage); the address is checked when connecting."""
    try:
        url_guard.check_outbound(url, "download")
    except Exception as exc:  # ValidationFailed: never fetched
        raise ProviderError(
            "provider_url_blocked", f"refused to fetch {url[:100]}: {exc}", transient=False
        ) from None


def search_words(scene: Scene) -> str:
    """The key words of what the scene shows (before any ", style" suffix)."""
    return " ".join(key_words(scene.visual.split(",")[0], 4))


def _aspect_distance(width: int, height: int, aspect: str) -> float:
    target_w, target_h = ASPECTS[aspect]
    if not width or not height:
        return math.inf
    return abs(math.log((width / height) / (target_w / target_h)))


def pick_video(videos: list[dict], seconds: float, aspect: str) -> dict | None:
    """Long enough first, then closest to the aspect, then shortest (less to download)."""
    usable = [v for v in videos if any(f.get("link") for f in v.get("video_files") or [])]
    if not usable:
        return None
    return min(
        usable,
        key=lambda v: (
            float(v.get("duration") or 0) < seconds,
            round(_aspect_distance(v.get("width", 0), v.get("height", 0), aspect), 2),
            float(v.get("duration") or 0),
        ),
    )


def pick_rendition(video: dict, aspect: str) -> dict | None:
    """The smallest MP4 rendition at or above the output height, else the largest there is."""
    files = [
        f
        for f in video.get("video_files") or []
        if f.get("link") and f.get("file_type", "video/mp4") == "video/mp4" and f.get("height")
    ]
    if not files:
        return None
    height = ASPECTS[aspect][1]
    tall = [f for f in files if f["height"] >= height]
    size = lambda f: f["height"] * (f.get("width") or 1)  # noqa: E731
    return min(tall, key=size) if tall else max(files, key=size)


def credit(kind: str, found: dict) -> str:
    """Who made it, and its page: Pexels asks apps to credit the creator and link to Pexels."""
    who = (found.get("user") or {}).get("name") if kind == "video" else found.get("photographer")
    page = found.get("url") or "https://www.pexels.com"
    return f"{kind} by {who or 'a Pexels creator'} on Pexels ({page})"


def cache_key(job_id: str, name: str) -> str:
    return storage.artifact_key(job_id, "image", f"pexels-cache/{name}")


def _cached_download(client: PexelsClient, job_id: str, name: str, url: str, path: Path) -> int:
    """The file from this job's cache in S3, else downloaded (and cached); -> bytes fetched."""
    key = cache_key(job_id, name)
    if job_id and storage.exists(key):
        storage.download(key, path)
        return 0
    settings = get_settings()
    fetched = client.download(url, path, settings.stock_max_bytes, settings.stock_download_s)
    if job_id:
        storage.put_file(path, key)
    return fetched


def video_for(client: PexelsClient, job_id: str, scene: Scene, aspect: str, path: Path) -> dict | None:
    """Download the best Pexels clip for the scene to `path`; -> the video chosen, or None."""
    found = client.get(
        "videos/search",
        {"query": search_words(scene), "per_page": PER_PAGE, "orientation": ORIENTATION[aspect]},
    )
    video = pick_video(found.get("videos") or [], scene.duration_s, aspect)
    rendition = pick_rendition(video, aspect) if video else None
    if not video or rendition is None:
        return None
    name = f"video-{video['id']}-{rendition.get('id', rendition['height'])}.mp4"
    video["fetched_bytes"] = _cached_download(client, job_id, name, rendition["link"], path)
    return video


def photo_for(client: PexelsClient, job_id: str, scene: Scene, aspect: str, path: Path) -> dict | None:
    """Download a Pexels photo for the scene to `path` (as fetched); -> the photo, or None."""
    found = client.get(
        "v1/search", {"query": search_words(scene), "per_page": 5, "orientation": ORIENTATION[aspect]}
    )
    photos = [p for p in found.get("photos") or [] if (p.get("src") or {}).get("large2x")]
    if not photos:
        return None
    photo = min(photos, key=lambda p: _aspect_distance(p.get("width", 0), p.get("height", 0), aspect))
    photo["fetched_bytes"] = _cached_download(
        client, job_id, f"photo-{photo['id']}.jpg", photo["src"]["large2x"], path
    )
    return photo
