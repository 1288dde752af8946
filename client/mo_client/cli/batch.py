"""`mo batch FILE`: one job per line of a CSV or JSON Lines file, safe to run again.

Each line's Idempotency-Key is a hash of its content (and of the bytes of its image), so a run
that was interrupted, crashed or lost its connection can simply be started again: lines already
submitted come back as the same jobs (the server replays them), nothing is made twice. Only the
upload id of a line's image can't be derived from its content, so it is journaled next to the
results file before the job is submitted and reused by the next run.
"""

from __future__ import annotations

import csv
import hashlib
import json
import threading
import time
from collections import Counter
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn
from rich.table import Table

from mo_client import errors
from mo_client.cli.common import EXIT_FAILED, EXIT_INTERRUPTED, Json, emit_json, err, handled, out, state
from mo_client.client import Client
from mo_client.models import JobStatus

INT_FIELDS = {"duration_s"}
ALIASES = {"duration": "duration_s"}
POLL_S = 2.0  # how often a worker looks at its job (and notices Ctrl-C at once)


@dataclass
class Line:
    number: int  # 1-based record number (a CSV's header is not one)
    fields: dict[str, Any]
    image: Path | None = None
    problem: str | None = None  # why it can't be submitted at all
    key: str = ""


@dataclass
class Result:
    line: int
    prompt: str
    job_id: str | None = None
    status: str = "pending"  # a job status, or: invalid, refused, interrupted
    output: str | None = None
    error: str | None = None


@dataclass
class Run:
    client: Client
    out_dir: Path | None
    journal: Path
    uploads: dict[str, str] = field(default_factory=dict)
    stop: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)


# ---- reading the file -----------------------------------------------------------------------
def _normalise(raw: dict[str, Any], number: int, base: Path) -> Line:
    fields: dict[str, Any] = {}
    for name, value in raw.items():
        if name is None or value is None or value == "":
            continue
        name = ALIASES.get(name.strip(), name.strip())
        if name in INT_FIELDS and isinstance(value, str) and value.strip().lstrip("-").isdigit():
            value = int(value)
        if "." in name:  # CSV columns like providers.concept
            outer, inner = name.split(".", 1)
            fields.setdefault(outer, {})[inner] = value
        else:
            fields[name] = value
    image = fields.pop("image", None)
    line = Line(number, fields, (base / str(image)) if image else None)
    if not any(fields.get(source) for source in ("prompt", "script", "scenes")):
        line.problem = "no prompt, script or scenes"
    elif line.image is not None and not line.image.is_file():
        line.problem = f"image not found: {line.image}"
    return line


def read_lines(path: Path) -> list[Line]:
    base = path.parent
    text = path.read_text(encoding="utf-8-sig")
    if path.suffix.lower() in (".jsonl", ".ndjson") or text.lstrip().startswith("{"):
        lines: list[Line] = []
        for raw in (r for r in text.splitlines() if r.strip()):
            number = len(lines) + 1
            try:
                data = json.loads(raw)
            except ValueError as exc:
                lines.append(Line(number, {}, problem=f"not JSON: {exc}"))
                continue
            if not isinstance(data, dict):
                lines.append(Line(number, {}, problem="not a JSON object"))
                continue
            lines.append(_normalise(data, number, base))
    else:
        lines = [_normalise(row, n, base) for n, row in enumerate(csv.DictReader(text.splitlines()), 1)]
    seen: Counter[str] = Counter()
    for line in lines:  # identical lines are distinct jobs: the nth copy gets its own key
        content = json.dumps({"fields": line.fields, "image": _digest(line.image)}, sort_keys=True)
        digest = hashlib.sha256(content.encode()).hexdigest()[:40]
        line.key = f"batch-{digest}-{seen[digest]}"
        seen[digest] += 1
    return lines


def _digest(path: Path | None) -> str | None:
    if path is None or not path.is_file():
        return None
    return hashlib.sha256(path.read_bytes()).hexdigest()


# ---- one line -------------------------------------------------------------------------------
def _journal_upload(run: Run, key: str, upload_id: str) -> None:
    with run.lock:
        run.uploads[key] = upload_id
        with open(run.journal, "a", encoding="utf-8") as fh:
            fh.write(json.dumps({"key": key, "upload_id": upload_id}) + "\n")


