"""`make demo`: run the main job for real, through the HTTP API, and show it happen.

Starts the API and one worker, signs up a demo user, submits a job, draws a live progress bar
from the events endpoint, downloads the MP4 and prints where it is. Stops what it started.
"""
from __future__ import annotations

import os
import secrets
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import httpx  # noqa: E402

from chalicelib import launcher  # noqa: E402

PORT = int(os.environ.get("DEMO_PORT", "8000"))
API = f"http://127.0.0.1:{PORT}"
OUT = launcher.ROOT / "out"
PROMPT = os.environ.get("PROMPT", "A lighthouse keeper discovers the stars can talk, on a stormy night by the sea")


def bar(progress: int, label: str) -> None:
    """A live bar on a terminal; one line per milestone when the output is a log."""
    filled = progress * 30 // 100
    line = f"  [{'#' * filled}{'.' * (30 - filled)}] {progress:3d}%  {label:<40}"
    if sys.stdout.isatty():
        sys.stdout.write("\r" + line)
        sys.stdout.flush()
    elif not label.startswith("step.progress"):
        print(line.rstrip(), flush=True)


def follow(client: httpx.Client, job_id: str) -> dict:
    """Long-poll the events endpoint until the job ends; the bar only moves forward."""
    cursor, shown = None, 0
    while True:
        params = {"wait": 20, **({"after": cursor} if cursor else {})}
        page = client.get(f"/v1/jobs/{job_id}/events", params=params, timeout=30).raise_for_status().json()
        for event in page["events"]:
            shown = max(shown, event["progress"] or 0)
            bar(shown, f"{event['type']} {event['step'] or ''}".strip())
        cursor = page["next"]
        if page["status"] in ("succeeded", "failed", "canceled"):
            print()
            return client.get(f"/v1/jobs/{job_id}").raise_for_status().json()


def console_built() -> bool:
    return (launcher.ROOT / "web" / "dist" / "index.html").is_file()


def main() -> int:
    log_dir = launcher.ROOT / ".local" / "log"
    api = launcher.spawn(launcher.api_command(PORT), log_dir / "demo-api.log")
    worker = launcher.spawn(launcher.worker_command(), log_dir / "demo-worker.log")
    try:
        launcher.wait_http(f"{API}/v1/health")
        with httpx.Client(base_url=API, timeout=30) as client:
            email = f"demo-{secrets.token_hex(4)}@example.com"
            password = secrets.token_urlsafe(12)
            signup = client.post("/v1/auth/signup", json={"email": email, "password": password})
            client.headers["Authorization"] = f"Bearer {signup.raise_for_status().json()['access_token']}"
            print(f"signed up {email}")
            if console_built():
                print(f"console (while the demo runs): {API}/login  as {email} / {password}")
            started = time.monotonic()
            job = client.post("/v1/jobs", json={"prompt": PROMPT, "duration_s": 15, "aspect": "9:16"},
                              headers={"Idempotency-Key": secrets.token_hex(8)}).raise_for_status().json()
            print(f"submitted job {job['id']}: {PROMPT!r}")
            job = follow(client, job["id"])
            took = time.monotonic() - started
            if job["status"] != "succeeded":
                print(f"job {job['status']}: {job['error']}")
                return 1
            OUT.mkdir(exist_ok=True)
            path = OUT / f"{job['id']}.mp4"
            with httpx.stream("GET", job["outputs"]["video_url"], timeout=60) as download:
                download.raise_for_status()
                with open(path, "wb") as fh:
                    for chunk in download.iter_bytes():
                        fh.write(chunk)
            for note in job["notes"]:
                print(f"note: {note}")
            print(f"done in {took:.1f}s; steps: " + ", ".join(
                f"{s['name']} {s['status']}" for s in job["steps"]))
            print(f"MP4 ({path.stat().st_size / 1e6:.1f} MB): {path}")
            print(f"presigned URL (valid {job['outputs']['expires_at']} for the media, minutes for the link):")
            print(f"  {job['outputs']['video_url']}")
            if console_built():
                print("the web console: `make up`, then open http://127.0.0.1:8000/ (console and API on one origin)")
            return 0
    finally:
        launcher.stop(worker.pid)
        launcher.stop(api.pid)


if __name__ == "__main__":
    sys.exit(main())
