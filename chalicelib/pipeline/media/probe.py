"""Inspect a rendered file without ffprobe (imageio-ffmpeg ships only ffmpeg).

`ffmpeg -i FILE` with no output prints the container and stream summary to stderr and exits 1;
that summary is stable enough to parse for codec, size, duration and frame rate.
"""

from __future__ import annotations

import re
from pathlib import Path

from chalicelib.pipeline.media import ffmpeg, ffmpeg_inputs

_DURATION = re.compile(r"Duration: (\d+):(\d{2}):(\d{2}(?:\.\d+)?)")
_VIDEO = re.compile(r"Stream #\d+:\d+.*?: Video: (\w+)(.*)")
_AUDIO = re.compile(r"Stream #\d+:\d+.*?: Audio: (\w+)")
_SIZE = re.compile(r"\b(\d{2,5})x(\d{2,5})\b")
_FPS = re.compile(r"([\d.]+)(k?) (?:fps|tbr)")
STILL_CODECS = frozenset({"png", "mjpeg", "bmp", "gif", "webp", "tiff"})


def probe(path: Path) -> dict:
    """{"video_codec", "width", "height", "duration_s", "audio_codec" (or None), "fps"} of a
    video file; ValueError when the file is missing, unreadable, or not a video."""
    if not Path(path).is_file():
        raise ValueError(f"not a file: {path}")
    argv = ffmpeg.command(*ffmpeg_inputs.file_input(path, "mov"))  # mov: MP4's demuxer
    info = ffmpeg.run(argv, timeout_s=60).stderr
    duration, video = _DURATION.search(info), _VIDEO.search(info)
    if not duration or not video or video.group(1) in STILL_CODECS:
        raise ValueError(f"not a video: {Path(path).name}")
    size = _SIZE.search(video.group(2))
    fps = _FPS.search(video.group(2))
    audio = _AUDIO.search(info)
    hours, minutes, seconds = duration.groups()
    return {
        "video_codec": video.group(1),
        "width": int(size.group(1)) if size else 0,
        "height": int(size.group(2)) if size else 0,
        "duration_s": int(hours) * 3600 + int(minutes) * 60 + float(seconds),
        "audio_codec": audio.group(1) if audio else None,
        "fps": float(fps.group(1)) * (1000 if fps.group(2) else 1) if fps else 0.0,
    }
