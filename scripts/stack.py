"""`make up` / `make down`: the local stack (API on :8000 and WORKERS workers) in the background.

Environment variables given to `make up` reach the API and the workers (they inherit ours).
Pids in .local/run, logs in .local/log.
"""
from __future__ import annotations

import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from chalicelib import launcher  # noqa: E402

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
    launcher.wait_http(f"http://127.0.0.1:{API_PORT}/v1/health")
    print(f"API on http://127.0.0.1:{API_PORT}  (OpenAPI: /v1/openapi.json)")
    print(f"workers: {os.environ.get('WORKERS', '1')}; logs in {LOG}; stop with `make down`")


def down(quiet: bool = False) -> None:
    for name, pid in _pids().items():
        launcher.stop(pid)
        (RUN / f"{name}.pid").unlink(missing_ok=True)
        if not quiet:
            print(f"stopped {name.removeprefix('stack-')} (pid {pid})")


if __name__ == "__main__":
    {"up": up, "down": down}[sys.argv[1]]()
