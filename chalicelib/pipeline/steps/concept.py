"""The concept step: the job's storyboard (title, scenes with narration and visuals), from the
user's own script as written or from the concept provider chain; checkpointed as concept.json,
which the later steps read back when the job resumes on another worker."""

from __future__ import annotations

from chalicelib.infra import storage
from chalicelib.pipeline import provider_chain
from chalicelib.pipeline.concept import script
from chalicelib.pipeline.concept.storyboard import Concept
from chalicelib.pipeline.context import Context


def run(ctx: Context, done: dict[str, list[str]]) -> list[str]:
    if script.is_script(ctx.request):  # the user's own words: no provider rewrites them
        ctx.concept, ctx.provider = script.to_concept(ctx.request), "script"
    else:
        ctx.concept = ctx.outcome(provider_chain.run("concept", ctx.task()))
    ctx.replan(scenes=len(ctx.concept.scenes), seconds=script.total_length(ctx.concept))
    key = storage.artifact_key(ctx.job_id, "concept", "concept.json")
    storage.put_bytes(ctx.concept.model_dump_json(indent=2).encode(), key, "application/json")
    return [key]


def load_concept(ctx: Context) -> Concept:
    """This attempt's concept, or the checkpoint's when the step ran in an earlier attempt."""
    if ctx.concept is None:
        key = storage.artifact_key(ctx.job_id, "concept", "concept.json")
        ctx.concept = Concept.model_validate_json(storage.get_bytes(key))
    return ctx.concept
