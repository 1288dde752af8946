"""Inspect a clip from libavformat's own structures (PyAV), never from ffmpeg's printed summary:
a file's metadata is printed before the real `Duration:` and `Stream` lines there, so a crafted
`title` could pass a long, huge clip off as a short small one.

The reading runs in a child process (`python -m chalicelib.pipeline.media.probe`), as ffmpeg did:
the file is hostile, so a crash or a hang in the demuxer ends there, bounded in time and memory.
The decoders that stream analysis opens get the same pixel limit as every render input
(`-max_pixels`), so an 8K frame is refused before it is decoded. The result is checked here:
a video stream, codecs from the allowlist, every frame within the pixel limit.
"""

from __future__ import annotations

import json
import logging
import subprocess
import sys
from pathlib import Path

# what the API accepts in a clip's headers, by ffmpeg's codec names (a small pure module)
from chalicelib.uploads.media_headers import CLIP_AUDIO_CODECS as AUDIO_CODECS
from chalicelib.uploads.media_headers import CLIP_CODECS as VIDEO_CODECS

log = logging.getLogger(__name__)

ROOT = Path(__file__).resolve().parents[3]  # where `-m chalicelib...` resolves
TIMEOUT_S = 30
CHILD_MEMORY_BYTES = 1024 * 1024 * 1024  # address space of the child: analysis never decodes much
MAX_STREAMS = 16


def probe(path: Path) -> dict:
    """{"video_codec", "width", "height", "duration_s", "audio_codec" (or None), "fps"} of a
    video file; ValueError when the file is missing, unreadable, not a video, has a codec off
    the allowlist, or a frame over the pixel limit (settings.decode_max_pixels)."""
    from chalicelib.core.settings import get_settings

    path = Path(path)
    if not path.is_file():
        raise ValueError(f"not a file: {path.name}")
    max_pixels = get_settings().decode_max_pixels
    try:
        done = subprocess.run(
            [sys.executable, "-m", __name__, str(max_pixels), str(path.resolve())],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=TIMEOUT_S,
        )
    except subprocess.TimeoutExpired:
        raise ValueError(f"{path.name} took over {TIMEOUT_S} s to read") from None
    if done.returncode != 0:
        log.warning("probe of %s failed: %s", path.name, done.stderr.strip()[-500:])  # libav's words
        raise ValueError(f"not a video we can read: {path.name}")
    return _checked(json.loads(done.stdout), max_pixels, path.name)


def _checked(found: dict, max_pixels: int, name: str) -> dict:
    streams = found["streams"]
    videos = [s for s in streams if s["type"] == "video"]
    audios = [s for s in streams if s["type"] == "audio"]
    if not videos:
        raise ValueError(f"not a video: {name}")
    if len(streams) > MAX_STREAMS:
        raise ValueError(f"{name} has {len(streams)} streams; at most {MAX_STREAMS}")
    for stream in videos:  # every one: a filter's `[k:v]` need not pick the first
        if stream["codec"] not in VIDEO_CODECS:
            raise ValueError(
                f"{name}: video codec {stream['codec']} is not one of {', '.join(sorted(VIDEO_CODECS))}"
            )
        if not stream["width"] or not stream["height"]:
            raise ValueError(f"{name}: a video stream without a frame size")
        if stream["width"] * stream["height"] > max_pixels:
            raise ValueError(f"{name}: {stream['width']}x{stream['height']} is over {max_pixels} pixels")
    for stream in audios:
        if stream["codec"] not in AUDIO_CODECS:
            raise ValueError(
                f"{name}: audio codec {stream['codec']} is not one of {', '.join(sorted(AUDIO_CODECS))}"
            )
    # the longest anything declares: a short container duration cannot hide long streams
    duration = max([found["duration_s"] or 0.0, *(s["duration_s"] or 0.0 for s in streams)])
    video = videos[0]
    return {
        "video_codec": video["codec"],
        "width": video["width"],
        "height": video["height"],
        "duration_s": duration,
        "audio_codec": audios[0]["codec"] if audios else None,
        "fps": video["fps"],
    }


def read_streams(path: str, max_pixels: int) -> dict:
    """The container's duration and each stream's type, codec, size, duration and frame rate,
    from PyAV's structured fields (the mov demuxer, MP4's and QuickTime's, pinned; local file
    only). Runs in the child."""
    import av

    def seconds(value, base) -> float | None:
        return float(value * base) if value is not None and base is not None else None

    with av.open(
        path,
        format="mov",
        options={"max_pixels": str(max_pixels)},  # the decoders stream analysis opens
        container_options={"protocol_whitelist": "file"},
    ) as container:
        streams = []
        for stream in container.streams:
            codec = stream.codec_context
            name = codec.name if codec is not None else "unknown"
            rate = stream.average_rate or stream.guessed_rate if stream.type == "video" else None
            streams.append(
                {
                    "type": stream.type,
                    "codec": "pcm" if name.startswith("pcm_") else name,
                    "width": int(getattr(codec, "width", 0) or 0) if stream.type == "video" else 0,
                    "height": int(getattr(codec, "height", 0) or 0) if stream.type == "video" else 0,
                    "duration_s": seconds(stream.duration, stream.time_base),
                    "fps": float(rate) if rate else 0.0,
                }
            )
        duration = container.duration / av.time_base if container.duration is not None else None
    return {"duration_s": duration, "streams": streams}


if __name__ == "__main__":
    import resource

    resource.setrlimit(resource.RLIMIT_AS, (CHILD_MEMORY_BYTES, CHILD_MEMORY_BYTES))
    print(json.dumps(read_streams(sys.argv[2], int(sys.argv[1]))))
