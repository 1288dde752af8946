"""`make up` / `make down`: the local stack (console + API on :8000, WORKERS workers and the
scheduler of the scheduled functions) in the background.

Environment variables given to `make up` reach the API and the workers (they inherit ours).
`make up FAKES=1` also runs the fake providers (tests/fakes/serve.py: OpenAI, fal.ai, ElevenLabs,
Replicate on loopback, `FAKES_SCALE` times the benchmark's latencies, default 0.25) and makes them
the platform's accounts: their secrets in the emulator and PLATFORM_PROVIDERS, so a pro user
gets AI images, clips (`motion: ai`) and premium voices without any key of their own.
`make down` also stops what the bring-up started itself (the moto server, a project-local Redis
or MariaDB); services that were already running are left alone. Pids in .local/run, logs in
.local/log.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
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
    if os.environ.get("FAKES"):
        os.environ.update(platform_env(start_fakes()))
        # the init hook writes each PLATFORM_<P>_API_KEY / _BASE_URL as the platform's secret
        subprocess.run(
            [sys.executable, "localstack/init/ready.d/10_resources.py"], cwd=launcher.ROOT, check=True
        )
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


FAKES_FILE = RUN / "fakes.json"


def start_fakes(timeout_s: float = 30.0) -> dict[str, dict[str, str]]:
    """The fake providers in the background (pid in run/, for `make down`) -> their accounts."""
    FAKES_FILE.unlink(missing_ok=True)
    scale = os.environ.get("FAKES_SCALE", "0.25")
    command = [sys.executable, "-m", "tests.fakes.serve", "--out", str(FAKES_FILE), "--scale", scale]
    proc = launcher.spawn(command, LOG / "fakes.log")
    (RUN / "stack-fakes.pid").write_text(str(proc.pid))
    deadline = time.monotonic() + timeout_s
    while not FAKES_FILE.exists():
        if proc.poll() is not None or time.monotonic() > deadline:
            raise SystemExit(f"the fake providers did not start: see {LOG / 'fakes.log'}")
        time.sleep(0.1)
    accounts = json.loads(FAKES_FILE.read_text())
    print(f"fake providers ({', '.join(accounts)}) are the platform's accounts; latencies x{scale}")
    return accounts


def platform_env(accounts: dict[str, dict[str, str]]) -> dict[str, str]:
    """What makes `accounts` the platform's: their keys and URLs for the init hook's secrets and
    PLATFORM_PROVIDERS for the API and the workers."""
    env = {"PLATFORM_PROVIDERS": json.dumps(sorted(accounts))}
    for provider, account in accounts.items():
        env[f"PLATFORM_{provider.upper()}_API_KEY"] = account["api_key"]
        env[f"PLATFORM_{provider.upper()}_BASE_URL"] = account["base_url"]
    return env


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
