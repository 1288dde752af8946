"""Live progress from outside: event-to-client lag (JSON long-poll vs SSE) and the time left's error.

    python bench/progress.py [--jobs 10] [--lengths 10,15,5,20]

Starts the real API (`chalice local`) and one real worker (concurrency 1), submits `--jobs` jobs
one after another over HTTP (lengths cycling through `--lengths`), and follows each two ways at
once, as clients do: the JSON long-poll (`wait=20&after=`) and SSE framing the way a browser's
EventSource does (Last-Event-ID, reconnecting after the server's `retry:`). Lag is each event's
`at` against the moment the client had it (one machine, one clock), for the events that happened
once the client was following (`job.queued`, and often `job.started`, come before a client that
starts after the submission has asked: history, not lag; `history` counts them).

The time left: for each job, real duration = its `job.queued` event to its `job.succeeded` event;
the first estimate is `job.queued`'s `eta_at`, the half-time one is the last event's at or before
the midpoint; error = |eta_at - real end| / real duration. The first job of each length has no
run of its own size yet (it is priced from other lengths' runs; the very first job, by the
built-in lines, on a worker that loads its voice): `cold` counts those, `warm` excludes them.
The machine's load moves real durations by tens of percent from one job to the next: note it.

Prints one JSON object. Uses its own database, bucket, queue and Redis db 12, removed at the end.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
import threading
import time
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[0] = str(ROOT)  # bench/queue.py would shadow the stdlib `queue`

from bench import isolated  # noqa: E402

RUN = isolated.RUN

REDIS_DB = 12
ENV = isolated.environment("progress", REDIS_DB, {"free": {"monthly_jobs": 1000, "max_duration_s": 180}})
TERMINAL_EVENTS = {"job.succeeded", "job.failed", "job.canceled"}


def _at(stamp: str) -> float:
    return datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()


class Follower(threading.Thread):
    """One client of one job: records (event, received at)."""

    def __init__(self, base: str, token: str, job_id: str, how: str) -> None:
        super().__init__(daemon=True)
        self.base, self.job_id, self.how = base, job_id, how
        self.headers = {"Authorization": f"Bearer {token}"}
        self.seen: list[tuple[dict, float]] = []
        self.requests = 0
        self.began = 0.0  # when it first asked: earlier events are history

    def run(self) -> None:
        import httpx

        self.began = time.time()
        with httpx.Client(base_url=self.base, headers=self.headers, timeout=60) as http:
            getattr(self, f"_{self.how}")(http)

    def _json(self, http) -> None:
        after = None
        while True:
            self.requests += 1
            params = {"wait": 20, **({"after": after} if after else {})}
            body = http.get(f"/v1/jobs/{self.job_id}/events", params=params).json()
            now = time.time()
            self.seen += [(e, now) for e in body["events"]]
            after = body["next"]
            if any(e["type"] in TERMINAL_EVENTS for e in body["events"]):
                return

    def _sse(self, http) -> None:
        last, retry_ms = None, 3000
        while True:
            self.requests += 1
            headers = {"Accept": "text/event-stream", **({"Last-Event-ID": last} if last else {})}
            text = http.get(f"/v1/jobs/{self.job_id}/events", params={"wait": 20}, headers=headers).text
            now = time.time()
            for frame in text.split("\n\n"):
                fields = dict(line.split(": ", 1) for line in frame.splitlines() if ": " in line)
                retry_ms = int(fields.get("retry", retry_ms))
                if "data" in fields:
                    event = json.loads(fields["data"])
                    last = fields["id"]
                    self.seen.append((event, now))
                    if event["type"] in TERMINAL_EVENTS:
                        return
            time.sleep(retry_ms / 1000)  # what EventSource does before reconnecting


def lags_ms(seen: list[tuple[dict, float]], began: float) -> list[float]:
    return [(got - _at(e["at"])) * 1000 for e, got in seen if _at(e["at"]) >= began]


def summary(values: list[float]) -> dict:
    if not values:
        return {}
    ordered = sorted(values)

    def q(p: float) -> float:
        return round(ordered[min(len(ordered) - 1, int(p * len(ordered)))], 1)

    return {"n": len(values), "p50": q(0.5), "p90": q(0.9), "max": round(ordered[-1], 1)}


def eta_errors(events: list[dict]) -> dict | None:
    """Errors of the first and of the half-time estimate, as shares of the real duration."""
    start = next((e for e in events if e["type"] == "job.queued"), None)
    end = next((e for e in events if e["type"] == "job.succeeded"), None)
    if start is None or end is None or start.get("eta_at") is None:
        return None
    t0, t1 = _at(start["at"]), _at(end["at"])
    real = t1 - t0
    half = [e for e in events if _at(e["at"]) <= t0 + real / 2 and e.get("eta_at")][-1]
    began = {e["step"]: _at(e["at"]) for e in events if e["type"] == "step.started"}
    took = {
        e["step"]: round(_at(e["at"]) - began[e["step"]], 2) for e in events if e["type"] == "step.succeeded"
    }
    started = next((e for e in events if e["type"] == "job.started"), None)
    return {
        "real_s": round(real, 2),
        "steps_s": {"queue": round(_at(started["at"]) - t0, 2) if started else None, **took},
        "etas_s": [round(_at(e["eta_at"]) - _at(e["at"]), 1) for e in events if e.get("eta_at")][::8],
        "first_estimate_s": round(_at(start["eta_at"]) - t0, 2),
        "first": abs(_at(start["eta_at"]) - t1) / real,
        "half": abs(_at(half["eta_at"]) - t1) / real,
    }


def measure(n_jobs: int, lengths: list[int], logs: Path) -> dict:
    import httpx

    from chalicelib.core.settings import get_settings
    from chalicelib.infra import aws
    from chalicelib.infra.migrate import migrate
    from chalicelib.runtime import launcher

    migrate()
    aws.client("s3").create_bucket(Bucket=get_settings().media_bucket)
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    api = launcher.spawn(launcher.api_command(port), logs / "api.log", dict(os.environ))
    worker = launcher.spawn(launcher.worker_command(), logs / "worker.log", dict(os.environ))
    try:
        launcher.wait_http(f"{base}/v1/health", timeout=60)
        with httpx.Client(base_url=base, timeout=60) as http:
            token = http.post(
                "/v1/auth/signup",
                json={"email": f"progress-{RUN}@example.com", "password": "progress bench pw"},
            ).json()["access_token"]
            lag: dict[str, list[float]] = {"json_long_poll": [], "sse": []}
            requests = {"json_long_poll": 0, "sse": 0}
            history = {"json_long_poll": 0, "sse": 0}
            jobs, shapes_seen = [], set()
            for i in range(n_jobs):
                length = lengths[i % len(lengths)]
                job = http.post(
                    "/v1/jobs",
                    headers={"Authorization": f"Bearer {token}"},
                    json={"prompt": f"A paper boat sails to the moon, take {i}", "duration_s": length},
                ).json()
                followers = [Follower(base, token, job["id"], how) for how in ("json", "sse")]
                for f in followers:
                    f.start()
                for f in followers:
                    f.join(timeout=length * 20 + 120)
                for name, f in zip(("json_long_poll", "sse"), followers):
                    live = lags_ms(f.seen, f.began)
                    lag[name] += live
                    history[name] += len(f.seen) - len(live)
                    requests[name] += f.requests
                errors = eta_errors([e for e, _ in followers[0].seen])
                if errors is not None:
                    jobs.append({"duration_s": length, "cold": length not in shapes_seen, **errors})
                shapes_seen.add(length)
    finally:
        launcher.stop(worker.pid)
        launcher.stop(api.pid)

    def mae(rows: list[dict], key: str) -> float | None:
        return round(statistics.fmean(r[key] for r in rows), 3) if rows else None

    warm = [j for j in jobs if not j["cold"]]
    return {
        "lag_ms": {name: summary(values) for name, values in lag.items()},
        "requests": requests,
        "history": history,
        "eta_error": {
            "jobs": len(jobs),
            "cold": len(jobs) - len(warm),
            "first_mae": mae(jobs, "first"),
            "half_time_mae": mae(jobs, "half"),
            "warm_first_mae": mae(warm, "first"),
            "warm_half_time_mae": mae(warm, "half"),
            "goals": {"first": 0.2, "half_time": 0.1},
        },
        "per_job": [{k: (round(v, 3) if isinstance(v, float) else v) for k, v in j.items()} for j in jobs],
    }


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--jobs", type=int, default=10)
    parser.add_argument("--lengths", default="10,15,5,20")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix=f"media-progress-{RUN}-"))
    os.environ.update(ENV, WORK_DIR=str(work))
    try:
        report = measure(args.jobs, [int(x) for x in args.lengths.split(",")], work / "logs")
    finally:
        isolated.cleanup()
        shutil.rmtree(work, ignore_errors=True)
    report["machine"] = {"cpus": os.cpu_count()}
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
