"""The worker as a process: it scales to zero after WORKER_IDLE_EXIT_S without work, and on
SIGTERM (what Fargate sends before SIGKILL) it exits 0 without losing the job it holds."""

from __future__ import annotations

import secrets
import shutil
import signal
import tempfile
from pathlib import Path

import pytest

from chalicelib.core.settings import get_settings
from chalicelib.infra import db, queue
from chalicelib.jobs.states import EventType
from chalicelib.runtime import launcher
from tests.workers import wait_for_event, wait_for_line, wait_until

JOB = {"prompt": "a lighthouse at dusk, waves rolling in", "duration_s": 5, "aspect": "1:1"}


@pytest.fixture
def private_queue() -> str:
    """A queue of its own, so the workers here don't pick up other tests' jobs. Its keys start
    with the session queue's name, so the session's cleanup removes them."""
    return f"{get_settings().queue_name}-w{secrets.token_hex(3)}"


@pytest.fixture
def start_worker(private_queue):
    """Start worker processes on the private queue; each is stopped and its log removed."""
    started, folder = [], Path(tempfile.mkdtemp(prefix="media-worker-"))

    def start(**env: str):
        log = folder / f"worker-{len(started) + 1}.log"
        started.append(
            launcher.spawn(launcher.worker_command(), log, env={"QUEUE_NAME": private_queue, **env})
        )
        return started[-1], log

    yield start
    for proc in started:
        launcher.stop(proc.pid)
        proc.wait(timeout=30)
    shutil.rmtree(folder)


def test_idle_worker_exits_cleanly(start_worker):
    proc, log = start_worker(WORKER_IDLE_EXIT_S="1")
    wait_for_line(log, "worker ready")
    assert proc.wait(timeout=60) == 0
    assert "worker idle exit" in log.read_text()


def test_worker_without_idle_limit_keeps_running(start_worker):
    proc, log = start_worker(WORKER_IDLE_EXIT_S="0")
    wait_for_line(log, "worker ready")
    # It is alive after its startup, and a SIGTERM is what ends it (exit 0).
    assert proc.poll() is None
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=60) == 0
    assert "worker idle exit" not in log.read_text()


def test_surplus_idle_worker_exits_early_and_the_longest_lived_stays_warm(start_worker, private_queue):
    """After a burst, with nothing queued, a worker that is not the longest-lived one exits
    after WORKER_SURPLUS_IDLE_S; the longest-lived keeps waiting for the next job."""
    env = {"WORKER_IDLE_EXIT_S": "600", "WORKER_SURPLUS_IDLE_S": "1"}
    first, first_log = start_worker(**env)
    wait_for_line(first_log, "worker ready")
    wait_until(
        lambda: max(queue.worker_ages(private_queue).values(), default=0) >= 2,
        30,
        "the first worker connected for two seconds",
    )
    second, second_log = start_worker(**env)
    assert second.wait(timeout=60) == 0
    assert "worker idle exit" in second_log.read_text()
    assert first.poll() is None and "worker idle exit" not in first_log.read_text()
    assert len(queue.worker_ages(private_queue)) == 1


def test_sigterm_finishes_or_hands_back_the_running_job(api, user, start_worker, private_queue):
    submitted = api.call("POST", "/v1/jobs", JOB, token=user["token"])  # a real row
    assert submitted.status_code == 202, submitted.body
    job_id = submitted.json["id"]
    queue.enqueue(job_id, queue_name=private_queue)
    proc, log = start_worker(WORKER_IDLE_EXIT_S="0", WORKER_CONCURRENCY="1")
    wait_for_event(job_id, lambda e: e.type == EventType.job_started, timeout_s=60)

    proc.send_signal(signal.SIGTERM)  # Fargate's stop, while the job is active
    assert proc.wait(timeout=150) == 0, log.read_text()[-2000:]

    status = db.fetch_one("SELECT status FROM jobs WHERE id = %s", (job_id,))["status"]
    state = queue.state(job_id, queue_name=private_queue)
    # Finished by this worker, or handed back for another one: never lost.
    assert status == "succeeded" or (
        status in ("queued", "running") and state in ("waiting", "prioritized", "active", "delayed")
    ), (status, state)
