"""A local fake of the Pexels API on 127.0.0.1: video search, photo search, and the files they
link to (real small MP4s and JPEGs made with ffmpeg and Pillow), with Pexels' rate-limit headers.

`FakePexels(tmp_dir, api_key)` serves a library the test fills with `add_video(tags, ...)` and
`add_photo(tags, ...)`; a search returns the items sharing a word with its query. Every rendition
of a video links to the same small MP4 (its name says which rendition was asked for), so tests
can check the choice without multi-megabyte files. `quota` requests per window, then 429 until
`reset_in_s` has passed. Requests are recorded (path, query, authorization).
"""

from __future__ import annotations

import io
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlparse

from PIL import Image

from tests.fakes.media import make_clip


class FakePexels:
    def __init__(self, tmp_dir: Path, api_key: str, quota: int = 1000, reset_in_s: float = 60.0):
        self.dir, self.api_key = tmp_dir, api_key
        self.quota, self.reset_in_s = quota, reset_in_s
        self.remaining, self.reset_at = quota, time.time() + reset_in_s
        self.videos: list[dict] = []
        self.photos: list[dict] = []
        self.files: dict[str, bytes] = {}
        self.redirects: dict[str, str] = {}  # file name -> where its link redirects
        self.requests: list[dict] = []
        self._lock = threading.Lock()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def do_GET(self):
                fake._handle(self)

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def __enter__(self) -> FakePexels:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._server.shutdown()
        self._server.server_close()

    # ---- the library ----------------------------------------------------------------------
    def add_video(
        self,
        tags: str,
        width: int,
        height: int,
        duration: int,
        color: str,
        renditions: tuple[tuple[int, int], ...] = (),
        clip: Path | None = None,
    ) -> dict:
        """A video whose renditions (width, height) all serve one real small MP4 of `color`
        (or the given `clip`, whatever it really holds)."""
        video_id = 1000 + len(self.videos)
        clip = clip or make_clip(
            self.dir / f"pexels-{video_id}.mp4",
            180,
            320 if height >= width else 100,
            seconds=1.0,
            color=color,
            audio=False,
        )
        files = []
        for n, (w, h) in enumerate(renditions or ((width, height),)):
            name = f"video-{video_id}-{w}x{h}.mp4"
            self.files[name] = clip.read_bytes()
            files.append(
                {
                    "id": video_id * 10 + n,
                    "quality": "hd" if h >= 720 else "sd",
                    "file_type": "video/mp4",
                    "width": w,
                    "height": h,
                    "fps": 25,
                    "link": f"{self.base_url}/files/{name}",
                }
            )
        video = {
            "id": video_id,
            "width": width,
            "height": height,
            "duration": duration,
            "url": f"https://www.pexels.com/video/{video_id}/",
            "tags": set(tags.split()),
            "user": {"name": "Fake Filmmaker"},
            "video_files": files,
            "video_pictures": [],
        }
        self.videos.append(video)
        return video

    def add_photo(self, tags: str, color: str) -> dict:
        photo_id = 5000 + len(self.photos)
        out = io.BytesIO()
        Image.new("RGB", (300, 400), color).save(out, "JPEG")
        name = f"photo-{photo_id}.jpg"
        self.files[name] = out.getvalue()
        link = f"{self.base_url}/files/{name}"
        photo = {
            "id": photo_id,
            "width": 300,
            "height": 400,
            "url": f"https://www.pexels.com/photo/{photo_id}/",
            "photographer": "Fake Photographer",
            "tags": set(tags.split()),
            "src": {"original": link, "large2x": link, "large": link},
        }
        self.photos.append(photo)
        return photo

    def calls(self, prefix: str) -> list[dict]:
        return [r for r in self.requests if r["path"].startswith(prefix)]

    # ---- serving --------------------------------------------------------------------------
    def _handle(self, handler: BaseHTTPRequestHandler) -> None:
        url = urlparse(handler.path)
        query = {k: v[0] for k, v in parse_qs(url.query).items()}
        with self._lock:
            self.requests.append(
                {"path": url.path, "query": query, "authorization": handler.headers.get("authorization")}
            )
        if url.path.startswith("/files/"):
            name = url.path.rsplit("/", 1)[-1]
            if name in self.redirects:  # as Pexels' links do, through a CDN
                handler.send_response(302)
                handler.send_header("Location", self.redirects[name])
                handler.send_header("Content-Length", "0")
                handler.end_headers()
                return
            data = self.files.get(name)
            content_type = "video/mp4" if url.path.endswith(".mp4") else "image/jpeg"
            return self._send(handler, 200 if data else 404, data or b"", content_type)
        if handler.headers.get("authorization") != self.api_key:
            return self._send(handler, 401, b'{"error": "bad key"}')
        with self._lock:
            if time.time() >= self.reset_at:
                self.remaining, self.reset_at = self.quota, time.time() + self.reset_in_s
            if self.remaining <= 0:
                return self._send(handler, 429, b'{"error": "Rate limit exceeded"}', limits=True)
            self.remaining -= 1
        words = set(query.get("query", "").lower().split())
        if url.path == "/videos/search":
            found = [self._public(v) for v in self.videos if v["tags"] & words]
            body = {
                "page": 1,
                "per_page": int(query.get("per_page", 15)),
                "videos": found,
                "total_results": len(found),
            }
        elif url.path == "/v1/search":
            found = [self._public(p) for p in self.photos if p["tags"] & words]
            body = {"page": 1, "photos": found, "total_results": len(found)}
        else:
            return self._send(handler, 404, b'{"error": "not found"}', limits=True)
        self._send(handler, 200, json.dumps(body).encode(), limits=True)

    @staticmethod
    def _public(item: dict) -> dict:
        return {k: v for k, v in item.items() if k != "tags"}

    def _send(
        self, handler, status: int, body: bytes, content_type: str = "application/json", limits: bool = False
    ) -> None:
        handler.send_response(status)
        handler.send_header("Content-Type", content_type)
        handler.send_header("Content-Length", str(len(body)))
        if limits:
            handler.send_header("X-Ratelimit-Limit", str(self.quota))
            handler.send_header("X-Ratelimit-Remaining", str(max(0, self.remaining)))
            handler.send_header("X-Ratelimit-Reset", str(int(self.reset_at) + 1))
        handler.end_headers()
        handler.wfile.write(body)
