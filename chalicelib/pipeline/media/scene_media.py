"""A scene's source: a still (PNG, drawn by a provider or the user's image fitted to the frame)
or a video clip (the user's upload or stock footage), side by side in the image step's
artifacts as `scene-NN.png` or `scene-NN.mp4`. The video step renders both in one pass."""

from __future__ import annotations

import shutil
from pathlib import Path

from PIL import Image, ImageOps

from chalicelib.infra import storage
from chalicelib.pipeline.concept import script
from chalicelib.pipeline.errors import StepError
from chalicelib.pipeline.media.images import ASPECTS
from chalicelib.pipeline.media.probe import probe
from chalicelib.uploads import image_limits
from chalicelib.uploads import repository as uploads_db
from chalicelib.uploads import service as uploads
from chalicelib.uploads.states import UploadStatus

CLIP_SUFFIX = ".mp4"  # a scene's clip, whatever container the user sent (mp4 and mov both are ISO BMFF)


def clip_path(still: Path) -> Path:
    """Where a scene's clip goes instead of its still."""
    return still.with_suffix(CLIP_SUFFIX)


def source_of(still: Path) -> Path:
    """The scene's clip when one was placed, else its still."""
    clip = clip_path(still)
    return clip if clip.exists() else still


def scene_keys(image_keys: list[str]) -> list[str]:
    """The image step's scene sources (PNG or MP4), in scene order."""
    return sorted((k for k in image_keys if Path(k).name.startswith("scene-")), key=lambda k: Path(k).name)


def clip_problem(path: Path, user_id: str) -> str | None:
    """Why a clip can't go into the render, or None. What the file really holds (probed: a
    video stream, allowed codecs, within the pixel limit) against the user's plan (duration,
    size), the checks an upload's headers get, now on the bytes the render will decode."""
    try:
        info = probe(path)
    except ValueError as exc:
        return str(exc)
    return uploads.clip_limits_problem(info, user_id)


def fit_image(source: Path, aspect: str, path: Path) -> Path:
    """An image (the user's, or a provider's), upright (EXIF), cover-cropped to the frame, as the
    scene's PNG; ImageRejected, before decoding, when it is over the pixel limit or no image."""
    with image_limits.open_checked(source) as image:
        fitted = ImageOps.fit(
            ImageOps.exif_transpose(image).convert("RGB"), ASPECTS[aspect], Image.Resampling.LANCZOS
        )
    fitted.save(path, format="PNG", compress_level=1)
    return path


def place_all(user_id: str, request: dict, aspect: str, stills: list[Path]) -> dict[int, Path]:
    """The user's own media of a script's scenes, each put where the scene's source goes (an
    image as its PNG, a clip beside it as MP4); -> scene index -> path placed."""
    placed: dict[int, Path] = {}
    for index, spec in enumerate(script.script_scenes(request) if script.is_script(request) else []):
        upload_id = spec.get("image_upload_id")
        if not upload_id or index >= len(stills):
            continue
        row = uploads_db.get(upload_id, user_id)
        if row is None or row.status != UploadStatus.uploaded:  # deleted or expired since submission
            raise StepError("upload_missing", f"scene {index}: upload {upload_id} is gone", transient=False)
        download = stills[index].with_suffix(".upload")
        storage.download(uploads.object_key_for(user_id, upload_id), download)
        if row.content_type in uploads.VIDEO_TYPES:
            shutil.move(download, clip_path(stills[index]))
            problem = clip_problem(clip_path(stills[index]), user_id)
            if problem:
                clip_path(stills[index]).unlink()
                raise StepError("unusable_clip", f"scene {index}: {problem}", transient=False)
            placed[index] = clip_path(stills[index])
        else:
            try:
                placed[index] = fit_image(download, aspect, stills[index])
            except image_limits.ImageRejected as exc:
                raise StepError(exc.code, f"scene {index}: {exc.message}", transient=False) from None
            finally:
                download.unlink(missing_ok=True)
    return placed