def _load_journal(path: Path) -> dict[str, str]:
    uploads: dict[str, str] = {}
    if path.exists():
        for raw in path.read_text().splitlines():
            try:
                entry = json.loads(raw)
                uploads[entry["key"]] = entry["upload_id"]
            except (ValueError, KeyError, TypeError):
                continue  # a line cut short by a crash
    return uploads


def process(run: Run, line: Line, result: Result, show: Progress, retry_failed: bool) -> Result:
    """Upload, submit, follow until the job ends, download. Never raises for expected errors."""
    task = show.add_task("", total=100, label=f"line {line.number}", status="submitting")
    try:
        fields = dict(line.fields)
        if line.image is not None:
            upload_id = run.uploads.get(line.key)
            if upload_id is None:
                upload_id = run.client.upload_file(line.image).id
                _journal_upload(run, line.key, upload_id)
            fields["inputs"] = {**fields.get("inputs", {}), "reference_image_upload_id": upload_id}
        job = run.client.submit(idempotency_key=line.key, **fields)
        result.job_id, result.status = job.id, job.status
        if retry_failed and job.status in (JobStatus.failed, JobStatus.canceled):
            job = run.client.retry(job.id)
        # Polled, not long-polled: the API holds only a few long-polls per user open at once
        # (LONG_POLLS_PER_USER), and a batch follows up to its plan's concurrency of jobs.
        while job.status in (JobStatus.queued, JobStatus.running):
            show.update(
                task,
                completed=job.progress,
                status=f"{job.id} {job.status} {job.current_step or ''}".rstrip(),
            )
            if run.stop.wait(POLL_S):
                result.status = "interrupted"
                return result
            job = run.client.get_job(job.id)
        result.status = job.status
        if job.status == JobStatus.succeeded:
            result.output = _save(run, job.id)
        elif job.error is not None:
            result.error = f"{job.error.code}: {job.error.message}"
    except errors.ApiError as exc:
        result.status, result.error = "refused", f"{exc.code}: {exc.message}"
        if isinstance(exc, errors.ValidationFailed) and exc.fields:
            result.error += " (" + "; ".join(f"{k}: {v}" for k, v in exc.fields.items()) + ")"
    except errors.MoError as exc:
        result.status, result.error = "failed", f"{getattr(exc, 'code', 'error')}: {exc}"
    finally:
        show.remove_task(task)
    return result


def _save(run: Run, job_id: str) -> str:
    if run.out_dir is None:
        return run.client.get_job(job_id).outputs.video_url  # type: ignore[union-attr]
    existing = run.out_dir / f"{job_id}.mp4"
    if existing.exists() and existing.stat().st_size > 0:  # saved by an earlier run
        return str(existing)
    return str(run.client.download(job_id, run.out_dir).video)


# ---- results --------------------------------------------------------------------------------
def write_results(path: Path, results: list[Result]) -> None:
    rows = [asdict(r) for r in results]
    partial = path.with_name(path.name + ".tmp")
    with open(partial, "w", encoding="utf-8", newline="") as fh:
        if path.suffix.lower() == ".csv":
            writer = csv.DictWriter(fh, fieldnames=list(rows[0]) if rows else ["line"])
            writer.writeheader()
            writer.writerows(rows)
        else:
            fh.writelines(json.dumps(row) + "\n" for row in rows)
    partial.replace(path)


def default_results_path(source: Path) -> Path:
    suffix = ".csv" if source.suffix.lower() == ".csv" else ".jsonl"
    return source.with_name(f"{source.stem}.results{suffix}")


def summary_table(results: list[Result]) -> Table:
    table = Table("line", "job", "status", "output or error")
    colours = {"succeeded": "green", "interrupted": "yellow", "pending": "dim"}
    for r in results:
        colour = colours.get(r.status, "red")
        table.add_row(
            str(r.line), r.job_id or "-", f"[{colour}]{r.status}[/{colour}]", r.output or r.error or "-"
        )
    return table


