"""What one job costs in requests, statements, bytes and CPU: counted on a real local run.

    python bench/capacity.py [--lengths 15,60,180] [--poll-every 2]

Starts the real API (`chalice local`) and one real worker (concurrency 1, so CPU and memory are
the job's), each with counters wrapped around pymysql, botocore and their HTTP sends
(bench/meter.py), watches Redis through MONITOR on a db of its own, and samples the worker's
process tree (ffmpeg and the voice included) from /proc. For each length it submits one job over
HTTP and follows it three ways at once, as clients would: long-poll JSON, SSE, and plain polling
with ETags. Then it prints one JSON object: per job counts, the per-request costs of following,
and the dollars of bench/costmodel.py computed from them.

Needs the bring-up (`make bench NAME=capacity` does it). Uses its own database, bucket, queue
and Redis db 13, and removes them at the end.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
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

REDIS_DB = 13
ENV = isolated.environment("capacity", REDIS_DB, {"free": {"monthly_jobs": 1000, "max_duration_s": 180}})
TERMINAL = isolated.TERMINAL


# ---- the measured processes ---------------------------------------------------------------------
def serve_metered(kind: str, out_dir: str, argv: list[str]) -> None:
    """Child mode: install the counters, dump them to out_dir on SIGUSR1, then run the program."""
    from bench.meter import Meter

    meter = Meter()
    meter.install()
    dumps = iter(range(1_000_000))

    def dump(*_):
        path = Path(out_dir) / f"{kind}-{next(dumps)}.json"
        path.with_suffix(".tmp").write_text(json.dumps(meter.snapshot()))
        path.with_suffix(".tmp").rename(path)
        meter.reset()

    signal.signal(signal.SIGUSR1, dump)
    if kind == "worker":
        from chalicelib.runtime import worker

        sys.exit(worker.main([]))
    import runpy

    sys.argv = [str(ROOT / "scripts" / "chalice_local.py"), *argv]
    runpy.run_path(sys.argv[0], run_name="__main__")


class Metered:
    """A metered child process; `take()` returns its counters since the last take."""

    def __init__(self, kind: str, out_dir: Path, argv: list[str] = ()) -> None:
        from chalicelib.runtime import launcher

        self.kind, self.out_dir, self.taken = kind, out_dir, 0
        command = [sys.executable, __file__, "--child", kind, str(out_dir), *argv]
        self.proc = launcher.spawn(command, out_dir / f"{kind}.log")

    def take(self) -> dict:
        os.kill(self.proc.pid, signal.SIGUSR1)
        path = self.out_dir / f"{self.kind}-{self.taken}.json"
        deadline = time.monotonic() + 10
        while not path.exists():
            if time.monotonic() > deadline:
                raise TimeoutError(f"{self.kind} did not dump its counters")
            time.sleep(0.02)
        self.taken += 1
        return json.loads(path.read_text())

    def stop(self) -> None:
        from chalicelib.runtime import launcher

        launcher.stop(self.proc.pid)


# ---- following a job, three ways ----------------------------------------------------------------
class Follower(threading.Thread):
    def __init__(self, base: str, token: str, job_id: str, how: str, poll_every: float) -> None:
        super().__init__(daemon=True)
        self.base, self.job_id, self.how, self.poll_every = base, job_id, how, poll_every
        self.headers = {"Authorization": f"Bearer {token}"}
        self.requests, self.not_modified, self.events = 0, 0, []

    def run(self) -> None:
        import httpx

        with httpx.Client(base_url=self.base, headers=self.headers, timeout=60) as http:
            getattr(self, f"_{self.how}")(http)

    def _longpoll(self, http) -> None:
        after = ""
        while True:
            self.requests += 1
            body = http.get(
                f"/v1/jobs/{self.job_id}/events",
                params={"after": after, "wait": 20} if after else {"wait": 20},
            ).json()
            self.events += body["events"]
            after = body["next"] or after
            if body["status"] in TERMINAL and not body["events"]:
                return

    def _sse(self, http) -> None:
        last, done = None, False
        while not done:
            self.requests += 1
            headers = {"Accept": "text/event-stream", **({"Last-Event-ID": last} if last else {})}
            text = http.get(f"/v1/jobs/{self.job_id}/events", params={"wait": 20}, headers=headers).text
            for frame in text.split("\n\n"):
                fields = dict(line.split(": ", 1) for line in frame.splitlines() if ": " in line)
                if "id" in fields:
                    last = fields["id"]
                if (
                    fields.get("event", "").split(".")[0] == "job"
                    and fields["event"].split(".")[1] in TERMINAL
                ):
                    done = True

    def _poll(self, http) -> None:
        etag = None
        while True:
            self.requests += 1
            reply = http.get(f"/v1/jobs/{self.job_id}", headers={"If-None-Match": etag} if etag else {})
            if reply.status_code == 304:
                self.not_modified += 1
            else:
                etag = reply.headers.get("etag")
                if reply.json()["status"] in TERMINAL:
                    return
            time.sleep(self.poll_every)


def _at(event: dict) -> float:
    return datetime.fromisoformat(event["at"].replace("Z", "+00:00")).timestamp()


def step_times(events: list[dict], sampler) -> dict:
    """Wall and CPU seconds per step, from the job's own step events and the /proc samples."""
    started = {e["step"]: _at(e) for e in events if e["type"] == "step.started"}
    ended = {e["step"]: _at(e) for e in events if e["type"] in ("step.succeeded", "step.failed")}
    return {
        step: {
            "wall_s": round(ended[step] - started[step], 3),
            "cpu_s": round(sampler.cpu_between(started[step], ended[step]), 3),
        }
        for step in started
        if step in ended
    }


