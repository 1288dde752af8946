"""Runs one job's steps in order: concept -> image -> video -> upload.

Steps are checkpoints: each writes its artifacts to deterministic S3 keys and its row in
`job_steps`; a retried job skips a succeeded step once its artifacts are confirmed in S3.
Runs in a worker thread (blocking I/O, Pillow, ffmpeg), never on the BullMQ event loop.
"""

from __future__ import annotations

import json
import logging
import shutil
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from chalicelib.billing.plans import entitlement, plan_named
from chalicelib.core.ids import utcnow
from chalicelib.core.settings import get_settings
from chalicelib.http.schemas.jobs import StepUsage
from chalicelib.infra import db, redis_client, storage
from chalicelib.jobs import lifecycle
from chalicelib.jobs import repository as jobs_db
from chalicelib.jobs.states import STEP_NAMES, JobStatus, StepStatus
from chalicelib.pipeline import command, provider_chain, registry, step_limit
from chalicelib.pipeline.concept import script
from chalicelib.pipeline.concept.storyboard import Concept
from chalicelib.pipeline.errors import StepError
from chalicelib.pipeline.media import images, scene_media, video
from chalicelib.pipeline.media.narration import Narration
from chalicelib.pipeline.media.probe import probe
from chalicelib.pipeline.media.words import Word
from chalicelib.uploads import service as uploads

log = logging.getLogger(__name__)

# Share of the job's progress bar each step fills (sums to 100).
WEIGHTS = {"concept": 5, "image": 20, "video": 65, "upload": 10}
OUTPUTS = ("video", "thumbnail", "captions", "vtt", "words", "manifest")  # the upload step's
OUTPUT_FILES = {
    "video": "video.mp4",
    "thumbnail": "thumbnail.jpg",
    "captions": "captions.srt",
    "vtt": "captions.vtt",
    "words": "words.json",
    "manifest": "render.json",
}
SILENT_NOTE = "narration is silent: neither piper's voice nor espeak-ng could speak on the worker"
NARRATION_MANIFEST = "narration.json"  # the image step's record of the narration WAVs
__all__ = ["StepError", "JobGone", "UserBusy", "run_job"]  # StepError: re-exported for callers


class JobGone(Exception):
    """The job left the running state under us (canceled, or already finished elsewhere)."""


class UserBusy(Exception):
    """The user already runs as many jobs as their plan allows: this one waits in the queue."""


@dataclass
class Context:
    job_id: str
    request: dict
    work: Path
    owner: str  # this attempt's lease on the job (see lifecycle.start)
    stop: threading.Event  # set when the job was canceled or its lease was lost
    step: str = ""
    base: int = 0  # job progress when the current step began
    _last: tuple[int, float] = (-1, 0.0)
    concept: Concept | None = None
    user_id: str = ""
    attempt: int = 1
    provider: str | None = None  # which provider made the current step's artifact
    usage: list[StepUsage] | None = None  # what the current step's providers spent

    def outcome(self, result: provider_chain.Outcome) -> Any:
        """Record a provider's result on the current step; returns its value."""
        self.usage = (self.usage or []) + [result.usage]
        self.provider = self.provider or result.provider
        for note in result.notes:
            lifecycle.add_note(self.job_id, note)
        return result.value

    def task(self, **fields) -> provider_chain.Task:
        return provider_chain.Task(request=self.request, user_id=self.user_id, job_id=self.job_id, **fields)

    def should_stop(self) -> bool:
        if not self.stop.is_set() and _cancel_flag_set(self.job_id, self.attempt):
            self.stop.set()
        return self.stop.is_set()

    def report(self, step_progress: int, force: bool = False) -> None:
        """Step progress 0..100 -> MySQL and the event stream, at most ~4 times a second."""
        step_progress = max(0, min(100, int(step_progress)))
        job_progress = self.base + WEIGHTS[self.step] * step_progress // 100
        last_value, last_at = self._last
        now = time.monotonic()
        if not force and (step_progress <= last_value or now - last_at < 0.25):
            return
        self._last = (step_progress, now)
        if not lifecycle.report_progress(self.job_id, self.step, step_progress, job_progress, self.owner):
            self.stop.set()


