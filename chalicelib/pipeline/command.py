"""The `command` pipeline: a customer's own orchestrator runs as the job's video step, with our
queue, retries, checkpoints, progress, cancel and upload around it. The contract is in
docs/plugins.md; in short:

- we start the configured argv (e.g. `python -m src.main`) in its own process group, in the
  configured folder, with the job spec as one JSON document on stdin and a fresh work directory
  (`work_dir` in the spec, `MO_WORK_DIR` in the environment);
- it prints JSON lines on stdout, `{"progress": 40, "message": "..."}` (other lines are ignored);
- it writes `video.mp4` (and, if it likes, `thumbnail.jpg` and `captions.srt`) into the work
  directory and exits 0;
- cancel: SIGTERM, then SIGKILL after the grace period; the same past the timeout;
- exit 75 (EX_TEMPFAIL), or any other crash (a non-zero exit outside 64..78, death by a signal),
  is transient: the job is retried. Exit 64..78 but 75 (sysexits: bad input, config) fails at once.
"""

from __future__ import annotations

import json
import logging
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from chalicelib.pipeline.errors import StepError
from chalicelib.pipeline.supervise import supervise

log = logging.getLogger(__name__)

EX_TEMPFAIL = 75
SYSEXITS = range(64, 79)
MAX_LINE = 64 * 1024
PASSED_ENV = ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "TZ")  # the rest of ours stays ours


class CommandCanceled(Exception):
    """should_cancel() turned true: the command was stopped (SIGTERM, then SIGKILL)."""


@dataclass
class CommandConfig:
    argv: list[str]
    cwd: Path
    timeout_s: float
    grace_s: float
    env: dict[str, str]


def resolve_argv(argv: list[str]) -> list[str]:
    """`python` means the worker's own interpreter (its virtualenv), wherever PATH points."""
    if argv and argv[0] in ("python", "python3"):
        return [sys.executable, *argv[1:]]
    return list(argv)


def _environment(config: CommandConfig, work_dir: Path, job_id: str) -> dict[str, str]:
    env = {name: os.environ[name] for name in PASSED_ENV if name in os.environ}
    env.update(config.env)
    env.update({"MO_WORK_DIR": str(work_dir), "MO_JOB_ID": job_id, "PYTHONUNBUFFERED": "1"})
    return env


def parse_line(line: str) -> tuple[int | None, str | None]:
    """(progress 0..100, message) of one stdout line; (None, None) for anything else."""
    try:
        data = json.loads(line)
    except ValueError:
        return None, None
    if not isinstance(data, dict):
        return None, None
    value, message = data.get("progress"), data.get("message")
    progress = max(0, min(100, int(value))) if isinstance(value, (int, float)) else None
    return progress, (str(message)[:500] if message is not None else None)


def run(
    config: CommandConfig,
    spec: dict,
    work_dir: Path,
    on_progress: Callable[[int | None, str | None], None],
    should_cancel: Callable[[], bool],
) -> Path:
    """Run the command for one attempt; -> work_dir/video.mp4. Raises CommandCanceled, or
    StepError (transient or not, see the module doc)."""
    work_dir.mkdir(parents=True, exist_ok=True)
    job_id = str(spec.get("job_id", ""))

    def read_line(line: str) -> None:
        progress, message = parse_line(line[:MAX_LINE])
        if progress is not None or message:
            on_progress(progress, message)

    ending = supervise(
        resolve_argv(config.argv),
        should_cancel=should_cancel,
        timeout_s=config.timeout_s,
        on_line=read_line,
        stdin=json.dumps(spec),
        grace_s=config.grace_s,
        stderr_line_max=2000,
        cwd=config.cwd,
        env=_environment(config, work_dir, job_id),
    )
    # The command's stderr goes to the worker's log and the step run's internal detail (for
    # operators): it is the orchestrator's own text (paths, stack traces), never the user's job
    # error; they get the code and our words.
    tail = ending.stderr_tail.strip()[-1500:]
    if ending.canceled:
        raise CommandCanceled()
    if ending.timed_out:
        _log_tail("command_timeout", tail)
        raise StepError(
            "command_timeout", f"the command ran over {config.timeout_s:g} s", transient=True, detail=tail
        )
    code = ending.returncode
    if code == 0:
        video = work_dir / "video.mp4"
        if not video.is_file():
            _log_tail("command_no_output", tail)
            raise StepError(
                "command_no_output",
                "the command exited 0 without writing video.mp4",
                transient=False,
                detail=tail,
            )
        return video
    if code in SYSEXITS and code != EX_TEMPFAIL:
        _log_tail("command_failed", tail)
        raise StepError("command_failed", f"the command exited {code}", transient=False, detail=tail)
    what = f"was killed by signal {-code}" if code < 0 else f"exited {code}"
    error = "command_crashed" if code != EX_TEMPFAIL else "command_failed"
    _log_tail(error, tail)
    raise StepError(error, f"the command {what}", transient=True, detail=tail)


def _log_tail(code: str, tail: str) -> None:
    log.warning("command pipeline %s; its stderr ends: %s", code, tail or "(nothing)")