def artifacts(job_id: str) -> dict:
    from chalicelib.core.settings import get_settings
    from chalicelib.infra import aws

    objects = (
        aws.client("s3")
        .list_objects_v2(Bucket=get_settings().media_bucket, Prefix=f"jobs/{job_id}/")
        .get("Contents", [])
    )
    return {o["Key"].split(f"jobs/{job_id}/", 1)[1]: o["Size"] for o in objects}


def measure(lengths: list[int], poll_every: float, out_dir: Path) -> dict:
    import httpx

    from bench.meter import RedisMonitor, TreeSampler, local_ports
    from chalicelib.core.settings import get_settings
    from chalicelib.infra import aws
    from chalicelib.infra.migrate import migrate
    from chalicelib.runtime import launcher

    migrate()
    aws.client("s3").create_bucket(Bucket=get_settings().media_bucket)
    port = _free_port()
    api = Metered("api", out_dir, ["--host", "127.0.0.1", "--port", str(port), "--no-autoreload"])
    worker = Metered("worker", out_dir)
    base = f"http://127.0.0.1:{port}"
    launcher.wait_http(f"{base}/v1/health", timeout=60)

    def owner(client_port: int) -> str:
        for name in ("worker", "api"):
            if client_port in ports.setdefault(name, set()):
                return name
        for name, proc in (("worker", worker.proc), ("api", api.proc)):  # a new connection
            ports[name] = local_ports(proc.pid)
            if client_port in ports[name]:
                return name
        return "other"

    ports: dict[str, set[int]] = {}
    monitor = RedisMonitor("127.0.0.1", 6379, REDIS_DB, owner)
    sampler = TreeSampler(worker.proc.pid)
    http = httpx.Client(base_url=base, timeout=60)
    try:
        email = f"capacity-{RUN}@example.com"
        token = http.post("/v1/auth/signup", json={"email": email, "password": "capacity bench pw"}).json()[
            "access_token"
        ]
        auth = {"Authorization": f"Bearer {token}"}
        api.take(), worker.take(), monitor.take()
        results = {}
        for length in lengths:
            t0 = time.time()
            job = http.post(
                "/v1/jobs",
                headers=auth,
                json={"prompt": "A paper boat sails across a night sea to the moon", "duration_s": length},
            ).json()
            followers = [
                Follower(base, token, job["id"], how, poll_every) for how in ("longpoll", "sse", "poll")
            ]
            for f in followers:
                f.start()
            for f in followers:
                f.join(timeout=length * 10 + 120)
            t1 = time.time()
            final = http.get(f"/v1/jobs/{job['id']}", headers=auth).json()
            results[f"{length}s"] = {
                "status": final["status"],
                "wall_s": round(t1 - t0, 2),
                "steps": step_times(followers[0].events, sampler),
                "worker_peak_rss_mb": round(sampler.peak_rss_between(t0, t1) / 2**20, 1),
                "follow_invocations": {f.how: f.requests for f in followers}
                | {"poll_not_modified": followers[2].not_modified},
                "redis_commands": monitor.take(),
                "api": api.take(),  # submit + all three followers together
                "worker": worker.take(),
                "artifacts_bytes": artifacts(job["id"]),
            }
        results["per_request"] = per_request_costs(http, auth, job["id"], api, monitor)
        return results
    finally:
        http.close()
        sampler.stop()
        monitor.close()
        api.stop()
        worker.stop()


def per_request_costs(http, auth: dict, job_id: str, api: Metered, monitor) -> dict:
    """One request of each kind a follower makes, alone: its SQL, AWS and Redis cost."""
    kinds = {
        "get_job": lambda: http.get(f"/v1/jobs/{job_id}", headers=auth),
        "get_job_304": lambda: http.get(
            f"/v1/jobs/{job_id}",
            headers={**auth, "If-None-Match": http.get(f"/v1/jobs/{job_id}", headers=auth).headers["etag"]},
        ),
        "events": lambda: http.get(f"/v1/jobs/{job_id}/events", headers=auth, params={"wait": 0}),
    }
    costs = {}
    for name, call in kinds.items():
        api.take(), monitor.take()
        call()
        costs[name] = {"api": api.take(), "redis_commands": monitor.take().get("api", {})}
    # get_job_304 made a plain GET first for its ETag: halve nothing, just say so
    costs["get_job_304"]["note"] = "includes the plain GET that fetched the ETag"
    return costs


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        serve_metered(sys.argv[2], sys.argv[3], sys.argv[4:])
        return
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--lengths", default="15,60,180")
    parser.add_argument("--poll-every", type=float, default=2.0, help="plain polling interval, s")
    parser.add_argument("--no-cost", action="store_true", help="counts only")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix=f"media-capacity-{RUN}-"))
    os.environ.update(ENV, WORK_DIR=str(work))
    out_dir = work / "capacity"
    out_dir.mkdir()
    try:
        counts = measure([int(x) for x in args.lengths.split(",")], args.poll_every, out_dir)
    finally:
        isolated.cleanup()
        shutil.rmtree(work, ignore_errors=True)
    report = {"measured": counts, "machine": {"cpus": os.cpu_count()}}
    if not args.no_cost:
        from bench import costmodel

        report["cost"] = costmodel.estimate(counts)
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
