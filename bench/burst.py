"""A burst of jobs against the dispatcher's rule: a seeded discrete-event simulation.

    python bench/burst.py [--bursts 10,100,1000] [--job-cpu-s 40] [--seed 7]

What is modelled (chalicelib/runtime/dispatcher.py, chalicelib/runtime/worker.py, template.yaml):
- N jobs are submitted over `--spread-s` seconds (default 10: a sudden burst).
- The dispatcher runs every 60 s (EventBridge; first tick at a random phase) and, with
  `nudge`, right after each submission. One run at a time (reserved concurrency 1): nudges
  that arrive while one runs queue behind it (Lambda's async retry), each taking `dispatch_s`.
  A run starts `min(MAX_WORKERS, ceil(depth / WORKER_CONCURRENCY)) - running` tasks, where
  depth = waiting + active jobs and running = tasks started and not yet exited.
- A Fargate task becomes a worker after a start latency drawn from a lognormal distribution
  (median 35 s, p95 ~60 s: image pull of the ~500 MB worker image plus ENI attach; the figure
  AWS users commonly report for Fargate, stated here as an assumption, not measured).
- A worker takes up to WORKER_CONCURRENCY jobs; they share its vCPUs (processor sharing): with
  n jobs on v vCPUs each progresses at min(1, v / n) CPU-s per s. A job needs `job_cpu_s` CPU
  seconds (measured by bench/capacity.py) times a lognormal factor (sigma 0.15).
- A worker exits after `idle_exit_s` without a job (today: 300 s for every worker). The
  improved rule: a worker that is idle, sees an empty queue and is not the longest-lived worker
  exits after `surplus_idle_s` (30 s); the last one stays warm for `idle_exit_s`.

Prints JSON: per burst and configuration, queue wait p50/p95/p99 (submission to start), the
last job's finish, tasks started, dispatcher runs, and worker-seconds spent idle or starting.
"""

from __future__ import annotations

import argparse
import heapq
import itertools
import json
import math
import random
from dataclasses import dataclass, field

START_MEDIAN_S, START_SIGMA = 35.0, 0.33  # lognormal: p95 = 35 * e^(1.645*0.33) ~ 60 s


@dataclass
class Config:
    max_workers: int = 10
    concurrency: int = 2
    vcpu: float = 1.0
    nudge: bool = False  # DISPATCH_ON_SUBMIT
    nudge_debounce_s: float = 0  # improved: at most one nudge-dispatch per this many seconds
    idle_exit_s: float = 300
    surplus_idle_s: float | None = None  # improved idle exit for all but the oldest worker
    dispatch_s: float = 1.0  # one dispatcher run (ListTasks + RunTask)
    tick_s: float = 60


@dataclass
class Worker:
    id: int
    started_at: float
    ready_at: float
    jobs: dict = field(default_factory=dict)  # job id -> remaining CPU s
    last_update: float = 0.0
    idle_since: float | None = None
    exited_at: float | None = None
    version: int = 0


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return 0.0
    k = (len(ordered) - 1) * q
    lo, hi = math.floor(k), math.ceil(k)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


