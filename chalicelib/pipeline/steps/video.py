"""The video step: the image step's stills and narration (fetched from the checkpoint when the
job resumed elsewhere), the job's music, and the one-pass render (media/video.py) into the
video, thumbnail, caption files and render.json."""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

from chalicelib.billing.plans import plan_named
from chalicelib.http.schemas.jobs import StepUsage
from chalicelib.infra import storage
from chalicelib.jobs import lifecycle
from chalicelib.jobs import repository as jobs_db
from chalicelib.pipeline import provider_chain, providers
from chalicelib.pipeline.concept import script, storyboard
from chalicelib.pipeline.concept.storyboard import Concept
from chalicelib.pipeline.context import Context, scene_words
from chalicelib.pipeline.errors import StepError
from chalicelib.pipeline.media import scene_media, video
from chalicelib.pipeline.media.filtergraph import is_clip
from chalicelib.pipeline.media.narration import Narration
from chalicelib.pipeline.media.words import Word
from chalicelib.pipeline.steps.concept import load_concept
from chalicelib.pipeline.steps.image import NARRATION_MANIFEST

CLIPS_SHARE = 50  # of the video step's progress, AI motion's clips (the render the rest)
SILENT_NOTE = "narration is silent: neither piper's voice nor espeak-ng could speak on the worker"


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


def _check_plan_length(ctx: Context, concept: Concept) -> None:
    """A script's real timeline against the limit of the plan stored on the job: the API's check
    is an estimate before any narration exists. Over it, the job fails, not retried."""
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


def _moving_stills(task: provider_chain.Task, _client) -> tuple[None, list[StepUsage]]:
    """AI motion's last resort: no clips; the render moves the stills as it always does."""
    return None, []


def _animated(ctx: Context, concept: Concept, sources: list[Path]) -> list[Path]:
    """AI motion: each still scene `motion` asks for (not the user's clips) becomes a generated
    clip through the chain of the `video` purpose, the moving still where none can be made (a
    note). No such scene: the sources as they are."""
    clips = frozenset(i for i, path in enumerate(sources) if is_clip(path))
    chosen = storyboard.animated(ctx.request.get("motion", "none"), len(sources))
    keep = clips | (frozenset(range(len(sources))) - chosen)
    count = len(sources) - len(keep)
    if not count:
        return sources
    outcome = provider_chain.run(
        "video",
        ctx.task(
            concept=concept,
            paths=sources,
            keep=keep,
            on_progress=lambda p: ctx.report(p * CLIPS_SHARE // 100, message=scene_words("clip", p, count)),
        ),
        offline=_moving_stills,
    )
    ctx.outcome(outcome)
    if outcome.provider == providers.OFFLINE:
        ctx.provider = None  # the render's
        lifecycle.add_note(
            ctx.job_id,
            "video: motion ai needs an image-to-video provider (providers.video, e.g. fal, with its key, "
            "or the plan's); the stills move as usual",
        )
    return [scene_media.source_of(path) if i not in clips else path for i, path in enumerate(sources)]


def run(ctx: Context, done: dict[str, list[str]]) -> list[str]:
    image_keys = done["image"]
    concept = load_concept(ctx)
    render_dir = ctx.work / "render"
    shutil.rmtree(render_dir, ignore_errors=True)  # never reuse a half-done attempt's files
    render_dir.mkdir(parents=True)
    stills = _fetched(ctx, scene_media.scene_keys(image_keys))
    narrations = _narrations(ctx, image_keys)
    if narrations is not None:  # a script's scenes last as long as their narration takes
        concept = script.timed(concept, ctx.request, [n.duration_s for n in narrations])
        _check_plan_length(ctx, concept)
        ctx.replan(seconds=script.total_length(concept))  # a script's, as narrated
    animated = _animated(ctx, concept, stills)
    made = CLIPS_SHARE if animated is not stills else 0  # the step's progress the clips took
    stills = animated
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
        on_progress=lambda p: ctx.report(
            made + p * (100 - made) // 100, message=scene_words("scene", p, len(concept.scenes))
        ),
        should_cancel=ctx.should_stop,
        clip_audio_volume=request.get("clip_audio_volume"),
        caption_style=request.get("caption_style", "karaoke"),
        speak=request.get("narration", True),
        music=ctx.input_file("music_upload_id", "music"),  # a corrupt file fails in the render
        music_volume=request.get("music_volume", 0.35),
    )
    if result.silent_narration:
        lifecycle.add_note(ctx.job_id, SILENT_NOTE)
    ctx.provider = ctx.provider or "offline"
    ctx.usage = (ctx.usage or []) + [
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
