"""Starts the local stack's processes: the API (`chalice local`), workers and the scheduler.

The worker command here is the one the container runs (containers/worker/Dockerfile), so local
and cloud workers are the same program; a test holds the two together.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
WORKER_COMMAND = ["python", "-m", "chalicelib.runtime.worker"]


def api_command(port: int) -> list[str]:
    """`chalice local` (via scripts/chalice_local.py, which raises its listen backlog)."""
    return [
        sys.executable,
        str(ROOT / "scripts" / "chalice_local.py"),
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--no-autoreload",
    ]


def worker_command() -> list[str]:
    """WORKER_COMMAND, with this interpreter (the project's venv) as `python`."""
    return [sys.executable, *WORKER_COMMAND[1:]]


def scheduler_command() -> list[str]:
    """The local scheduler of the scheduled functions (chalicelib/runtime/scheduler.py)."""
    return [sys.executable, "-m", "chalicelib.runtime.scheduler"]


def state_dir() -> Path:
    """Pid files (run/) and logs (log/) of the local processes; `make down` stops run/stack-*."""
    from chalicelib.core.settings import get_settings

    return Path(get_settings().local_dir or ROOT / ".local")


def start_worker(name: str) -> subprocess.Popen:
    """A worker process logging to log/worker-{name}.log, with its pid in run/ for `make down`."""
    proc = spawn(worker_command(), state_dir() / "log" / f"worker-{name}.log")
    run = state_dir() / "run"
    run.mkdir(parents=True, exist_ok=True)
    (run / f"stack-worker-{name}.pid").write_text(str(proc.pid))
    return proc


def spawn(command: list[str], log_path: Path, env: dict[str, str] | None = None) -> subprocess.Popen:
    """A child in its own process group, so stopping it stops its children too."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "ab") as log:
        return subprocess.Popen(
            command,
            cwd=ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env={**os.environ, **(env or {})},
            start_new_session=True,
        )


def stop(pid: int, timeout: float = 15.0) -> None:
    """SIGTERM the process group, SIGKILL what is left after `timeout`."""
    try:
        os.killpg(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.killpg(pid, 0)
        except ProcessLookupError:
            return
        try:  # reap it if it is our child
            if os.waitpid(pid, os.WNOHANG)[0] == pid:
                return
        except ChildProcessError:
            pass
        time.sleep(0.1)
    try:
        os.killpg(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def wait_http(url: str, timeout: float = 30.0) -> None:
    import httpx

    deadline = time.monotonic() + timeout
    while True:
        try:
            httpx.get(url, timeout=2.0)
            return
        except httpx.TransportError:
            if time.monotonic() > deadline:
                raise TimeoutError(f"{url} did not answer within {timeout:.0f}s") from None
            time.sleep(0.2)
