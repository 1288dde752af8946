"""`mo make` and the commands about one job: jobs, show, cancel, retry, download, upload."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from mo_client.cli.common import (
    ACCOUNT_TEXT,
    EXIT_FAILED,
    EXIT_INTERRUPTED,
    Json,
    dollars,
    emit_json,
    err,
    fail,
    handled,
    out,
    state,
)
from mo_client.cli.progress import JobBars, about_left
from mo_client.client import Client
from mo_client.models import Job, JobEstimate, JobStatus, Step

Out = Annotated[Path, typer.Option("--out", "-o", help="Folder for the MP4 and captions.")]


def parse_assignments(pairs: list[str] | None, what: str) -> dict[str, Any]:
    """`key=value` options; a value that parses as JSON is taken as JSON (numbers, objects)."""
    result: dict[str, Any] = {}
    for pair in pairs or []:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise typer.BadParameter(f"{what} wants KEY=VALUE, got {pair!r}")
        try:
            result[key] = json.loads(value)
        except ValueError:
            result[key] = value
    return result


def script_fields(client: Client, path: Path) -> dict[str, Any]:
    """`--script FILE`: plain text is your narration (`script`); a .json file is a list of
    scenes (`{text, visual?, duration_s?, image?}`), whose `image` (a path beside the file) is
    uploaded and sent as `image_upload_id`."""
    text = path.read_text(encoding="utf-8")
    if path.suffix.lower() != ".json":
        return {"script": text}
    try:
        scenes = json.loads(text)
    except ValueError as exc:
        raise typer.BadParameter(f"{path} is not JSON: {exc}") from None
    if not isinstance(scenes, list) or not all(isinstance(s, dict) for s in scenes):
        raise typer.BadParameter(f"{path} must hold a JSON list of scenes")
    for scene in scenes:
        media = scene.pop("image", None)
        if media:
            scene["image_upload_id"] = client.upload_file(path.parent / media).id
    return {"scenes": scenes}


def follow_with_bars(client: Client, job: Job, *, quiet: bool, announce: str = "") -> Job:
    """Follow until the job ends (bars unless quiet). Ctrl-C asks whether to cancel the job."""
    try:
        if announce:
            err.print(announce)
        if quiet:
            return client.wait(job.id)
        with JobBars(client, job, err) as bars:
            for event in client.follow(job.id):
                bars.on_event(event)
        return client.get_job(job.id)
    except KeyboardInterrupt:
        err.print()
        try:
            cancel = typer.confirm(f"Cancel job {job.id}?", default=False, err=True)
        except (typer.Abort, EOFError):
            cancel = False
        if cancel:
            client.cancel(job.id)
            err.print(f"Canceled {job.id}")
        else:
            err.print(f"{job.id} keeps running: `mo show {job.id} --follow`, then `mo download {job.id}`")
        raise typer.Exit(EXIT_INTERRUPTED) from None


def finish(client: Client, job: Job, folder: Path, *, captions: bool, as_json: bool) -> None:
    """A succeeded job's files into `folder`; otherwise its error code and a non-zero exit."""
    if job.status != JobStatus.succeeded:
        code = job.error.code if job.error else f"job_{job.status}"
        message = job.error.message if job.error else f"the job is {job.status}"
        step = f" (step {job.error.step})" if job.error and job.error.step else ""
        if as_json:
            emit_json({"job": job, "error": {"code": code, "message": message}})
            raise typer.Exit(EXIT_FAILED)
        raise fail(code, f"job {job.id} {job.status}{step}: {message}", False, EXIT_FAILED)
    files = client.download(job, folder, captions=captions)
    if as_json:
        emit_json({"job": job, "files": {"video": files.video, "captions": files.captions}})
        return
    for note in job.notes:
        out.print(f"[dim]note: {note}[/dim]")
    also = f" and {files.captions}" if files.captions else ""
    out.print(f"[green]done[/green] {job.id}: {files.video}{also}")


def print_estimate(estimate: JobEstimate) -> None:
    table = Table("step", "runs on", "account", "up to")
    for step in estimate.steps:
        table.add_row(
            step.purpose,
            " ".join(filter(None, (step.provider, step.model))),
            ACCOUNT_TEXT.get(step.account, step.account),
            "free" if step.account == "none" else dollars(step.cost_micros),
        )
    out.print(table)
    own = estimate.cost_micros - estimate.credits_micros
    out.print(
        f"reserves {dollars(estimate.credits_micros)} of your {dollars(estimate.credits_available_micros)}"
        f" credits ({estimate.plan} plan)"
        + (f", up to {dollars(own)} more on your own keys" if own > 0 else "")
        + f"; ready in about {estimate.wall_s:.0f} s"
    )
    if not estimate.fits:
        out.print("[red]your credits do not cover it[/red]: submitting answers credits_exhausted")


