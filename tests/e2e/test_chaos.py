"""Chaos: 30 jobs, 2+ workers SIGKILLed at random moments and restarted, Redis restarted (empty)
once in the middle, the reaper reconciling. Loopback only, bounded in count and time.

Every job must end (succeeded, or failed with a code), none lost, no step succeeds twice, every
succeeded job's MP4 is valid, and progress read through the API never goes backwards.
"""

from __future__ import annotations

import random
import shutil
import subprocess
import time
from collections import Counter
from datetime import timedelta

import pytest

from chalicelib.core.settings import get_settings
from chalicelib.infra import queue, redis_client, storage
from chalicelib.jobs import repository as jobs_db
from chalicelib.pipeline.media.probe import probe
from chalicelib.runtime import reaper
from tests.conftest import free_port
from tests.workers import FAST_TAKEOVER, Workers, private_queue

JOBS, USERS, WORKERS, KILLS = 30, 6, 2, 4
DEADLINE_S = 420
TERMINAL = {"succeeded", "failed", "canceled"}
pytestmark = [pytest.mark.chaos, pytest.mark.timeout(DEADLINE_S + 120)]


class PrivateRedis:
    """A Redis of the test's own (no persistence), so restarting it disturbs nobody else."""

    def __init__(self):
        self.server = shutil.which("redis-server")
        self.port = free_port()
        self.proc = None

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [
                self.server,
                "--bind",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--save",
                "",
                "--appendonly",
                "no",
            ],
            stdout=subprocess.PIPE,
            text=True,
        )
        for line in self.proc.stdout:  # its own readiness line, not a sleep
            if "Ready to accept connections" in line:
                return
        raise RuntimeError("redis-server did not start")

    def crash(self) -> None:
        self.proc.kill()
        self.proc.wait()

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"


@pytest.fixture
def chaos_redis(monkeypatch):
    if shutil.which("redis-server") is None:
        pytest.skip("redis-server is not installed")
    server = PrivateRedis()
    server.start()
    monkeypatch.setattr(get_settings(), "redis_url", server.url)
    redis_client.reset()
    queue.reset()
    yield server
    queue.reset()
    server.crash()
    monkeypatch.undo()
    redis_client.reset()


def test_jobs_survive_killed_workers_and_a_redis_restart(api, chaos_redis, monkeypatch, tmp_path):
    rng = random.Random(1234)
    with private_queue(monkeypatch) as queue_name:
        env = {
            "QUEUE_NAME": queue_name,
            "REDIS_URL": chaos_redis.url,
            "WORKER_CONCURRENCY": "2",
            **FAST_TAKEOVER,
        }
        pool = Workers(tmp_path, env)
        try:
            users = [api.signup() for _ in range(USERS)]
            job_ids = []
            for i in range(JOBS):
                user = users[i % USERS]
                response = api.call(
                    "POST",
                    "/v1/jobs",
                    {"prompt": f"chaos {i}: a lantern in fog", "duration_s": 5, "aspect": "1:1"},
                    token=user["token"],
                )
                assert response.status_code == 202, response.body
                job_ids.append((response.json["id"], user))
            live = [pool.start() for _ in range(WORKERS)]

            seen_progress: dict[str, int] = {}
            kills, redis_restarted = 0, False
            started = time.monotonic()
            while time.monotonic() - started < DEADLINE_S:
                for job_id, user in job_ids:  # progress through the API never goes backwards
                    job = api.call("GET", f"/v1/jobs/{job_id}", token=user["token"]).json
                    assert job["progress"] >= seen_progress.get(job_id, 0), job_id
                    seen_progress[job_id] = job["progress"]
                statuses = Counter(jobs_db.get(j, None).status for j, _ in job_ids)
                if sum(statuses[s] for s in TERMINAL) == JOBS:
                    break
                elapsed = time.monotonic() - started
                if kills < KILLS and rng.random() < 0.35:
                    victim = live.pop(rng.randrange(len(live)))
                    pool.kill(victim)
                    live.append(pool.start())
                    kills += 1
                if not redis_restarted and elapsed > 20:
                    chaos_redis.crash()
                    chaos_redis.start()  # same port, no data: queue and streams are gone
                    redis_restarted = True
                if redis_restarted:
                    reaper.reconcile(grace=timedelta(seconds=3))
                time.sleep(rng.uniform(1.0, 3.0))  # the chaos schedule, not a synchronisation
            assert redis_restarted and kills == KILLS

            rows = {j: jobs_db.get(j, None) for j, _ in job_ids}
            assert all(r.status in TERMINAL for r in rows.values()), Counter(r.status for r in rows.values())
            for job_id, row in rows.items():
                if row.status == "failed":
                    assert row.error_code, job_id
                runs = Counter((r.step, r.status) for r in jobs_db.step_runs(job_id))
                assert all(n == 1 for (step, status), n in runs.items() if status == "succeeded"), (
                    job_id,
                    runs,
                )
            succeeded = [j for j, r in rows.items() if r.status == "succeeded"]
            assert len(succeeded) >= JOBS * 0.9, Counter(r.status for r in rows.values())
            for job_id in succeeded:
                path = tmp_path / f"{job_id}.mp4"
                storage.download(rows[job_id].outputs["video"], path)
                info = probe(path)
                assert info["video_codec"] == "h264" and (info["width"], info["height"]) == (1080, 1080)
                assert abs(info["duration_s"] - 5) <= 0.5
        finally:
            pool.stop_all()
            print(pool.logs())