# ---- the command ----------------------------------------------------------------------------
def register(app: typer.Typer) -> None:
    @app.command("batch")
    @handled
    def batch(
        ctx: typer.Context,
        file: Annotated[
            Path,
            typer.Argument(
                exists=True,
                dir_okay=False,
                help="CSV (with a header) or JSON Lines; a column per request field.",
            ),
        ],
        concurrency: Annotated[
            int | None, typer.Option(min=1, help="Jobs in flight at once (default: your plan's concurrency).")
        ] = None,
        results: Annotated[
            Path | None, typer.Option(help="Results file (default: FILE's name + .results.csv or .jsonl).")
        ] = None,
        out_dir: Annotated[Path, typer.Option("--out", "-o", help="Folder for the MP4s.")] = Path("."),
        download: Annotated[
            bool, typer.Option(help="Download each MP4 (else its URL is the output).")
        ] = True,
        retry_failed: Annotated[
            bool, typer.Option("--retry-failed", help="Resume jobs an earlier run left failed or canceled.")
        ] = False,
        as_json: Json = False,
    ) -> None:
        """Make one video per line; rerun the same command to resume after an interruption."""
        client = state(ctx).client()
        client.max_retries = 8  # a batch waits out rate limits rather than failing lines
        lines = read_lines(file)
        results_path = results or default_results_path(file)
        journal = results_path.with_name(results_path.name + ".journal")
        run = Run(client, out_dir if download else None, journal)
        run.uploads = _load_journal(run.journal)
        if run.out_dir is not None:
            run.out_dir.mkdir(parents=True, exist_ok=True)
        limit = concurrency or client.me().plan.max_concurrency
        rows = [
            Result(line.number, str(line.fields.get("prompt") or line.fields.get("script") or "")[:80])
            for line in lines
        ]
        for line, row in zip(lines, rows, strict=True):
            if line.problem:
                row.status, row.error = "invalid", f"invalid_line: {line.problem}"

        todo = [(line, row) for line, row in zip(lines, rows, strict=True) if not line.problem]
        show = Progress(
            TextColumn("{task.fields[label]:<10}"),
            BarColumn(bar_width=30),
            MofNCompleteColumn(),
            TextColumn("{task.fields[status]}"),
            console=err,
            auto_refresh=err.is_terminal,
        )
        overall = show.add_task(
            "", total=len(lines), label="batch", status=f"{limit} at once", completed=len(lines) - len(todo)
        )
        interrupted = False
        with show, ThreadPoolExecutor(max_workers=limit) as pool:
            pending: set[Future[Result]] = {
                pool.submit(process, run, line, row, show, retry_failed) for line, row in todo
            }
            try:
                while pending:
                    done, pending = wait(pending, timeout=0.5, return_when=FIRST_COMPLETED)
                    for future in done:
                        _report(show, overall, future.result())
            except KeyboardInterrupt:
                interrupted = True
                run.stop.set()
                for future in pending:
                    future.cancel()
                err.print("interrupted: finishing what is in flight; run the same command again to resume")
                _drain(pending)
        for row in rows:
            if row.status in ("pending", "queued", "running"):
                row.status = "interrupted"
        write_results(results_path, rows)
        if all(r.status == "succeeded" for r in rows):
            run.journal.unlink(missing_ok=True)
        if as_json:
            emit_json({"results": [asdict(r) for r in rows], "results_file": str(results_path)})
        else:
            out.print(summary_table(rows))
            counts = Counter(r.status for r in rows)
            tally = ", ".join(f"{n} {s}" for s, n in sorted(counts.items()))
            out.print(f"{tally}; results in {results_path}")
        if interrupted:
            raise typer.Exit(EXIT_INTERRUPTED)
        if any(r.status != "succeeded" for r in rows):
            raise typer.Exit(EXIT_FAILED)


def _report(show: Progress, overall: TaskID, result: Result) -> None:
    show.advance(overall)
    if result.status == "succeeded":
        show.console.print(f"[green]ok[/green]     line {result.line} {result.job_id} -> {result.output}")
    elif result.status != "interrupted":
        show.console.print(
            f"[red]{result.status}[/red] line {result.line} {result.job_id or ''} {result.error or ''}"
        )


def _drain(pending: set[Future[Result]]) -> None:
    """Wait for the workers to notice the stop (a few seconds); a second Ctrl-C stops waiting."""
    deadline = time.monotonic() + 30
    try:
        while pending and time.monotonic() < deadline:
            _, pending = wait(pending, timeout=0.5)
    except KeyboardInterrupt:
        pass