def step_cost(step: Step) -> str:
    """ "$0.0630 (included in your plan)": what a step cost and on whose account."""
    accounts = sorted({u.account for u in step.usage if u.account != "none"})
    if not accounts:
        return dollars(step.cost_micros) if step.cost_micros else "free"
    return f"{dollars(step.cost_micros)} ({' and '.join(ACCOUNT_TEXT.get(a, a) for a in accounts)})"


def cost_line(job: Job) -> str:
    cost = job.cost
    parts = [f"reserved {dollars(cost.estimate_micros)}"]
    if job.terminal:
        parts.append(f"charged {dollars(cost.charged_micros)} of credits")
    else:
        parts += [f"holds {dollars(cost.held_micros)}", f"spent {dollars(cost.platform_micros)} so far"]
    if cost.own_micros:
        parts.append(f"{dollars(cost.own_micros)} on your own keys (billed by the provider)")
    return "cost: " + ", ".join(parts)


def register(app: typer.Typer) -> None:
    @app.command()
    @handled
    def make(
        ctx: typer.Context,
        prompt: Annotated[
            str | None, typer.Argument(help="What the video is about (or give --script).")
        ] = None,
        script: Annotated[
            Path | None,
            typer.Option(
                "--script",
                exists=True,
                dir_okay=False,
                help="Your narration (text), or your scenes (.json: [{text, visual, image}]).",
            ),
        ] = None,
        clip_volume: Annotated[
            float | None,
            typer.Option(help="Your clips' own sound under the narration (0..2; default: dropped)."),
        ] = None,
        duration: Annotated[
            int | None, typer.Option("--duration", "-d", help="Seconds (5..180, your plan caps it).")
        ] = None,
        aspect: Annotated[str | None, typer.Option("--aspect", "-a", help="9:16, 16:9 or 1:1.")] = None,
        voice: Annotated[str | None, typer.Option(help="Narration voice.")] = None,
        motion: Annotated[
            str | None,
            typer.Option(help="none, ai (every still becomes a generated clip), or per scene: ai,none,ai."),
        ] = None,
        style: Annotated[str | None, typer.Option(help="Visual style, e.g. 'watercolor'.")] = None,
        language: Annotated[str | None, typer.Option(help="Narration language (default en).")] = None,
        image: Annotated[
            Path | None,
            typer.Option("--image", exists=True, dir_okay=False, help="A reference image (uploaded first)."),
        ] = None,
        provider: Annotated[
            list[str] | None, typer.Option("--provider", help="STEP=NAME, e.g. concept=openai (repeat).")
        ] = None,
        webhook_url: Annotated[str | None, typer.Option(help="A registered webhook endpoint.")] = None,
        field: Annotated[
            list[str] | None,
            typer.Option("--set", help="Any other request field, KEY=VALUE (JSON values allowed; repeat)."),
        ] = None,
        out_dir: Out = Path("."),
        captions: Annotated[bool, typer.Option(help="Also download the captions (SRT).")] = True,
        detach: Annotated[bool, typer.Option("--detach", help="Submit and exit without waiting.")] = False,
        idempotency_key: Annotated[str | None, typer.Option(help="Default: a fresh one.")] = None,
        estimate: Annotated[
            bool,
            typer.Option(
                "--estimate",
                help="Print what it would cost, reserve from your credits and take; submit nothing.",
            ),
        ] = False,
        as_json: Json = False,
    ) -> None:
        """Make a video: submit, follow with live bars, download the MP4 and captions here."""
        if prompt is None and script is None:
            raise typer.BadParameter("give a PROMPT, or your own script with --script FILE")
        client = state(ctx).client()
        fields: dict[str, Any] = {
            "duration_s": duration,
            "aspect": aspect,
            "voice": voice,
            "style": style,
            "language": language,
            "webhook_url": webhook_url,
            "clip_audio_volume": clip_volume,
            "motion": motion if motion is None or "," not in motion else motion.split(","),
        }
        if script is not None:
            fields.update(script_fields(client, script))
        if provider:
            fields["providers"] = parse_assignments(provider, "--provider")
        if image is not None and not estimate:  # a reference image changes no cost
            upload = client.upload_file(image)
            fields["inputs"] = {"reference_image_upload_id": upload.id}
            if not as_json:
                err.print(f"uploaded {image.name} as {upload.id}")
        fields.update(parse_assignments(field, "--set"))
        if estimate:
            found = client.estimate(prompt, **{k: v for k, v in fields.items() if v is not None})
            emit_json(found) if as_json else print_estimate(found)
            return
        job = client.submit(
            prompt, idempotency_key=idempotency_key, **{k: v for k, v in fields.items() if v is not None}
        )
        if detach:
            emit_json(job) if as_json else out.print(job.id)
            return
        announce = (
            ""
            if as_json
            else f"submitted [bold]{job.id}[/bold]" + (" (already, same key)" if job.replayed else "")
        )
        job = follow_with_bars(client, job, quiet=as_json, announce=announce)
        finish(client, job, out_dir, captions=captions, as_json=as_json)

    @app.command("jobs")
    @handled
    def list_jobs(
        ctx: typer.Context,
        status: Annotated[str | None, typer.Option(help="Only jobs in this status.")] = None,
        limit: Annotated[int, typer.Option(help="How many (newest first).")] = 20,
        as_json: Json = False,
    ) -> None:
        """Your jobs, newest first."""
        page = state(ctx).client().list_jobs(status=status, limit=limit)
        if as_json:
            emit_json(page.items)
            return
        table = Table("id", "status", "progress", "created", "prompt")
        for job in page.items:
            table.add_row(
                job.id,
                job.status,
                f"{job.progress}%",
                job.created_at,
                str(job.request.get("prompt", ""))[:50],
            )
        out.print(table)

    @app.command()
    @handled
    def show(
        ctx: typer.Context,
        job_id: str,
        follow: Annotated[
            bool, typer.Option("--follow", "-f", help="Follow it with live bars until it ends.")
        ] = False,
        as_json: Json = False,
    ) -> None:
        """One job: status, steps and what each cost, the job's cost, error, outputs."""
        client = state(ctx).client()
        job = client.get_job(job_id)
        if follow and not job.terminal:
            job = follow_with_bars(client, job, quiet=as_json)
        if as_json:
            emit_json(job)
            return
        left = None if job.terminal else about_left(job.eta_s)
        out.print(
            f"[bold]{job.id}[/bold] {job.status} {job.progress}% (attempt {job.attempt})"
            f"{f', {left}' if left else ''}: {job.request.get('prompt', '')}"
        )
        table = Table("step", "status", "progress", "provider", "cost", "started", "finished")
        for step in job.steps:
            table.add_row(
                step.name,
                step.status,
                f"{step.progress}%",
                step.provider or "-",
                step_cost(step),
                step.started_at or "-",
                step.finished_at or "-",
            )
        out.print(table)
        out.print(cost_line(job))
        if job.error:
            out.print(f"[red]{job.error.code}[/red] ({job.error.step or '-'}): {job.error.message}")
        if job.outputs:
            out.print(f"video: {job.outputs.video_url}\n(links valid for minutes; `mo download {job.id}`)")
        for note in job.notes:
            out.print(f"[dim]note: {note}[/dim]")

    @app.command()
    @handled
    def cancel(ctx: typer.Context, job_id: str, as_json: Json = False) -> None:
        """Cancel a job; a running step stops within seconds."""
        job = state(ctx).client().cancel(job_id)
        emit_json(job) if as_json else out.print(f"{job.id} {job.status}")

    @app.command()
    @handled
    def retry(
        ctx: typer.Context,
        job_id: str,
        follow: Annotated[bool, typer.Option("--follow", "-f", help="Follow it, then download.")] = False,
        out_dir: Out = Path("."),
        as_json: Json = False,
    ) -> None:
        """Resume a failed or canceled job from the step that stopped."""
        client = state(ctx).client()
        job = client.retry(job_id)
        if not follow:
            emit_json(job) if as_json else out.print(f"{job.id} {job.status} (attempt {job.attempt})")
            return
        finish(client, follow_with_bars(client, job, quiet=as_json), out_dir, captions=True, as_json=as_json)

    @app.command()
    @handled
    def download(
        ctx: typer.Context,
        job_id: str,
        out_dir: Out = Path("."),
        captions: Annotated[bool, typer.Option(help="Also the captions (SRT).")] = True,
        thumbnail: Annotated[bool, typer.Option(help="Also the thumbnail (JPEG).")] = False,
        as_json: Json = False,
    ) -> None:
        """Download a finished job's MP4 (and captions) into a folder."""
        files = state(ctx).client().download(job_id, out_dir, captions=captions, thumbnail=thumbnail)
        if as_json:
            emit_json(files._asdict())
        else:
            for path in files:
                if path is not None:
                    out.print(str(path))

    @app.command()
    @handled
    def upload(
        ctx: typer.Context,
        path: Annotated[Path, typer.Argument(exists=True, dir_okay=False)],
        content_type: Annotated[str | None, typer.Option(help="Default: from the file name.")] = None,
        as_json: Json = False,
    ) -> None:
        """Upload a file (e.g. a reference image) and print its upload id."""
        uploaded = state(ctx).client().upload_file(path, content_type)
        emit_json(uploaded) if as_json else out.print(uploaded.id)
