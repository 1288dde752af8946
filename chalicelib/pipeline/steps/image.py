"""The image step: a still (or the user's own picture or clip) per scene and, in the same step,
the narration WAVs with their word timings, recorded in narration.json for the video step."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor

from chalicelib.infra import db, storage
from chalicelib.jobs import lifecycle
from chalicelib.pipeline import provider_chain
from chalicelib.pipeline.context import Context, scene_words
from chalicelib.pipeline.media import scene_media
from chalicelib.pipeline.media.narration import Narration
from chalicelib.pipeline.steps.concept import load_concept

NARRATION_MANIFEST = "narration.json"  # the image step's record of the narration WAVs


def _off_thread(fn, *args):
    """Run in a pool thread, closing the thread's MySQL connection (provider keys) after."""
    try:
        return fn(*args)
    finally:
        db.close()


def run(ctx: Context, done: dict[str, list[str]]) -> list[str]:
    """The scene stills and, at the same time in a second thread, the narration: speech
    synthesis (piper, espeak-ng or a network call) overlaps Pillow work or image generation.
    A job with `narration: false` has no speech at all."""
    concept = load_concept(ctx)
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
                    reference=ctx.input_file("reference_image_upload_id", "reference"),
                    on_progress=lambda p: ctx.report(
                        p * 9 // 10, message=scene_words("image", p, count - len(own))
                    ),
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
