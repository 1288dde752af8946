"""Live per-step progress bars for one job, driven by its events.

Events carry the job's overall progress; each event (at most a few a second) refreshes the job
itself, whose steps carry their own progress and status, so the bars show what the server says.
The running step also shows its own words (e.g. "image 2 of 5") and the time left.
"""

from __future__ import annotations

import time

from rich.console import Console
from rich.progress import BarColumn, Progress, TaskID, TextColumn

from mo_client.client import Client
from mo_client.models import Event, Job

STEP_STYLE = {
    "pending": "dim",
    "running": "cyan",
    "succeeded": "green",
    "failed": "red",
    "canceled": "yellow",
    "skipped": "dim",
}
REFRESH_EVERY_S = 0.5


class JobBars:
    """`with JobBars(client, job, console) as bars: for e in client.follow(id): bars.on_event(e)`"""

    def __init__(self, client: Client, job: Job, console: Console):
        self.client, self.job = client, job
        self.progress = Progress(
            TextColumn("{task.fields[label]:<8}"),
            BarColumn(bar_width=36),
            TextColumn("{task.percentage:>3.0f}%"),
            TextColumn("{task.fields[status]}"),
            console=console,
            transient=False,
            auto_refresh=console.is_terminal,
        )
        self.tasks: dict[str, TaskID] = {}
        self._refreshed = 0.0
        self.said: dict[str, str] = {}  # each step's latest message
        self.eta_s: float | None = job.eta_s

    def __enter__(self) -> JobBars:
        self.progress.start()
        for step in self.job.steps:
            self.tasks[step.name] = self.progress.add_task(step.name, total=100, label=step.name, status="")
        self.show(self.job)
        return self

    def __exit__(self, *exc: object) -> None:
        self.progress.stop()

    def on_event(self, event: Event) -> None:
        console = self.progress.console
        said = event.step and event.message and event.type == "step.progress"
        new_words = said and self.said.get(event.step or "") != event.message
        if said:
            self.said[event.step or ""] = event.message or ""
        if event.eta_s is not None or event.terminal:
            self.eta_s = event.eta_s
        left = about_left(self.eta_s)
        if event.type == "job.retrying":
            console.print(f"[yellow]retrying[/yellow]: {event.message or ''}")
        elif not console.is_terminal and (event.type != "step.progress" or new_words):  # a log
            words = f" {event.message}" if new_words else ""
            tail = f" ({left})" if left and not event.terminal else ""
            console.print(f"{event.type} {event.step or ''}{words} {event.progress or 0}%{tail}".rstrip())
        now = time.monotonic()
        if event.type != "step.progress" or event.terminal or now - self._refreshed >= REFRESH_EVERY_S:
            self._refreshed = now
            self.show(self.client.get_job(self.job.id))

    def show(self, job: Job) -> None:
        self.job = job
        for step in job.steps:
            task = self.tasks.get(step.name)
            if task is None:
                continue
            style = STEP_STYLE.get(step.status, "")
            provider = f" ({step.provider})" if step.provider else ""
            status = (f"[{style}]{step.status}[/{style}]" if style else step.status) + provider
            if step.status == "running":
                extra = [self.said.get(step.name), about_left(self.eta_s)]
                status += "".join(f" · {words}" for words in extra if words)
            self.progress.update(task, completed=step.progress, status=status)


def about_left(seconds: float | None) -> str | None:
    """ "about 40 s left", rounded as a person would say it; None without an estimate."""
    if seconds is None:
        return None
    if seconds < 5:
        return "a few seconds left"
    if seconds < 90:
        return f"about {int(round(seconds / 5) * 5) if seconds >= 20 else round(seconds)} s left"
    return f"about {round(seconds / 60)} min left"
