"""Live per-step progress bars for one job, driven by its events.

Events carry the job's overall progress; each event (at most a few a second) refreshes the job
itself, whose steps carry their own progress and status, so the bars show what the server says.
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
        if event.type == "job.retrying":
            console.print(f"[yellow]retrying[/yellow]: {event.message or ''}")
        elif not console.is_terminal and event.type != "step.progress":  # a log: one line each
            console.print(f"{event.type} {event.step or ''} {event.progress or 0}%".rstrip())
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
            status = f"[{style}]{step.status}[/{style}]" if style else step.status
            self.progress.update(task, completed=step.progress, status=status + provider)
