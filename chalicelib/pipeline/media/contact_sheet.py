"""A contact sheet: frames of a video at fixed times, side by side in one PNG, to judge a
look at a glance (`make demo` writes one under out/, so do the look tests)."""

from __future__ import annotations

from pathlib import Path

from chalicelib.pipeline.media import ffmpeg, ffmpeg_inputs
from chalicelib.pipeline.media.filtergraph import FPS

FRAME_WIDTH = 360  # px per frame on the sheet


def sheet_times(duration_s: float, count: int = 6) -> list[float]:
    """`count` moments spread over the video, clear of its first and last half second."""
    span = max(0.0, duration_s - 1.0)
    return [round(0.5 + span * (i + 0.5) / count, 2) for i in range(count)]


def write_contact_sheet(video: Path, output: Path, times: list[float]) -> Path:
    """One ffmpeg pass: the frames at `times` (s), scaled to FRAME_WIDTH, in a row."""
    picks = "+".join(f"eq(n\\,{round(t * FPS)})" for t in times)
    output.parent.mkdir(parents=True, exist_ok=True)
    argv = ffmpeg.command(
        *ffmpeg_inputs.file_input(video, "mov"),
        "-vf",
        f"select='{picks}',scale={FRAME_WIDTH}:-2,tile={len(times)}x1",
        "-frames:v",
        "1",
        "-update",
        "1",
        str(output),
        overwrite=True,
        loglevel="error",
    )
    ffmpeg.run(argv, timeout_s=120, check=True)
    return output
