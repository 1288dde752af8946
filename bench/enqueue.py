"""Where an enqueue's time goes (issue #12): per add, wall and CPU time of
- bare: `await Queue.add` in a loop on the process's BullMQ loop (as bench/queue.py's bare side);
- hop: what `queue.enqueue` did before #12: `queue.run(coroutine that awaits Queue.add)` from a
  synchronous caller, i.e. a hop onto the per-process loop and back for every job;
- ours: `queue.enqueue` now (Queue.add with its Lua on the synchronous client, no hop);
and the parts: a Redis round trip on the sync and the asyncio client, the hop around a coroutine
that does nothing, and the hop's three legs around a real add (caller -> coroutine start, the add
on the loop, coroutine end -> caller awake). The ways are interleaved round by round and the
medians reported, so a machine shared with other work skews them alike. Prints JSON.

Usage: python bench/enqueue.py [--rounds 15] [--batch 200]
"""

from __future__ import annotations

import sys
from pathlib import Path

# Not bench/ on the import path: its queue.py would shadow the standard library's `queue`.
sys.path[0] = str(Path(__file__).resolve().parent.parent)

import argparse
import json
import os
import secrets
import statistics
import time
from collections.abc import Callable
from typing import Any

os.environ.setdefault("QUEUE_NAME", f"bench-{secrets.token_hex(3)}")

from bullmq import Queue  # noqa: E402

from chalicelib.core.settings import get_settings  # noqa: E402
from chalicelib.infra import queue, redis_client  # noqa: E402

settings = get_settings()
clock, cpu = time.perf_counter, time.process_time


async def _hop_add(job_id: str) -> tuple[float, float]:
    started = clock()
    q = await queue.get_queue()
    await q.add(queue.JOB_NAME, {"job_id": job_id}, queue.job_options(job_id))
    return started, clock()


async def _nothing() -> None:
    return None


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--batch", type=int, default=200)
    args = parser.parse_args()
    batch = args.batch
    bare_queue = Queue(
        f"{settings.queue_name}-bare", {"connection": settings.redis_url, "prefix": settings.queue_prefix}
    )
    sync = redis_client.client()

    async def bare(r: int) -> None:
        for i in range(batch):
            job_id = f"b{r}-{i}"
            await bare_queue.add(
                queue.JOB_NAME, {"job_id": job_id}, {"jobId": job_id, "removeOnComplete": True}
            )

    async def async_ping(_r: int) -> None:
        client = (await queue.get_queue()).client
        for _ in range(batch):
            await client.ping()

    legs: list[tuple[float, float, float]] = []

    def hop(r: int) -> None:
        for i in range(batch):
            called = clock()
            started, ended = queue.run(_hop_add(f"h{r}-{i}"))
            legs.append((started - called, ended - started, clock() - ended))

    ways: dict[str, Callable[[int], Any]] = {
        "bare: await Queue.add": lambda r: queue.run(bare(r), timeout=600),
        "before #12: hop + await Queue.add": hop,
        "ours: queue.enqueue": lambda r: [queue.enqueue(f"o{r}-{i}") for i in range(batch)],
        "part: hop around a no-op coroutine": lambda r: [queue.run(_nothing()) for _ in range(batch)],
        "part: PING, sync client": lambda r: [sync.ping() for _ in range(batch)],
        "part: PING, asyncio client on the loop": lambda r: queue.run(async_ping(r)),
    }
    times: dict[str, list[tuple[float, float]]] = {name: [] for name in ways}
    ways["hop"] = hop  # warm up every way once (connections, script loads)
    for name, way in ways.items():
        way(-1 - len(name))
    del ways["hop"]
    legs.clear()
    try:
        for r in range(args.rounds):
            for name, way in ways.items():
                wall, used = clock(), cpu()
                way(r)
                times[name].append((clock() - wall, cpu() - used))
    finally:

        async def obliterate() -> None:
            await (await queue.get_queue()).obliterate(force=True)
            await bare_queue.obliterate(force=True)
            await bare_queue.close()

        queue.run(obliterate(), timeout=120)

    def us(seconds: float) -> float:
        return round(seconds / batch * 1e6, 1)

    bare_wall = statistics.median(w for w, _ in times["bare: await Queue.add"])
    report: dict[str, Any] = {
        "rounds": args.rounds,
        "batch": batch,
        "per_add_us": {
            name: {
                "wall": us(statistics.median(w for w, _ in runs)),
                "cpu": us(statistics.median(c for _, c in runs)),
                "rate_vs_bare": round(bare_wall / statistics.median(w for w, _ in runs), 3),
            }
            for name, runs in times.items()
        },
        "hop_legs_us_median": {
            leg: round(statistics.median(x[k] for x in legs) * 1e6, 1)
            for k, leg in enumerate(
                ("caller_to_coroutine_start", "add_on_the_loop", "coroutine_end_to_caller")
            )
        },
    }
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
