"""Helpers for tests that run real worker processes on a queue of their own."""

from __future__ import annotations

import os
import secrets
import signal
import time
from contextlib import contextmanager
from pathlib import Path

from chalicelib.core.settings import get_settings
from chalicelib.infra import queue
from chalicelib.jobs import progress
from chalicelib.jobs import repository as jobs_db
from chalicelib.runtime import launcher

# Short lock / stall / lease so a killed worker's job is taken over in seconds, not half a minute.
FAST_TAKEOVER = {"WORKER_LOCK_MS": "4000", "WORKER_STALLED_INTERVAL_MS": "2000", "JOB_LEASE_S": "6"}


@contextmanager
def private_queue(monkeypatch):
    """This test's own queue name, for the in-process API and the workers it starts."""
    name = f"{get_settings().queue_name}-{secrets.token_hex(3)}"
    monkeypatch.setattr(get_settings(), "queue_name", name)
    queue.reset()
    try:
        yield name
    finally:
        queue.reset()


class Workers:
    """Worker processes started by a test; every one is stopped when the test ends."""

    def __init__(self, log_dir: Path, env: dict[str, str]):
        self.log_dir, self.env, self.procs = log_dir, env, []

    def start(self, **extra_env: str):
        log = self.log_dir / f"worker-{len(self.procs) + 1}.log"
        proc = launcher.spawn(launcher.worker_command(), log, {**self.env, **extra_env})
        proc.log = log
        self.procs.append(proc)
        return proc

    def kill(self, proc) -> None:
        """SIGKILL the worker and its children (ffmpeg): a crash, not a shutdown."""
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.wait()

    def stop_all(self) -> None:
        for proc in self.procs:
            launcher.stop(proc.pid)

    def logs(self) -> str:
        return "\n".join(f"--- {p.log.name}\n{p.log.read_text()[-3000:]}" for p in self.procs)


def wait_for_event(job_id: str, predicate, timeout_s: float = 120, after: str | None = None):
    """Block on the job's event stream until an event matches; returns (event, cursor)."""
    deadline = time.monotonic() + timeout_s
    cursor = after
    while time.monotonic() < deadline:
        for event in progress.read(job_id, cursor, wait_s=min(5.0, deadline - time.monotonic())):
            cursor = event.id
            if predicate(event):
                return event, cursor
    raise AssertionError(f"no matching event for {job_id} within {timeout_s}s")


def wait_for_status(job_id: str, statuses: set[str], timeout_s: float = 120) -> dict:
    """Follow the job's events until MySQL says one of `statuses`."""
    deadline = time.monotonic() + timeout_s
    cursor = None
    while time.monotonic() < deadline:
        row = jobs_db.get(job_id, None)
        if row.status in statuses:
            return row
        for event in progress.read(job_id, cursor, wait_s=min(2.0, deadline - time.monotonic())):
            cursor = event.id
    raise AssertionError(f"job {job_id} not in {statuses} within {timeout_s}s: {jobs_db.get(job_id, None)}")


def ffmpeg_processes(marker: str) -> list[int]:
    """Pids of ffmpeg processes whose command line mentions `marker` (e.g. a job id)."""
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if "ffmpeg" in cmdline and marker in cmdline:
            pids.append(int(entry.name))
    return pids


def wait_until(condition, timeout_s: float, what: str, interval_s: float = 0.1):
    """For state with no event to await (the process table): check, then check again shortly."""
    deadline = time.monotonic() + timeout_s
    while not (result := condition()):
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} not within {timeout_s}s")
        time.sleep(interval_s)
    return result


def wait_for_line(log: Path, line: str, timeout_s: float = 30.0) -> None:
    """Until the process wrote `line` to its log (e.g. the worker's "worker ready")."""
    wait_until(
        lambda: log.exists() and line in log.read_text(errors="replace"), timeout_s, f"{line!r} in {log}"
    )
