"""`make demo`: run the main job for real, through the HTTP API, and show it happen.

Starts the API and one worker, and then, with the Python client (client/, `mo_client`): signs up
a demo user, submits a job, draws a live progress bar from the job's events, downloads the MP4
and prints where it is. Stops what it started.
"""

from __future__ import annotations

import os
import secrets
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from mo_client import Client  # noqa: E402  (the client package in client/, installed by the bring-up)
from mo_client.models import Event  # noqa: E402

from chalicelib.pipeline.media.contact_sheet import sheet_times, write_contact_sheet  # noqa: E402
from chalicelib.runtime import launcher  # noqa: E402

PORT = int(os.environ.get("DEMO_PORT", "8000"))
API = f"http://127.0.0.1:{PORT}"
OUT = launcher.ROOT / "out"
PROMPT = os.environ.get(
    "PROMPT", "A lighthouse keeper discovers the stars can talk, on a stormy night by the sea"
)


class Bar:
    """A live bar on a terminal; one line per milestone when the output is a log. Only forward."""

    def __init__(self) -> None:
        self.shown = 0

    def __call__(self, event: Event) -> None:
        self.shown = max(self.shown, event.progress or 0)
        label = f"{event.type} {event.step or ''}".strip()
        filled = self.shown * 30 // 100
        line = f"  [{'#' * filled}{'.' * (30 - filled)}] {self.shown:3d}%  {label:<40}"
        if sys.stdout.isatty():
            sys.stdout.write("\r" + line)
            sys.stdout.flush()
        elif event.type != "step.progress":
            print(line.rstrip(), flush=True)


def console_built() -> bool:
    return (launcher.ROOT / "web" / "dist" / "index.html").is_file()


def main() -> int:
    log_dir = launcher.ROOT / ".local" / "log"
    api = launcher.spawn(launcher.api_command(PORT), log_dir / "demo-api.log")
    worker = launcher.spawn(launcher.worker_command(), log_dir / "demo-worker.log")
    try:
        launcher.wait_http(f"{API}/v1/health")
        with Client(API) as client:
            email = f"demo-{secrets.token_hex(4)}@example.com"
            password = secrets.token_urlsafe(12)
            client.signup(email, password)
            print(f"signed up {email}")
            if console_built():
                print(f"console (while the demo runs): {API}/login  as {email} / {password}")
            started = time.monotonic()
            job = client.submit(PROMPT, duration_s=15, aspect="9:16")
            print(f"submitted job {job.id}: {PROMPT!r}")
            job = client.wait(job.id, on_event=Bar())
            print()
            took = time.monotonic() - started
            if job.status != "succeeded" or job.outputs is None:
                print(f"job {job.status}: {job.error}")
                return 1
            files = client.download(job, OUT, captions=False)
            for note in job.notes:
                print(f"note: {note}")
            print(f"done in {took:.1f}s; steps: " + ", ".join(f"{s.name} {s.status}" for s in job.steps))
            print(f"MP4 ({files.video.stat().st_size / 1e6:.1f} MB): {files.video}")
            sheet = write_contact_sheet(files.video, OUT / "demo-sheet.png", sheet_times(15))
            print(f"contact sheet (frames at fixed times): {sheet}")
            print(f"presigned URL (valid {job.outputs.expires_at} for the media, minutes for the link):")
            print(f"  {job.outputs.video_url}")
            print(f"from a terminal (MO_API_URL={API}): .venv/bin/mo signup; .venv/bin/mo make 'a prompt'")
            if console_built():
                print(
                    "the web console: `make up`, then open http://127.0.0.1:8000/ (console + API, one origin)"
                )
            return 0
    finally:
        launcher.stop(worker.pid)
        launcher.stop(api.pid)


if __name__ == "__main__":
    sys.exit(main())
