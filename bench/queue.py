"""Queue throughput and latency: our layer (chalicelib.infra.queue + chalicelib.runtime.worker) against bare
BullMQ for Python, in one run, on a private queue of the local Redis. Prints JSON.

- enqueue jobs/s: ours = `chalicelib.infra.queue.enqueue` (synchronous: BullMQ's own `Queue.add` with
  its Lua run on the factory's sync Redis client, in the calling thread; no hop onto the
  per-process loop), bare = `await Queue.add` in a loop (one job id each, `removeOnComplete`);
- no-op processing jobs/s: ours = the worker's processor (thread offload, lease keeper, error
  mapping) around a pipeline that returns at once; bare = a Worker whose processor returns;
- `--rounds` (3) rounds of both, bare and ours back to back with the first alternating; each
  ratio is the median of the rounds' own ratios (all listed under "rounds"), the rates the
  medians: single back-to-back runs swung from 0.47 to 2.3 on a 2-core machine shared with a
  test run;
- submit-to-start latency p50/p99 with an idle worker, through our layer (`queue.enqueue`, called
  on the worker's loop: the add blocks it for one round trip, as it would any caller).

Where the enqueue time went (issue #12) is in docs/capacity.md, "Queue throughput".

Usage: python bench/queue.py [--jobs 2000] [--latency-samples 200] [--rounds 3]
"""

from __future__ import annotations

import sys
from pathlib import Path

# This file is named like the stdlib `queue` module: keep its folder off the import path.
sys.path[0] = str(Path(__file__).resolve().parent.parent)

import argparse
import asyncio
import json
import os
import secrets
import statistics
import time

os.environ.setdefault("QUEUE_NAME", f"bench-{secrets.token_hex(3)}")

from bullmq import Queue, Worker  # noqa: E402

from chalicelib.core.settings import get_settings  # noqa: E402
from chalicelib.infra import queue
from chalicelib.pipeline import engine as runner  # noqa: E402
from chalicelib.runtime import worker  # noqa: E402

settings = get_settings()


def noop_pipeline(job_id, owner, stop, lease_s):
    return "succeeded"


runner.run_job = noop_pipeline  # measure the queue layer, not the media pipeline


async def drain(make_worker, processor, count: int) -> tuple[float, float]:
    """Seconds, wall and this process's CPU (every thread's), for a worker
    (`make_worker(processor)`) to process `count` waiting jobs."""
    done = asyncio.Event()
    finished = 0

    async def counted(job, token):
        nonlocal finished
        result = await processor(job, token)
        finished += 1
        if finished == count:
            done.set()
        return result

    started, cpu = time.perf_counter(), time.process_time()
    w = make_worker(counted)
    await done.wait()
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
    await w.close()
    return elapsed, cpu


async def bare(count: int) -> dict:
    name = f"{settings.queue_name}-bare"
    q = Queue(name, {"connection": settings.redis_url, "prefix": settings.queue_prefix})
    started = time.perf_counter()
    for i in range(count):
        await q.add("render", {"job_id": f"j{i}"}, {"jobId": f"j{i}", "removeOnComplete": True})
    enqueue_s = time.perf_counter() - started

    async def nothing(job, token):
        return "succeeded"

    process_s, process_cpu_s = await drain(
        lambda p: Worker(
            name,
            p,
            {
                "connection": settings.redis_url,
                "prefix": settings.queue_prefix,
                "concurrency": settings.worker_concurrency,
            },
        ),
        nothing,
        count,
    )
    await q.obliterate(force=True)
    await q.close()
    return _rates(count, enqueue_s, process_s, process_cpu_s)


def _rates(count: int, enqueue_s: float, process_s: float, process_cpu_s: float) -> dict:
    return {
        "enqueue_jobs_per_s": count / enqueue_s,
        "process_jobs_per_s": count / process_s,
        # jobs per CPU-second: steadier than wall time on a machine whose cores are shared
        "process_jobs_per_cpu_s": count / process_cpu_s,
    }


def ours(count: int, round_: int = 0) -> dict:
    started = time.perf_counter()
    for i in range(count):
        queue.enqueue(f"o{round_}-{i}")
    enqueue_s = time.perf_counter() - started
    process_s, process_cpu_s = queue.run(
        drain(
            lambda p: queue.consumer(settings.queue_name, p, worker.worker_options()), worker.process, count
        ),
        timeout=600,
    )
    return _rates(count, enqueue_s, process_s, process_cpu_s)


async def _latency(samples: int) -> list[float]:
    name = settings.queue_name
    started_at: dict[str, float] = {}
    arrived = asyncio.Event()

    async def timed(job, token):
        started_at[job.id] = time.perf_counter()
        arrived.set()
        return await worker.process(job, token)

    w = queue.consumer(name, timed, worker.worker_options())
    await asyncio.sleep(0.5)  # let the worker reach its blocking wait: "an idle worker"
    latencies = []
    for i in range(samples):
        arrived.clear()
        job_id = f"lat{i}"
        sent = time.perf_counter()
        queue.enqueue(job_id, queue_name=name)
        await arrived.wait()
        latencies.append((started_at[job_id] - sent) * 1000)
    await w.close()
    return latencies


def percentile(values: list[float], p: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--jobs", type=int, default=2000)
    parser.add_argument("--latency-samples", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    rounds: list[tuple[dict, dict]] = []
    try:
        for r in range(args.rounds):
            # Bare and ours back to back, the first of the pair alternating: a machine shared with
            # other work slows both sides of a round alike, and neither always goes first.
            if r % 2 == 0:
                base = asyncio.run(bare(args.jobs))
                mine = ours(args.jobs, r)
            else:
                mine = ours(args.jobs, r)
                base = asyncio.run(bare(args.jobs))
            rounds.append((mine, base))
        latencies = queue.run(_latency(args.latency_samples), timeout=600)
    finally:
        queue.run(_obliterate(), timeout=60)

    def ratio(mine: dict, base: dict, key: str) -> float:
        return round(mine[key] / base[key], 3)

    def median_rates(side: int) -> dict:
        keys = ("enqueue_jobs_per_s", "process_jobs_per_s", "process_jobs_per_cpu_s")
        return {k: round(statistics.median(pair[side][k] for pair in rounds), 1) for k in keys}

    per_round = [
        {
            "enqueue_ratio": ratio(mine, base, "enqueue_jobs_per_s"),
            "throughput_ratio": ratio(mine, base, "process_jobs_per_s"),
            "throughput_per_cpu_ratio": ratio(mine, base, "process_jobs_per_cpu_s"),
        }
        for mine, base in rounds
    ]
    print(
        json.dumps(
            {
                "jobs": args.jobs,
                "worker_concurrency": settings.worker_concurrency,
                "ours": median_rates(0),
                "bare_bullmq": median_rates(1),
                # The medians of the rounds' own ratios.
                "throughput_ratio": statistics.median(r["throughput_ratio"] for r in per_round),
                "throughput_per_cpu_ratio": statistics.median(
                    r["throughput_per_cpu_ratio"] for r in per_round
                ),
                "enqueue_ratio": statistics.median(r["enqueue_ratio"] for r in per_round),
                "rounds": per_round,
                "submit_to_start_ms": {
                    "p50": round(percentile(latencies, 50), 2),
                    "p99": round(percentile(latencies, 99), 2),
                    "mean": round(statistics.fmean(latencies), 2),
                    "samples": len(latencies),
                },
            },
            indent=2,
        )
    )


async def _obliterate() -> None:
    await (await queue.get_queue()).obliterate(force=True)


if __name__ == "__main__":
    main()