def _cancel_flag_set(job_id: str, attempt: int) -> bool:
    """The cancel flag, when Redis answers; without it the lease tells the worker (slower)."""
    try:
        return lifecycle.cancel_requested(job_id, attempt)
    except redis_client.error():
        log.warning("cancel flag unreadable; relying on the lease", extra={"job_id": job_id})
        return False


def _concept(ctx: Context) -> list[str]:
    if script.is_script(ctx.request):  # the user's own words: no provider rewrites them
        ctx.concept, ctx.provider = script.to_concept(ctx.request), "script"
    else:
        ctx.concept = ctx.outcome(provider_chain.run("concept", ctx.task()))
    key = storage.artifact_key(ctx.job_id, "concept", "concept.json")
    storage.put_bytes(ctx.concept.model_dump_json(indent=2).encode(), key, "application/json")
    return [key]


def _load_concept(ctx: Context) -> Concept:
    if ctx.concept is None:
        key = storage.artifact_key(ctx.job_id, "concept", "concept.json")
        ctx.concept = Concept.model_validate_json(storage.get_bytes(key))
    return ctx.concept


def _reference_image(ctx: Context) -> Path | None:
    upload_id = (ctx.request.get("inputs") or {}).get("reference_image_upload_id")
    if not upload_id:
        return None
    path = ctx.work / "reference"
    if not path.exists():
        storage.download(uploads.object_key_for(ctx.user_id, upload_id), path)
    return path


def _off_thread(fn, *args):
    """Run in a pool thread, closing the thread's MySQL connection (provider keys) after."""
    try:
        return fn(*args)
    finally:
        db.close()


