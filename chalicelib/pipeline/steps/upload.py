"""The upload step: publish the video step's render under `output/`, once it is checked to be a
real video of the asked size; and the job's outputs, by kind, as the job reply lists them."""

from __future__ import annotations

import json
from pathlib import Path

from chalicelib.infra import storage
from chalicelib.pipeline.context import Context
from chalicelib.pipeline.errors import StepError
from chalicelib.pipeline.media import images
from chalicelib.pipeline.media.probe import probe

OUTPUTS = ("video", "thumbnail", "captions", "vtt", "words", "manifest")  # what it publishes
OUTPUT_FILES = {
    "video": "video.mp4",
    "thumbnail": "thumbnail.jpg",
    "captions": "captions.srt",
    "vtt": "captions.vtt",
    "words": "words.json",
    "manifest": "render.json",
}


def run(ctx: Context, done: dict[str, list[str]]) -> list[str]:
    """Publish: check the render is a real video of the asked size, then copy to `output/`."""
    video_keys = done["video"]
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


def job_outputs(keys: list[str]) -> dict:
    """The job's outputs: the published keys by kind, and the measured audio levels."""
    by_file = {Path(k).name: k for k in keys}
    outputs: dict = {kind: by_file[name] for kind, name in OUTPUT_FILES.items() if name in by_file}
    if "manifest" in outputs:
        outputs["audio"] = json.loads(storage.get_bytes(outputs["manifest"])).get("audio")
    return outputs
