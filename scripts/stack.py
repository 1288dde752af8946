"""`make up` / `make down`: the local stack (console + API on :8000, WORKERS workers and the
scheduler of the scheduled functions) in the background.

Environment variables given to `make up` reach the API and the workers (they inherit ours).
`make down` also stops what the bring-up started itself (the moto server, a project-local Redis
or MariaDB); services that were already running are left alone. Pids in .local/run, logs in
.local/log.
"""

from __future__ import annotations

import os
import signal
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from chalicelib.runtime import launcher  # noqa: E402

RUN = launcher.state_dir() / "run"
LOG = launcher.state_dir() / "log"
API_PORT = int(os.environ.get("API_PORT", "8000"))


def _pids() -> dict[str, int]:
    return {p.stem: int(p.read_text()) for p in RUN.glob("stack-*.pid")}


def up() -> None:
    down(quiet=True)
    RUN.mkdir(parents=True, exist_ok=True)
    api = launcher.spawn(launcher.api_command(API_PORT), LOG / "api.log")
    (RUN / "stack-api.pid").write_text(str(api.pid))
    for i in range(int(os.environ.get("WORKERS", "1"))):
        launcher.start_worker(str(i + 1))
    # the scheduled functions on their AWS rates (chalicelib/runtime/scheduler.py)
    scheduler = launcher.spawn(launcher.scheduler_command(), LOG / "scheduler.log")
    (RUN / "stack-scheduler.pid").write_text(str(scheduler.pid))
    launcher.wait_http(f"http://127.0.0.1:{API_PORT}/v1/health")
    if (launcher.ROOT / "web" / "dist" / "index.html").is_file():
        print(
            f"console and API on http://127.0.0.1:{API_PORT}/  (open it in a browser; API under /v1, "
            "OpenAPI: /v1/openapi.json)"
        )
    else:
        print(f"API on http://127.0.0.1:{API_PORT}  (OpenAPI: /v1/openapi.json; no console: Node.js missing)")
    print(
        f"workers: {os.environ.get('WORKERS', '1')}; scheduler: reaper and dispatcher every minute,"
        f" cleanup hourly; logs in {LOG}; stop with `make down`"
    )


def down(quiet: bool = False) -> None:
    for name, pid in _pids().items():
        launcher.stop(pid)
        (RUN / f"{name}.pid").unlink(missing_ok=True)
        if not quiet:
            print(f"stopped {name.removeprefix('stack-')} (pid {pid})")


# pid files written by scripts/bringup.sh, and what the process must be (a stale pid file may
# name a pid the system has since given to something else).
SERVICES = {"moto": "moto_server", "redis": "redis-server", "mysql": "mariadbd"}


def _is(pid: int, program: str) -> bool:
    try:
        return program in Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace")
    except OSError:
        return False


def stop_services() -> None:
    for name, program in SERVICES.items():
        pid_file = RUN / f"{name}.pid"
        if not pid_file.exists():
            continue
        pid = int(pid_file.read_text().strip() or 0)
        if not _is(pid, program):
            pid_file.unlink(missing_ok=True)
            continue
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:  # MariaDB flushes before it exits
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                break
            time.sleep(0.2)
        pid_file.unlink(missing_ok=True)
        print(f"stopped {name} (pid {pid})")


if __name__ == "__main__":
    if sys.argv[1] == "up":
        up()
    else:
        down()
        stop_services()
