"""The job's thumbnail: a frame of the final video, so it shows what the video shows (the
backdrop as the camera has it, the key phrase, the captions), for the video step and for the
`command` pipeline's video when it brings none."""

from __future__ import annotations

import math
from pathlib import Path

from chalicelib.pipeline.media import ffmpeg, ffmpeg_inputs
from chalicelib.pipeline.media.filtergraph import FPS, Timeline

THUMB_WIDTH = 540


def representative_frame(timeline: Timeline, phrase_shown_at: float | None) -> int:
    """The frame the thumbnail shows: the first scene once its key phrase is fully shown, or
    the middle of the first scene when it has none; never in the crossfade to the next."""
    last = max(0, timeline.frames[0] - 1)  # scene 0's last frame before the next fades in
    if phrase_shown_at is None:
        return last // 2
    return min(last, math.ceil(phrase_shown_at * FPS - 1e-6))  # float noise is not a frame


def write_thumbnail(video: Path, path: Path, frame: int = 0) -> Path:
    """Frame number `frame` of `video` (an MP4 or QuickTime file), THUMB_WIDTH wide, as JPEG."""
    at = max(0.0, (frame - 0.5) / FPS)  # frames before this instant are decoded and dropped
    argv = ffmpeg.command(
        "-ss",
        f"{at:.4f}",
        *ffmpeg_inputs.file_input(video, "mov"),
        "-vf",
        f"scale={THUMB_WIDTH}:-2:flags=lanczos",
        "-frames:v",
        "1",
        "-q:v",
        "3",
        "-update",
        "1",
        str(path),
        overwrite=True,
        loglevel="error",
    )
    ffmpeg.run(argv, timeout_s=60, check=True)
    return path
