"""The console's budgets: the production bundle's gzipped JS (target < 200 KB), and the time
from navigating to a running job's page to its first progress update, in headless Chromium
against the local stack (the API serving the console, one worker, on a queue of its own).

Prints JSON. `make bench NAME=web` (RUNS=3 jobs of 5 s by default; each is canceled once
measured, so the worker is free for the next).
"""

from __future__ import annotations

import gzip
import json
import os
import secrets
import socket
import statistics
import sys
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from chalicelib.runtime import launcher  # noqa: E402

DIST = ROOT / "web" / "dist"
RUNS = int(os.environ.get("RUNS", "3"))
BUDGET = 200 * 1024
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def bundle() -> dict:
    js = list((DIST / "assets").glob("*.js"))
    css = list((DIST / "assets").glob("*.css"))
    gz = sum(len(gzip.compress(p.read_bytes(), 9)) for p in js)
    return {
        "js_bytes": sum(p.stat().st_size for p in js),
        "js_gzip_bytes": gz,
        "css_gzip_bytes": sum(len(gzip.compress(p.read_bytes(), 9)) for p in css),
        "budget_gzip_bytes": BUDGET,
        "within_budget": gz < BUDGET,
    }


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def first_progress(url: str, browser) -> dict:
    """One run: a new user's 5 s job; open its page; ms until the page applied its first event."""
    with httpx.Client(base_url=url, timeout=30) as client:
        token = (
            client.post(
                "/v1/auth/signup",
                json={
                    "email": f"bench-web-{secrets.token_hex(5)}@example.com",
                    "password": secrets.token_urlsafe(16),
                },
            )
            .raise_for_status()
            .json()["access_token"]
        )
        client.headers["Authorization"] = f"Bearer {token}"
        job = (
            client.post("/v1/jobs", json={"prompt": "A kite over a harbour at dawn", "duration_s": 5})
            .raise_for_status()
            .json()
        )
        context = browser.new_context(base_url=url)
        context.add_init_script(f"sessionStorage.setItem('media.token', {json.dumps(token)})")
        page = context.new_page()
        try:
            page.goto(f"/jobs/{job['id']}", wait_until="commit")
            page.wait_for_function(
                "() => Number(document.querySelector("
                "\"section[aria-label='Progress']\")?.dataset.updates) > 0",
                timeout=60_000,
            )
            # performance.now() counts from the navigation's start.
            ms = page.evaluate("() => performance.now()")
            painted = page.evaluate(
                "() => performance.getEntriesByName('first-contentful-paint')[0]?.startTime ?? null"
            )
        finally:
            context.close()
            client.post(f"/v1/jobs/{job['id']}/cancel")
    return {"first_update_ms": round(ms, 1), "first_contentful_paint_ms": painted and round(painted, 1)}


def main() -> None:
    if not (DIST / "index.html").is_file():
        raise SystemExit("web/dist is missing: run the bring-up first (make setup)")
    from playwright.sync_api import sync_playwright

    result: dict = {"bundle": bundle()}
    port = free_port()
    logs = launcher.state_dir() / "log"
    env = {"QUEUE_NAME": f"bench-web-{secrets.token_hex(3)}", "WORKER_CONCURRENCY": "1"}
    api = launcher.spawn(launcher.api_command(port), logs / "bench-web-api.log", env)
    worker = launcher.spawn(launcher.worker_command(), logs / "bench-web-worker.log", env)
    try:
        url = f"http://127.0.0.1:{port}"
        launcher.wait_http(f"{url}/v1/health")
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
            runs = [first_progress(url, browser) for _ in range(RUNS)]
            browser.close()
        times = [r["first_update_ms"] for r in runs]
        result["navigation_to_first_progress_ms"] = {
            "median": statistics.median(times),
            "min": min(times),
            "max": max(times),
            "runs": runs,
        }
    finally:
        launcher.stop(worker.pid)
        launcher.stop(api.pid)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