def simulate(n_jobs: int, cfg: Config, job_cpu_s: float, spread_s: float, seed: int) -> dict:
    rng = random.Random(seed)
    seq = itertools.count()
    events: list = []

    def at(t: float, kind: str, *data) -> None:
        heapq.heappush(events, (t, next(seq), kind, data))

    submit_t = sorted(rng.uniform(0, spread_s) for _ in range(n_jobs))
    work = [job_cpu_s * rng.lognormvariate(0, 0.15) for _ in range(n_jobs)]
    for j, t in enumerate(submit_t):
        at(t, "submit", j)
    first_tick = rng.uniform(0, cfg.tick_s)
    at(first_tick, "tick")

    waiting: list[int] = []  # FIFO of job ids
    started: dict[int, float] = {}
    finished: dict[int, float] = {}
    workers: list[Worker] = []
    dispatcher_free_at = 0.0
    last_nudge = -1e9
    runs = 0
    horizon_done = False

    def alive() -> list[Worker]:
        return [w for w in workers if w.exited_at is None]

    def advance(w: Worker, now: float) -> None:
        if w.jobs:
            rate = min(1.0, cfg.vcpu / len(w.jobs))
            for j in w.jobs:
                w.jobs[j] -= rate * (now - w.last_update)
        w.last_update = now

    def schedule_completion(w: Worker, now: float) -> None:
        w.version += 1
        if w.jobs:
            rate = min(1.0, cfg.vcpu / len(w.jobs))
            j, rem = min(w.jobs.items(), key=lambda kv: kv[1])
            at(now + max(0.0, rem) / rate, "complete", w.id, j, w.version)
        else:
            w.idle_since = now
            at(now + idle_timeout(w), "idle_check", w.id, w.version)

    def idle_timeout(w: Worker) -> float:
        if cfg.surplus_idle_s is not None:
            oldest = min(alive(), key=lambda x: (x.started_at, x.id))
            if w is not oldest:
                return cfg.surplus_idle_s
        return cfg.idle_exit_s

    def fill(w: Worker, now: float) -> None:
        advance(w, now)
        while waiting and len(w.jobs) < cfg.concurrency:
            j = waiting.pop(0)
            started[j] = now
            w.jobs[j] = work[j]
            w.idle_since = None
        schedule_completion(w, now)

    def dispatch(now: float) -> None:
        nonlocal runs
        runs += 1
        active = sum(len(w.jobs) for w in alive())
        desired = min(cfg.max_workers, math.ceil((len(waiting) + active) / cfg.concurrency))
        for _ in range(max(0, desired - len(alive()))):
            ready = now + cfg.dispatch_s + rng.lognormvariate(math.log(START_MEDIAN_S), START_SIGMA)
            w = Worker(id=len(workers), started_at=now, ready_at=ready)
            workers.append(w)
            at(ready, "ready", w.id)

    while events:
        now, _, kind, data = heapq.heappop(events)
        if kind == "submit":
            waiting.append(data[0])
            idle = [w for w in alive() if w.ready_at <= now and len(w.jobs) < cfg.concurrency]
            for w in idle:  # BullMQ: a free worker slot takes it at once
                if waiting:
                    fill(w, now)
            if cfg.nudge and now - last_nudge >= cfg.nudge_debounce_s:
                last_nudge = now
                dispatcher_free_at = max(now, dispatcher_free_at) + cfg.dispatch_s
                at(dispatcher_free_at, "dispatch")
        elif kind == "tick":
            dispatcher_free_at = max(now, dispatcher_free_at) + cfg.dispatch_s
            at(dispatcher_free_at, "dispatch")
            if not horizon_done:
                at(now + cfg.tick_s, "tick")
        elif kind == "dispatch":
            dispatch(now)
        elif kind == "ready":
            w = workers[data[0]]
            w.last_update = now
            fill(w, now)
        elif kind == "complete":
            w = workers[data[0]]
            if data[2] != w.version or w.exited_at is not None:
                continue
            advance(w, now)
            for j in [j for j, rem in w.jobs.items() if rem <= 1e-6] or [data[1]]:
                w.jobs.pop(j, None)
                finished[j] = now
            fill(w, now)
        elif kind == "idle_check":
            w = workers[data[0]]
            if data[1] == w.version and not w.jobs and w.exited_at is None:
                w.exited_at = now
        if len(finished) == n_jobs and not alive():
            break
        if len(finished) == n_jobs:
            horizon_done = True

    waits = [started[j] - submit_t[j] for j in range(n_jobs)]
    busy_s = sum(work)
    task_s = sum((w.exited_at or now) - w.started_at for w in workers)
    starting_s = sum(min(w.ready_at, w.exited_at or now) - w.started_at for w in workers)
    return {
        "queue_wait_s": {
            "p50": round(percentile(waits, 0.5), 1),
            "p95": round(percentile(waits, 0.95), 1),
            "p99": round(percentile(waits, 0.99), 1),
            "last_job": round(waits[-1], 1),
        },
        "last_finish_s": round(max(finished.values()), 1),
        "tasks_started": len(workers),
        "dispatcher_runs": runs,
        "task_seconds": round(task_s),
        "job_cpu_seconds": round(busy_s),
        "task_seconds_starting": round(starting_s),
        "task_seconds_idle": round(max(0.0, task_s - starting_s - busy_s / cfg.vcpu)),
        "efficiency": round(busy_s / cfg.vcpu / task_s, 3) if task_s else None,
    }


TODAY = Config()
IMPROVED = Config(nudge=True, nudge_debounce_s=5, surplus_idle_s=30)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--bursts", default="10,100,1000")
    parser.add_argument(
        "--job-cpu-s", type=float, default=40.0, help="CPU s per job (bench/capacity.py: a 60 s video)"
    )
    parser.add_argument("--spread-s", type=float, default=10.0)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    bursts = [int(b) for b in args.bursts.split(",")]

    def run(cfg: Config) -> dict:
        return {str(n): simulate(n, cfg, args.job_cpu_s, args.spread_s, args.seed) for n in bursts}

    report = {
        "inputs": {
            "job_cpu_s": args.job_cpu_s,
            "spread_s": args.spread_s,
            "seed": args.seed,
            "fargate_start_s": {"median": START_MEDIAN_S, "lognormal_sigma": START_SIGMA},
        },
        "today": {"config": vars(TODAY), "bursts": run(TODAY)},
        "improved": {"config": vars(IMPROVED), "bursts": run(IMPROVED)},
        "max_workers": {str(m): run(Config(**{**vars(IMPROVED), "max_workers": m})) for m in (10, 50, 100)},
        "worker_concurrency": {
            f"{c} on {v} vCPU": run(Config(**{**vars(IMPROVED), "concurrency": c, "vcpu": v}))
            for c, v in ((1, 1.0), (2, 1.0), (4, 2.0))
        },
    }
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
