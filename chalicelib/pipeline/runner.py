"""Runs one job's steps in order: concept -> image -> video -> upload.

Steps are checkpoints: each writes its artifacts to deterministic S3 keys and its row in
`job_steps`; a retried job skips a succeeded step once its artifacts are confirmed in S3.
Runs in a worker thread (blocking I/O, Pillow, ffmpeg), never on the BullMQ event loop.
"""
from __future__ import annotations

import logging
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from chalicelib import lifecycle, progress, storage
from chalicelib.billing.plans import entitlement
from chalicelib.config import get_settings
from chalicelib.db import jobs as jobs_db
from chalicelib.ids import utcnow
from chalicelib.models import STEP_NAMES, EventType, JobStatus
from chalicelib.pipeline import concept as concept_mod
from chalicelib.pipeline import images, video
from chalicelib.pipeline.probe import probe

log = logging.getLogger(__name__)

# Share of the job's progress bar each step fills (sums to 100).
WEIGHTS = {"concept": 5, "image": 20, "video": 65, "upload": 10}
OUTPUTS = ("video", "thumbnail", "captions")  # the upload step's artifacts, in this order
SILENT_NOTE = "narration is silent: espeak-ng is not installed on the worker"


class StepError(Exception):
    """A step failed. `transient` errors are retried; the others fail the job at once."""

    def __init__(self, code: str, message: str, *, transient: bool):
        super().__init__(message)
        self.code, self.message, self.transient = code, message, transient


class JobGone(Exception):
    """The job left the running state under us (canceled, or already finished elsewhere)."""


class UserBusy(Exception):
    """The user already runs as many jobs as their plan allows: this one waits in the queue."""


@dataclass
class Context:
    job_id: str
    request: dict
    work: Path
    step: str = ""
    _base: int = 0
    _last: tuple[int, float] = (-1, 0.0)
    concept: concept_mod.Concept | None = None
    image_paths: list[Path] = field(default_factory=list)

    def report(self, step_progress: int, force: bool = False) -> None:
        """Step progress 0..100 -> MySQL and the event stream, at most ~4 times a second."""
        step_progress = max(0, min(100, int(step_progress)))
        job_progress = self._base + WEIGHTS[self.step] * step_progress // 100
        last_value, last_at = self._last
        now = time.monotonic()
        if not force and (step_progress <= last_value or now - last_at < 0.25):
            return
        self._last = (step_progress, now)
        jobs_db.progress(self.job_id, self.step, step_progress, job_progress)
        progress.emit(self.job_id, EventType.step_progress, step=self.step, progress=job_progress)


def _concept(ctx: Context) -> list[str]:
    req = ctx.request
    ctx.concept = concept_mod.write_concept(req["prompt"], req["duration_s"], req.get("style"),
                                            req.get("language", "en"))
    key = storage.artifact_key(ctx.job_id, "concept", "concept.json")
    storage.put_bytes(ctx.concept.model_dump_json(indent=2).encode(), key, "application/json")
    return [key]


def _load_concept(ctx: Context) -> concept_mod.Concept:
    if ctx.concept is None:
        key = storage.artifact_key(ctx.job_id, "concept", "concept.json")
        ctx.concept = concept_mod.Concept.model_validate_json(storage.get_bytes(key))
    return ctx.concept


