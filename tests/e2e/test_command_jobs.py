"""The `command` pipeline inside real workers: a customer's orchestrator runs as the job's video
step with our queue, retries, progress, cancel and upload (docs/plugins.md)."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import httpx
import pytest

from chalicelib.core.settings import get_settings
from chalicelib.jobs import repository as jobs_db
from chalicelib.pipeline.media.probe import probe
from chalicelib.runtime import launcher
from tests.conftest import free_port
from tests.e2e.test_end_to_end import follow, signed_up
from tests.workers import FAST_TAKEOVER, Workers, private_queue, wait_for_event, wait_for_status, wait_until

ROOT = Path(__file__).resolve().parents[2]
FAKE = [sys.executable, str(ROOT / "tests" / "fakes" / "orchestrator.py")]


@pytest.fixture
def workers(monkeypatch, tmp_path):
    monkeypatch.setattr(get_settings(), "job_attempts", 2)  # the API enqueues with the attempts
    with private_queue(monkeypatch) as name:
        pool = Workers(
            tmp_path,
            {
                "QUEUE_NAME": name,
                "WORKER_CONCURRENCY": "1",
                **FAST_TAKEOVER,
                "PIPELINE": "command",
                "PIPELINE_COMMAND_CWD": "examples/orchestrator",
                "PIPELINE_COMMAND_GRACE_S": "2",
                "JOB_ATTEMPTS": "2",
            },
        )
        yield pool
        pool.stop_all()
        print(pool.logs())


def submit(api, user, **body) -> str:
    return api.submit_ok(user, {"prompt": "Our own pipeline", "duration_s": 5, "aspect": "1:1"}, **body)


def test_a_flaky_orchestrator_is_retried_and_its_video_published(api, user, workers):
    workers.start(PIPELINE_COMMAND=json.dumps(FAKE + ["flaky"]))
    job_id = submit(api, user)
    wait_for_status(job_id, {"succeeded", "failed"}, timeout_s=180)
    job = api.call("GET", f"/v1/jobs/{job_id}", token=user["token"]).json
    assert job["status"] == "succeeded" and job["attempt"] == 2, job
    steps = {s["name"]: s for s in job["steps"]}
    assert (steps["concept"]["status"], steps["image"]["status"]) == ("skipped", "skipped")
    assert steps["video"]["provider"] == "command" and steps["upload"]["status"] == "succeeded"
    runs = [(r.step, r.status, r.error_code) for r in jobs_db.step_runs(job_id)]
    assert ("video", "failed", "command_failed") in runs and runs.count(("video", "succeeded", None)) == 1
    video = Path(workers.log_dir) / "command.mp4"
    video.write_bytes(httpx.get(job["outputs"]["video_url"], timeout=60).raise_for_status().content)
    assert (probe(video)["width"], probe(video)["height"]) == (1080, 1080)


def test_a_crashing_orchestrator_fails_the_job_after_its_attempts(api, user, workers):
    workers.start(PIPELINE_COMMAND=json.dumps(FAKE + ["crash"]))
    job_id = submit(api, user)
    row = wait_for_status(job_id, {"failed"}, timeout_s=180)
    assert (row.error_code, row.error_step, row.attempt) == ("command_crashed", "video", 2)


def test_a_permanent_failure_is_not_retried(api, user, workers):
    workers.start(PIPELINE_COMMAND=json.dumps(FAKE + ["bad-input"]))
    job_id = submit(api, user)
    row = wait_for_status(job_id, {"failed"}, timeout_s=120)
    assert (row.error_code, row.attempt) == ("command_failed", 1)
    # its stderr is the run's internal detail, for the operator's job inspector, not the owner
    assert [r.error_detail for r in jobs_db.step_runs(job_id)] == ["the spec makes no sense to me"]
    assert "makes no sense" not in json.dumps(api.call("GET", f"/v1/jobs/{job_id}", token=user["token"]).json)


def test_the_example_orchestrator_runs_as_a_job_over_http_and_can_be_canceled(tmp_path):
    """As a new user would: `chalice local` and a worker configured with the example."""
    env = {
        "QUEUE_NAME": f"{os.environ['QUEUE_NAME']}-command",
        "WORKER_CONCURRENCY": "1",
        "PIPELINE": "command",
        "PIPELINE_COMMAND": json.dumps(["python", "-m", "src.main"]),
        "PIPELINE_COMMAND_CWD": "examples/orchestrator",
        "PIPELINE_COMMAND_GRACE_S": "2",
    }
    port = free_port()
    api = launcher.spawn(launcher.api_command(port), tmp_path / "api.log", env)
    worker = launcher.spawn(launcher.worker_command(), tmp_path / "worker.log", env)
    try:
        launcher.wait_http(f"http://127.0.0.1:{port}/v1/health")
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as client:
            signed_up(client)
            done = client.post(
                "/v1/jobs", json={"prompt": "Our own pipeline", "duration_s": 5, "aspect": "1:1"}
            ).json()["id"]
            events = follow(client, done)
            job = client.get(f"/v1/jobs/{done}").json()
            assert job["status"] == "succeeded", (job["error"], events[-3:])
            assert any((e["message"] or "").startswith("rendered") for e in events)
            assert [s["status"] for s in job["steps"]] == ["skipped", "skipped", "succeeded", "succeeded"]
            captions = httpx.get(job["outputs"]["captions_url"], timeout=30).text
            assert "Our own pipeline" in captions  # the example's own captions.srt

            running = client.post(
                "/v1/jobs", json={"prompt": "A long one", "duration_s": 30, "aspect": "9:16"}
            ).json()["id"]
            wait_for_event(
                running,
                lambda e: e.step == "video" and (e.message or "").startswith("rendered"),
                timeout_s=120,
            )
            canceled = client.post(f"/v1/jobs/{running}/cancel")
            assert canceled.status_code == 202 and canceled.json()["status"] == "canceled"
            wait_until(lambda: not _example_running(running), 15, "the orchestrator stopping after cancel")
            assert client.get(f"/v1/jobs/{running}").json()["outputs"] is None
    finally:
        launcher.stop(worker.pid)
        launcher.stop(api.pid)
        for log in (tmp_path / "api.log", tmp_path / "worker.log"):
            print(f"--- {log.name}\n{log.read_text()[-3000:]}")


def _example_running(job_id: str) -> bool:
    """An ffmpeg or python process whose environment names the job (MO_JOB_ID)."""
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if f"MO_JOB_ID={job_id}".encode() in (entry / "environ").read_bytes():
                    return True
            except OSError:
                continue
    return False
