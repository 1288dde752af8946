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
) -> Path:
    """An H.264 clip: a solid `color` (easy to find in a render) or ffmpeg's moving test card,
    with a 440 Hz tone unless `audio` is False. `container` "mov" makes a QuickTime file."""
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
