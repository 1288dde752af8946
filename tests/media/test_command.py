"""The `command` pipeline's contract (docs/plugins.md) against real processes: the example
orchestrator and misbehaving ones (tests/fakes/orchestrator.py). Needs no services."""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

import pytest

from chalicelib.pipeline import command
from chalicelib.pipeline.errors import StepError
from chalicelib.pipeline.media.probe import probe

ROOT = Path(__file__).resolve().parents[2]
FAKE = [sys.executable, str(ROOT / "tests" / "fakes" / "orchestrator.py")]


def config(argv: list[str], timeout_s: float = 60, grace_s: float = 2.0, **env: str) -> command.CommandConfig:
    return command.CommandConfig(
        argv=argv, cwd=ROOT / "examples" / "orchestrator", timeout_s=timeout_s, grace_s=grace_s, env=env
    )


def spec(tmp_path: Path, seconds: float = 2, attempt: int = 1) -> dict:
    return {
        "job_id": "job_test",
        "attempt": attempt,
        "request": {"prompt": "a test", "duration_s": seconds},
        "work_dir": str(tmp_path / "work"),
        "width": 320,
        "height": 568,
        "fps": 30,
    }


def run(cfg, job_spec, cancel=lambda: False):
    seen: list[tuple] = []
    try:
        return command.run(
            cfg, job_spec, Path(job_spec["work_dir"]), lambda p, m: seen.append((p, m)), cancel
        ), seen
    except BaseException as exc:
        exc.seen = seen
        raise


def test_the_example_orchestrator_reports_progress_and_writes_the_video(tmp_path):
    video, seen = run(config(["python", "-m", "src.main"]), spec(tmp_path))
    info = probe(video)
    assert (info["width"], info["height"]) == (320, 568) and info["duration_s"] == pytest.approx(2, abs=0.2)
    values = [p for p, _ in seen if p is not None]
    assert values[0] == 0 and values[-1] == 100 and values == sorted(values) and len(values) >= 3
    assert ("done" in {m for _, m in seen}) and (video.parent / "captions.srt").read_text().endswith(
        "a test\n"
    )


def test_progress_lines_are_json_and_anything_else_is_ignored():
    assert command.parse_line('{"progress": 40, "message": "half"}\n') == (40, "half")
    assert command.parse_line('{"progress": 140}') == (100, None)
    assert command.parse_line("plain log line") == (None, None)
    assert command.parse_line("[1, 2]") == (None, None)


def test_cancel_sends_sigterm_and_the_example_cleans_up(tmp_path):
    job = spec(tmp_path, seconds=120)
    cfg = config(["python", "-m", "src.main"])
    seen: list = []

    def cancel() -> bool:
        return len(seen) >= 2  # once it has rendered a little

    with pytest.raises(command.CommandCanceled):
        command.run(cfg, job, Path(job["work_dir"]), lambda p, m: seen.append(p), cancel)
    work = Path(job["work_dir"])
    assert not (work / "video.partial.mp4").exists() and not (work / "video.mp4").exists()


def test_a_command_ignoring_sigterm_is_killed_after_the_grace_period(tmp_path):
    job = spec(tmp_path)
    work = Path(job["work_dir"])
    began = time.monotonic()
    with pytest.raises(command.CommandCanceled):
        run(config(FAKE + ["hang"], grace_s=0.5), job, cancel=lambda: (work / "hanging").exists())
    pid = int((work / "hanging").read_text())
    assert time.monotonic() - began < 20
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)


def test_a_command_past_its_timeout_is_stopped_and_retried(tmp_path):
    with pytest.raises(StepError) as raised:
        run(config(FAKE + ["hang"], timeout_s=1.5, grace_s=0.2), spec(tmp_path))
    assert raised.value.code == "command_timeout" and raised.value.transient


@pytest.mark.parametrize(
    "mode, code, transient",
    [
        ("crash", "command_crashed", True),
        ("bad-input", "command_failed", False),
        ("no-output", "command_no_output", False),
    ],
)
def test_exit_codes_map_to_transient_or_permanent_failures(tmp_path, mode, code, transient, caplog):
    with caplog.at_level("WARNING"), pytest.raises(StepError) as raised:
        run(config(FAKE + [mode]), spec(tmp_path))
    assert (raised.value.code, raised.value.transient) == (code, transient)
    if mode == "bad-input":
        # issue 23: the orchestrator's stderr explains, in the worker's log only; the user's
        # job error holds the code and our own words
        assert "makes no sense" not in raised.value.message
        assert "makes no sense" in caplog.text


def test_exit_75_is_transient_and_the_next_attempt_succeeds(tmp_path):
    with pytest.raises(StepError) as raised:
        run(config(FAKE + ["flaky"]), spec(tmp_path, attempt=1))
    assert raised.value.transient and "75" in raised.value.message
    video, _ = run(config(FAKE + ["flaky"]), spec(tmp_path, attempt=2))
    assert video.is_file()


def test_the_command_gets_no_secrets_from_the_worker_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("DATABASE_URL", "mysql://root:hunter2@db/media")
    monkeypatch.setenv("JWT_SECRET", "do-not-leak")
    job = spec(tmp_path)
    run(config(FAKE + ["env"], CUSTOMER_SETTING="yes"), job)
    env = json.loads((Path(job["work_dir"]) / "env.json").read_text())
    assert "DATABASE_URL" not in env and "JWT_SECRET" not in env
    assert env["CUSTOMER_SETTING"] == "yes" and env["MO_WORK_DIR"] == job["work_dir"]
    assert env["MO_JOB_ID"] == "job_test"
