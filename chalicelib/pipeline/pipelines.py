"""Our pipelines, as the registry names them ("steps" and "command"): which function runs each
step of a job, in STEP_NAMES order, `fn(ctx, done) -> artifact keys` (`done`: the earlier
steps' keys); None: the pipeline has no such step (it is marked skipped). A plug-in's pipeline
is a table of the same shape (docs/plugins.md)."""

from __future__ import annotations

from collections.abc import Callable

from chalicelib.pipeline.context import Context
from chalicelib.pipeline.steps import command_video, concept, image, upload, video

StepFunction = Callable[[Context, dict[str, list[str]]], list[str]]

STEPS: dict[str, StepFunction] = {
    "concept": concept.run,
    "image": image.run,
    "video": video.run,
    "upload": upload.run,
}
# A customer's orchestrator as the video step; our upload publishes what it made.
COMMAND_STEPS: dict[str, StepFunction | None] = {
    "concept": None,
    "image": None,
    "video": command_video.run,
    "upload": upload.run,
}
