"""The render's picture stills: a clip's first frame (as its scene shows it) and the job's
thumbnail, for the video step and for the `command` pipeline's video when it brings none."""

from __future__ import annotations

from pathlib import Path

from PIL import Image

from chalicelib.pipeline.media import ffmpeg, ffmpeg_inputs

THUMB_WIDTH = 540


def write_thumbnail(image: Path, path: Path) -> Path:
    """The first scene's frame (the zoom starts at 1.0, so the still is that frame), 540 wide."""
    with Image.open(image) as still:
        height = round(still.height * THUMB_WIDTH / still.width)
        still.convert("RGB").resize((THUMB_WIDTH, height), Image.Resampling.LANCZOS).save(
            path, "JPEG", quality=85
        )
    return path


def first_frame(clip: Path, path: Path, size: tuple[int, int]) -> Path:
    """The clip's first frame as the scene shows it (cover-cropped), as a PNG."""
    width, height = size
    crop = f"scale={width}:{height}:force_original_aspect_ratio=increase,crop={width}:{height}"
    argv = ffmpeg.command(
        *ffmpeg_inputs.file_input(clip, "mov"),
        "-vf",
        crop,
        "-frames:v",
        "1",
        str(path),
        overwrite=True,
        loglevel="error",
    )
    ffmpeg.run(argv, timeout_s=60, check=True)
    return path