def _image(ctx: Context) -> list[str]:
    concept = _load_concept(ctx)
    keys = []
    for i, scene in enumerate(concept.scenes):
        path = ctx.work / f"scene-{i + 1:02d}.png"
        images.render_scene_image(concept, scene, ctx.request["aspect"], path)
        keys.append(storage.put_file(path, storage.artifact_key(ctx.job_id, "image", path.name)))
        ctx.report(100 * (i + 1) // len(concept.scenes))
    return keys


def _scene_images(ctx: Context, image_keys: list[str]) -> list[Path]:
    paths = []
    for key in image_keys:
        path = ctx.work / Path(key).name
        if not path.exists():
            storage.download(key, path)
        paths.append(path)
    return paths


def _video(ctx: Context, image_keys: list[str], canceled: Callable[[], bool]) -> list[str]:
    concept = _load_concept(ctx)
    render_dir = ctx.work / "render"
    shutil.rmtree(render_dir, ignore_errors=True)  # never reuse a half-done attempt's files
    render_dir.mkdir(parents=True)
    result = video.compose_video(concept, _scene_images(ctx, image_keys), ctx.request["aspect"],
                                 render_dir, voice=ctx.request.get("voice"),
                                 language=ctx.request.get("language", "en"),
                                 on_progress=ctx.report, should_cancel=canceled)
    if result.silent_narration:
        jobs_db.add_note(ctx.job_id, SILENT_NOTE)
    return [storage.put_file(path, storage.artifact_key(ctx.job_id, "video", path.name))
            for path in (result.video, result.thumbnail, result.captions)]


def _upload(ctx: Context, video_keys: list[str]) -> list[str]:
    """Publish: check the render is a real video of the asked size, then copy to `output/`."""
    by_name = {Path(k).name: k for k in video_keys}
    local = ctx.work / "render" / "video.mp4"
    if not local.exists():  # resumed on another worker: fetch the checkpoint
        local.parent.mkdir(parents=True, exist_ok=True)
        storage.download(by_name["video.mp4"], local)
    info = probe(local)
    width, height = images.ASPECTS[ctx.request["aspect"]]
    if info["video_codec"] != "h264" or (info["width"], info["height"]) != (width, height):
        raise StepError("invalid_render", f"render is {info}", transient=True)
    ctx.report(50)
    names = {"video": ("video.mp4", f"{ctx.job_id}.mp4"), "thumbnail": ("thumbnail.jpg", None),
             "captions": ("captions.srt", f"{ctx.job_id}.srt")}
    return [storage.copy(by_name[names[kind][0]],
                         storage.artifact_key(ctx.job_id, "output", names[kind][0]),
                         download_name=names[kind][1]) for kind in OUTPUTS]


def _checkpoint_ok(step_row: dict) -> bool:
    artifacts = step_row.get("artifacts") or []
    return step_row["status"] == "succeeded" and bool(artifacts) and all(map(storage.exists, artifacts))


def run_job(job_id: str) -> str:
    """Run or resume a job; returns its final status. Raises StepError for the caller to retry."""
    row = jobs_db.get(job_id, None)
    if row is None or row["status"] in (s.value for s in (JobStatus.succeeded, JobStatus.failed,
                                                           JobStatus.canceled)):
        return row["status"] if row else "missing"
    plan = entitlement(row["user_id"], utcnow()).plan
    outcome = jobs_db.start(job_id, row["user_id"], plan.max_concurrency)
    if outcome == "busy":
        raise UserBusy(job_id)
    if outcome == "gone":
        raise JobGone(job_id)
    jobs_db.clear_error(job_id)
    progress.emit(job_id, EventType.job_started, progress=row["progress"],
                  message=f"attempt {row['attempt']}")
    def canceled() -> bool:
        return lifecycle.cancel_requested(job_id)

    ctx = Context(job_id=job_id, request=row["request"],
                  work=Path(get_settings().work_dir) / job_id)
    ctx.work.mkdir(parents=True, exist_ok=True)
    artifacts: dict[str, list[str]] = {}
    steps = {s["name"]: s for s in jobs_db.steps_of([job_id])[job_id]}
    for name in STEP_NAMES:
        ctx.step = name
        if _checkpoint_ok(steps[name]):
            artifacts[name] = steps[name]["artifacts"]
            ctx._base += WEIGHTS[name]
            continue
        if canceled():
            raise JobGone(job_id)
        jobs_db.step_started(job_id, name)
        progress.emit(job_id, EventType.step_started, step=name, progress=ctx._base)
        ctx._last = (-1, 0.0)
        started = time.monotonic()
        try:
            if name == "concept":
                artifacts[name] = _concept(ctx)
            elif name == "image":
                artifacts[name] = _image(ctx)
            elif name == "video":
                artifacts[name] = _video(ctx, artifacts["image"], canceled)
            else:
                artifacts[name] = _upload(ctx, artifacts["video"])
        except video.RenderCanceled:
            raise JobGone(job_id) from None
        except StepError as exc:
            _step_failed(job_id, name, exc)
            raise
        except Exception as exc:  # unknown: assume transient, the retry budget bounds it
            log.exception("step failed", extra={"job_id": job_id, "step": name})
            err = StepError(f"{name}_failed", f"{type(exc).__name__}: {exc}"[:500], transient=True)
            _step_failed(job_id, name, err)
            raise err from exc
        ctx.report(100, force=True)
        jobs_db.step_finished(job_id, name, "succeeded", artifacts=artifacts[name])
        progress.emit(job_id, EventType.step_succeeded, step=name,
                      progress=ctx._base + WEIGHTS[name],
                      message=f"{time.monotonic() - started:.1f}s")
        ctx._base += WEIGHTS[name]
    if not jobs_db.succeed(job_id, dict(zip(OUTPUTS, artifacts["upload"]))):
        raise JobGone(job_id)
    progress.emit(job_id, EventType.job_succeeded, progress=100, message="Video ready")
    shutil.rmtree(ctx.work, ignore_errors=True)
    return JobStatus.succeeded.value


def _step_failed(job_id: str, step: str, exc: StepError) -> None:
    jobs_db.step_finished(job_id, step, "failed", error_code=exc.code, error_message=exc.message)
    progress.emit(job_id, EventType.step_failed, step=step, message=f"{exc.code}: {exc.message}")


def current_step(job_id: str) -> str | None:
    row = jobs_db.get(job_id, None)
    return row["current_step"] if row else None
