"""The local schedule (chalicelib.runtime.scheduler) runs the scheduled functions on their rates: a
killed local worker is replaced and a queue emptied by a Redis restart is refilled, with no one
typing a command. The clock is the test's: no waiting for a real minute."""

from __future__ import annotations

import os
import shutil
import signal
import tempfile
from pathlib import Path

import pytest

from chalicelib.core.settings import get_settings
from chalicelib.infra import db, queue
from chalicelib.runtime import dispatcher, launcher
from chalicelib.runtime.scheduler import Scheduler
from tests.workers import FAST_TAKEOVER, private_queue, wait_for_line, wait_for_status, wait_until


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def local_stack(monkeypatch):
    """Dispatched workers on a queue of this test, with their pids and logs in a private folder;
    all stopped afterwards."""
    path = Path(tempfile.mkdtemp(prefix="media-schedule-"))
    with private_queue(monkeypatch) as name:
        settings = get_settings()
        for field, value in {
            "dispatch_mode": "local",
            "local_dir": str(path),
            "max_workers": 1,
            "worker_concurrency": 1,
        }.items():
            monkeypatch.setattr(settings, field, value)
        # what the dispatched worker processes inherit
        for key, value in {"QUEUE_NAME": name, "WORKER_CONCURRENCY": "1", **FAST_TAKEOVER}.items():
            monkeypatch.setenv(key, value)
        yield path
        for pid_file in (path / "run").glob("stack-worker-*.pid"):
            launcher.stop(int(pid_file.read_text()))
    shutil.rmtree(path)


def dispatched_logs(path: Path) -> list[Path]:
    return sorted((path / "log").glob("worker-dispatched-*.log"))


def test_the_schedule_refills_an_emptied_queue_and_replaces_a_killed_worker(
    api, user, local_stack, monkeypatch
):
    job_id = api.call(
        "POST",
        "/v1/jobs",
        {"prompt": "A kite over a quiet harbour", "duration_s": 6, "aspect": "1:1"},
        token=user["token"],
    ).json["id"]
    queue.discard(job_id)  # Redis restarted empty: MySQL still says queued
    # ...since long ago; the reaper's grace spares every younger job (other tests' leftovers)
    db.execute("UPDATE jobs SET updated_at = updated_at - INTERVAL 1 DAY WHERE id = %s", (job_id,))
    monkeypatch.setattr(get_settings(), "reaper_grace_s", 12 * 3600)
    clock = Clock()
    schedule = Scheduler(clock=clock)

    first = schedule.tick()
    assert first["reaper"]["requeued"] == 1  # refilled...
    assert first["dispatcher"]["started"] == 1  # ...and a worker started for it
    assert "cleanup" in first
    assert queue.state(job_id) in ("waiting", "prioritized", "active")
    [log] = dispatched_logs(local_stack)
    wait_for_line(log, "worker ready")
    wait_until(lambda: dispatcher.running_local_workers() == 1, 30, "the worker on the queue")

    clock.now += 30
    assert schedule.tick() == {}  # nothing due within the minute

    pid = int(next((local_stack / "run").glob("stack-worker-*.pid")).read_text())
    os.killpg(pid, signal.SIGKILL)  # the local worker dies
    wait_until(lambda: dispatcher.running_local_workers() == 0, 30, "the dead worker leaving")

    clock.now += 30
    again = schedule.tick()  # a minute after the first pass: reaper and dispatcher again
    assert set(again) == {"reaper", "dispatcher"}
    assert again["dispatcher"]["started"] == 1  # replaced
    assert wait_for_status(job_id, {"succeeded"}, timeout_s=240).status == "succeeded"