def _image(ctx: Context) -> list[str]:
    """The scene stills and, at the same time in a second thread, the narration: speech
    synthesis (piper, espeak-ng or a network call) overlaps Pillow work or image generation.
    A job with `narration: false` has no speech at all."""
    concept = _load_concept(ctx)
    count = len(concept.scenes)
    stills = [ctx.work / f"scene-{i + 1:02d}.png" for i in range(count)]
    speak = ctx.request.get("narration", True)
    speech = [ctx.work / f"narration-{i + 1:02d}.wav" for i in range(count)] if speak else []
    with ThreadPoolExecutor(max_workers=1) as pool:
        spoken = (
            pool.submit(_off_thread, provider_chain.run, "narration", ctx.task(concept=concept, paths=speech))
            if speak
            else None
        )
        own = scene_media.place_all(ctx.user_id, ctx.request, ctx.request["aspect"], stills)
        drawn = None
        if len(own) < count:
            drawn = provider_chain.run(
                "image",
                ctx.task(
                    concept=concept,
                    paths=stills,
                    keep=frozenset(own),
                    reference=_reference_image(ctx),
                    on_progress=lambda p: ctx.report(p * 9 // 10),
                ),
            )
        said = spoken.result() if spoken else None
    if drawn is not None:
        ctx.outcome(drawn)
    else:
        ctx.provider = "yours"
    stills = [scene_media.source_of(path) for path in stills]
    narrations: list[Narration] = ctx.outcome(said) if said else []
    if narrations:
        voices = ", ".join(dict.fromkeys(n.voice for n in narrations))
        timings = ", ".join(dict.fromkeys(n.timing for n in narrations))
        lifecycle.add_note(ctx.job_id, f"narration: spoken by {voices}; word timings: {timings}")
    manifest = [
        {
            "file": n.path.name,
            "duration_s": n.duration_s,
            "silent": n.silent,
            "voice": n.voice,
            "timing": n.timing,
            "words": [[w.text, w.start, w.end] for w in n.words],
        }
        for n in narrations
    ]
    keys = [
        storage.put_file(path, storage.artifact_key(ctx.job_id, "image", path.name))
        for path in stills + speech
    ]
    keys.append(
        storage.put_bytes(
            json.dumps(manifest).encode(),
            storage.artifact_key(ctx.job_id, "image", NARRATION_MANIFEST),
            "application/json",
        )
    )
    return keys


def _fetched(ctx: Context, keys: list[str]) -> list[Path]:
    """Local copies of a previous step's artifacts (already here unless resumed elsewhere)."""
    paths = []
    for key in keys:
        path = ctx.work / Path(key).name
        if not path.exists():
            storage.download(key, path)
        paths.append(path)
    return paths


def _narrations(ctx: Context, image_keys: list[str]) -> list[Narration] | None:
    """The image step's narration WAVs; None for a checkpoint from before they were made there
    (the video step then speaks the lines itself)."""
    manifest_key = next((k for k in image_keys if k.endswith("/" + NARRATION_MANIFEST)), None)
    if manifest_key is None:
        return None
    entries = json.loads(storage.get_bytes(manifest_key))
    by_name = {Path(k).name: k for k in image_keys}
    return [
        Narration(
            path=path,
            duration_s=e["duration_s"],
            silent=e["silent"],
            words=[Word(*w) for w in e.get("words", [])],
            timing=e.get("timing", "estimate"),
            voice=e.get("voice", "espeak-ng"),
        )
        for e, path in zip(entries, _fetched(ctx, [by_name[e["file"]] for e in entries]))
    ]


def _music(ctx: Context) -> Path | None:
    """The job's music upload, local (checked by the video step: a corrupt file fails there)."""
    upload_id = (ctx.request.get("inputs") or {}).get("music_upload_id")
    if not upload_id:
        return None
    path = ctx.work / "music"
    if not path.exists():
        storage.download(uploads.object_key_for(ctx.user_id, upload_id), path)
    return path


def _check_plan_length(ctx: Context, concept: Concept) -> None:
    """A script's real timeline against the limit of the plan stored on the job: the API's check
    is an estimate before any narration exists (issue 23). Over it, the job fails, not retried."""
    if not script.is_script(ctx.request):
        return
    job = jobs_db.get(ctx.job_id, None)
    limit = plan_named(job.plan).max_duration_s if job else None
    total = script.total_length(concept)
    if limit is not None and total > limit:
        raise StepError(
            "script_too_long",
            f"The narrated script runs {total:.0f} s, over the plan's limit of {limit} s; shorten it",
            transient=False,
        )


def _video(ctx: Context, image_keys: list[str]) -> list[str]:
    concept = _load_concept(ctx)
    render_dir = ctx.work / "render"
    shutil.rmtree(render_dir, ignore_errors=True)  # never reuse a half-done attempt's files
    render_dir.mkdir(parents=True)
    stills = _fetched(ctx, scene_media.scene_keys(image_keys))
    narrations = _narrations(ctx, image_keys)
    if narrations is not None:  # a script's scenes last as long as their narration takes
        concept = script.timed(concept, ctx.request, [n.duration_s for n in narrations])
        _check_plan_length(ctx, concept)
    started = time.monotonic()
    request = ctx.request
    result = video.compose_video(
        concept,
        stills,
        request["aspect"],
        render_dir,
        voice=request.get("voice"),
        language=request.get("language", "en"),
        narrations=narrations,
        on_progress=ctx.report,
        should_cancel=ctx.should_stop,
        clip_audio_volume=request.get("clip_audio_volume"),
        caption_style=request.get("caption_style", "karaoke"),
        speak=request.get("narration", True),
        music=_music(ctx),
        music_volume=request.get("music_volume", 0.35),
    )
    if result.silent_narration:
        lifecycle.add_note(ctx.job_id, SILENT_NOTE)
    ctx.provider = "offline"
    ctx.usage = [
        StepUsage(
            purpose="video",
            provider="offline",
            model="ffmpeg",
            bytes=result.video.stat().st_size,
            wall_s=round(time.monotonic() - started, 3),
        )
    ]
    return [
        storage.put_file(path, storage.artifact_key(ctx.job_id, "video", path.name))
        for path in (
            result.video,
            result.thumbnail,
            result.captions,
            result.vtt,
            result.words,
            result.manifest,
        )
    ]


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
    downloads = {
        "video": f"{ctx.job_id}.mp4",
        "captions": f"{ctx.job_id}.srt",
        "vtt": f"{ctx.job_id}.vtt",
        "words": f"{ctx.job_id}.words.json",
    }
    return [
        storage.copy(
            by_name[OUTPUT_FILES[kind]],
            storage.artifact_key(ctx.job_id, "output", OUTPUT_FILES[kind]),
            download_name=downloads.get(kind),
        )
        for kind in OUTPUTS
        if OUTPUT_FILES[kind] in by_name
    ]  # a checkpoint from before vtt/words has fewer


def _outputs(keys: list[str]) -> dict:
    """The job's outputs: the published keys by kind, and the measured audio levels."""
    by_file = {Path(k).name: k for k in keys}
    outputs: dict = {kind: by_file[name] for kind, name in OUTPUT_FILES.items() if name in by_file}
    if "manifest" in outputs:
        outputs["audio"] = json.loads(storage.get_bytes(outputs["manifest"])).get("audio")
    return outputs


def _command_video(ctx: Context, done: dict[str, list[str]]) -> list[str]:
    """The `command` pipeline's video step: the configured orchestrator makes video.mp4 (see
    chalicelib/pipeline/command.py); a thumbnail and captions are made when it left none."""
    settings = get_settings()
    work, render_dir = ctx.work / "command", ctx.work / "render"
    for folder in (work, render_dir):  # never reuse a half-done attempt's files
        shutil.rmtree(folder, ignore_errors=True)
    render_dir.mkdir(parents=True)
    width, height = images.ASPECTS[ctx.request["aspect"]]
    spec = {
        "job_id": ctx.job_id,
        "attempt": ctx.attempt,
        "request": ctx.request,
        "work_dir": str(work),
        "width": width,
        "height": height,
        "fps": video.FPS,
    }
    config = command.CommandConfig(
        argv=settings.pipeline_command,
        timeout_s=settings.pipeline_command_timeout_s,
        cwd=(launcher_root() / settings.pipeline_command_cwd).resolve(),
        grace_s=settings.pipeline_command_grace_s,
        env=settings.pipeline_command_env,
    )
    last_message: list[str | None] = [None]

    def on_progress(value: int | None, message: str | None) -> None:
        if value is not None:
            ctx.report(value)
        if message and message != last_message[0]:
            last_message[0] = message
            lifecycle.step_message(
                ctx.job_id, ctx.step, message, ctx.base + WEIGHTS[ctx.step] * max(0, ctx._last[0]) // 100
            )

    started = time.monotonic()
    try:
        made = command.run(config, spec, work, on_progress, ctx.should_stop)
    except command.CommandCanceled:
        raise video.RenderCanceled() from None
    outputs = {
        "video.mp4": render_dir / "video.mp4",
        "thumbnail.jpg": render_dir / "thumbnail.jpg",
        "captions.srt": render_dir / "captions.srt",
    }
    shutil.move(made, outputs["video.mp4"])
    for name in ("thumbnail.jpg", "captions.srt"):
        if (work / name).is_file():
            shutil.move(work / name, outputs[name])
    if not outputs["thumbnail.jpg"].exists():
        frame = video.first_frame(outputs["video.mp4"], work / "first-frame.png", (width, height))
        video.write_thumbnail(frame, outputs["thumbnail.jpg"])
    if not outputs["captions.srt"].exists():
        outputs["captions.srt"].write_text("", encoding="utf-8")
    ctx.provider = "command"
    ctx.usage = [
        StepUsage(
            purpose="video",
            provider="command",
            model=" ".join(config.argv)[:100],
            bytes=outputs["video.mp4"].stat().st_size,
            wall_s=round(time.monotonic() - started, 3),
        )
    ]
    return [
        storage.put_file(path, storage.artifact_key(ctx.job_id, "video", name))
        for name, path in outputs.items()
    ]


def launcher_root() -> Path:
    """The repository: relative settings paths (the command's folder) start here."""
    return Path(__file__).resolve().parent.parent.parent


def _checkpoint_ok(step: jobs_db.StepRow) -> bool:
    return (
        step.status is StepStatus.succeeded
        and bool(step.artifacts)
        and all(map(storage.exists, step.artifacts))
    )


STEPS: dict[str, Callable[[Context, dict[str, list[str]]], list[str]]] = {
    "concept": lambda ctx, done: _concept(ctx),
    "image": lambda ctx, done: _image(ctx),
    "video": lambda ctx, done: _video(ctx, done["image"]),
    "upload": lambda ctx, done: _upload(ctx, done["video"]),
}
# A customer's orchestrator as the video step; our upload publishes what it made. None: the
# pipeline has no such step (it is marked skipped).
COMMAND_STEPS: dict[str, Callable[[Context, dict[str, list[str]]], list[str]] | None] = {
    "concept": None,
    "image": None,
    "video": _command_video,
    "upload": lambda ctx, done: _upload(ctx, done["video"]),
}


def run_job(job_id: str, owner: str, stop: threading.Event, lease_s: int) -> str:
    """Run or resume a job under the lease `owner`; returns its final status.

    Raises UserBusy (wait in the queue), JobGone (canceled, or no longer ours) or StepError
    (the caller retries transient ones)."""
    row = jobs_db.get(job_id, None)
    if row is None or row.status not in (JobStatus.queued, JobStatus.running):
        return row.status.value if row else "missing"
    plan = entitlement(row.user_id, utcnow()).plan
    outcome = lifecycle.start(job_id, row.user_id, plan.max_concurrency, owner, lease_s)
    if outcome is jobs_db.Claim.busy:
        raise UserBusy(job_id)
    if outcome is jobs_db.Claim.gone:
        raise JobGone(job_id)
    # Scratch space of this attempt only: another attempt (even on this host) never shares it,
    # and it goes when the attempt ends, whatever the outcome (checkpoints live in S3).
    ctx = Context(
        job_id=job_id,
        request=row.request,
        owner=owner,
        stop=stop,
        work=Path(get_settings().work_dir) / f"{job_id}-{owner[:12]}",
        user_id=row.user_id,
        attempt=row.attempt,
    )
    ctx.work.mkdir(parents=True, exist_ok=True)
    try:
        return _run_steps(ctx)
    finally:
        shutil.rmtree(ctx.work, ignore_errors=True)


def _run_steps(ctx: Context) -> str:
    job_id, owner = ctx.job_id, ctx.owner
    done: dict[str, list[str]] = {}
    steps = {s.name: s for s in jobs_db.steps_of([job_id])[job_id]}
    pipeline = registry.pipelines()[get_settings().pipeline].step_functions()
    for name in STEP_NAMES:
        ctx.step = name
        if _checkpoint_ok(steps[name]) or pipeline[name] is None:
            if (
                pipeline[name] is None
                and steps[name].status is not StepStatus.skipped
                and not lifecycle.step_skipped(job_id, name, owner)
            ):
                raise JobGone(job_id)
            done[name] = steps[name].artifacts
            ctx.base += WEIGHTS[name]
            continue
        if ctx.should_stop() or not lifecycle.step_started(job_id, name, owner, ctx.base):
            raise JobGone(job_id)
        ctx._last, ctx.provider, ctx.usage = (-1, 0.0), None, None
        started = time.monotonic()
        try:
            done[name] = step_limit.run_bounded(pipeline[name], ctx, done, stop=ctx.stop)
        except video.RenderCanceled:
            raise JobGone(job_id) from None
        except StepError as exc:
            exc.step = name
            _step_failed(ctx, exc)
            raise
        except Exception as exc:  # unknown: assume transient, the retry budget bounds it
            log.exception("step failed", extra={"job_id": job_id, "step": name})
            err = StepError(
                f"{name}_failed",
                f"the {name} step failed unexpectedly",  # details: log
                transient=True,
                step=name,
            )
            _step_failed(ctx, err)
            raise err from exc
        ctx.report(100, force=True)
        if not lifecycle.step_succeeded(
            job_id,
            name,
            owner,
            artifacts=done[name],
            provider=ctx.provider,
            usage=ctx.usage,
            job_progress=ctx.base + WEIGHTS[name],
            took_s=time.monotonic() - started,
        ):
            raise JobGone(job_id)
        ctx.base += WEIGHTS[name]
    if not lifecycle.succeed(job_id, _outputs(done["upload"]), owner):
        raise JobGone(job_id)
    return JobStatus.succeeded.value


def _step_failed(ctx: Context, exc: StepError) -> None:
    lifecycle.step_failed(ctx.job_id, ctx.step, ctx.owner, exc.code, exc.message)
