"""Real small media files made with ffmpeg, for tests and the fake servers."""

from __future__ import annotations

import subprocess
from pathlib import Path

import imageio_ffmpeg


def make_clip(
    path: Path,
    width: int = 320,
    height: int = 568,
    seconds: float = 2.0,
    color: str | None = None,
    audio: bool = True,
    fps: int = 25,
    container: str = "mp4",
    metadata: dict[str, str] | None = None,
) -> Path:
    """An H.264 clip: a solid `color` (easy to find in a render) or ffmpeg's moving test card,
    with a 440 Hz tone unless `audio` is False. `container` "mov" makes a QuickTime file;
    `metadata` are container tags (e.g. a title)."""
    source = (
        f"color=c={color}:size={width}x{height}:rate={fps}"
        if color
        else f"testsrc2=size={width}x{height}:rate={fps}"
    )
    argv = [
        imageio_ffmpeg.get_ffmpeg_exe(),
        "-nostdin",
        "-y",
        "-hide_banner",
        "-loglevel",
        "error",
        "-f",
        "lavfi",
        "-i",
        source,
    ]
    if audio:
        argv += ["-f", "lavfi", "-i", "sine=frequency=440:sample_rate=44100", "-c:a", "aac", "-b:a", "64k"]
    for key, value in (metadata or {}).items():
        argv += ["-metadata", f"{key}={value}"]
    argv += [
        "-t",
        f"{seconds}",
        "-c:v",
        "libx264",
        "-preset",
        "ultrafast",
        "-pix_fmt",
        "yuv420p",
        "-f",
        container,
        str(path),
    ]
    subprocess.run(argv, check=True, capture_output=True, timeout=60)
    return path


# A title that imitates ffmpeg's own summary of a short, small H.264 clip: `ffmpeg -i` prints
# the metadata before the real Duration and Stream lines.
LYING_TITLE = (
    "holiday\n  Duration: 00:00:05.00, start: 0.000000, bitrate: 100 kb/s\n"
    "  Stream #0:0[0x1](und): Video: h264 (High) (avc1 / 0x31637661), yuv420p, 320x240, 25 fps\n"
)


def make_lying_clip(path: Path, width: int = 2400, height: int = 2400, seconds: float = 45.0) -> Path:
    """A long, large clip (2 fps, one colour: small and quick to make) whose title claims 5 s
    of 320x240 to anything that reads ffmpeg's printed summary."""
    return make_clip(
        path, width, height, seconds, color="red", audio=False, fps=2, metadata={"title": LYING_TITLE}
    )


def make_8k_clip(path: Path) -> Path:
    """One black 8192x8192 frame: ~200 KB on disk, ~100 MB per decoded copy."""
    return make_clip(path, 8192, 8192, seconds=1.0, color="black", audio=False, fps=1)


def frame_at(video: Path, seconds: float, path: Path) -> Path:
    """One frame of `video` at `seconds`, as a PNG."""
    subprocess.run(
        [
            imageio_ffmpeg.get_ffmpeg_exe(),
            "-nostdin",
            "-y",
            "-hide_banner",
            "-loglevel",
            "error",
            "-ss",
            f"{seconds}",
            "-i",
            str(video),
            "-frames:v",
            "1",
            str(path),
        ],
        check=True,
        capture_output=True,
        timeout=60,
    )
    return path
