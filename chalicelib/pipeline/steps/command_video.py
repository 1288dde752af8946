"""The `command` pipeline's video step: the customer's orchestrator (pipeline/command.py, the
contract in docs/plugins.md) makes video.mp4 in a work folder of this attempt; a thumbnail and
empty captions are made when it left none, and the upload step publishes the lot."""

from __future__ import annotations

import shutil
import time
from pathlib import Path

from chalicelib.core.settings import get_settings
from chalicelib.http.schemas.jobs import StepUsage
from chalicelib.infra import storage
from chalicelib.jobs import lifecycle
from chalicelib.jobs.states import STEP_WEIGHTS
from chalicelib.pipeline import command
from chalicelib.pipeline.context import Context
from chalicelib.pipeline.media import images
from chalicelib.pipeline.media.ffmpeg import RenderCanceled
from chalicelib.pipeline.media.filtergraph import FPS
from chalicelib.pipeline.media.thumbnail import write_thumbnail


def run(ctx: Context, done: dict[str, list[str]]) -> list[str]:
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
        "fps": FPS,
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
                ctx.job_id, ctx.step, message, ctx.base + STEP_WEIGHTS[ctx.step] * max(0, ctx._last[0]) // 100
            )

    started = time.monotonic()
    try:
        made = command.run(config, spec, work, on_progress, ctx.should_stop)
    except command.CommandCanceled:
        raise RenderCanceled() from None
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
        write_thumbnail(outputs["video.mp4"], outputs["thumbnail.jpg"])
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
    return Path(__file__).resolve().parents[3]
