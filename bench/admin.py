"""The operator's overview with 100 000 jobs (issue 28; goal: under 200 ms).

    python bench/admin.py [--jobs 100000] [--days 30] [--runs 15]

Seeds a database of its own (removed afterwards): 1 000 customers, `--jobs` jobs spread over
`--days` days in a realistic mix of statuses (most succeeded, some failed with codes and steps,
a few queued and running; plans free, pro, business), one priced provider usage row per
second job; then times chalicelib.admin.service.overview (every query it makes, and the queue's
depth from Redis) and spend (each of its queries), `--runs` times each after one warm-up, and prints JSON: p50/p95/max ms, each overview
query's time and the index MariaDB chose for it (EXPLAIN).
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[0] = str(ROOT)  # bench/queue.py would shadow the stdlib `queue`

import argparse  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import random  # noqa: E402
import secrets  # noqa: E402
import statistics  # noqa: E402
import time  # noqa: E402
from datetime import timedelta  # noqa: E402

RUN = secrets.token_hex(3)
os.environ.update(
    {
        "STAGE": "local",
        "DATABASE_URL": f"mysql://root:@127.0.0.1:3306/media_admin_bench_{RUN}",
        "REDIS_URL": os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/12"),
        "QUEUE_NAME": f"media-admin-bench-{RUN}",
    }
)

from chalicelib.admin import queries, service  # noqa: E402
from chalicelib.core.ids import new_id, utcnow  # noqa: E402
from chalicelib.core.settings import get_settings  # noqa: E402
from chalicelib.infra import db  # noqa: E402
from chalicelib.infra.migrate import migrate  # noqa: E402

STATUSES = ["succeeded"] * 85 + ["failed"] * 8 + ["canceled"] * 4 + ["queued"] * 2 + ["running"]
FAILURES = [
    ("provider_error", "image"),
    ("timeout", "video"),
    ("render_error", "upload"),
    ("bad_script", "concept"),
]
PLANS = ["free"] * 6 + ["pro"] * 3 + ["business"]
BATCH = 5000


def seed(jobs: int, days: int, rng: random.Random) -> None:
    now = utcnow()
    users = [(new_id("usr"), f"bench-{i}@example.com") for i in range(1000)]
    with db.transaction() as cur:
        cur.executemany(
            "INSERT INTO users (id, email, password_hash, created_at) VALUES (%s, %s, 'x', %s)",
            [(uid, email, now - timedelta(days=days)) for uid, email in users],
        )
    job_rows, usage_rows = [], []
    for i in range(jobs):
        created = now - timedelta(seconds=rng.uniform(0, days * 86400))
        status = rng.choice(STATUSES)
        started = created + timedelta(seconds=rng.expovariate(1 / 8)) if status != "queued" else None
        finished = (
            started + timedelta(seconds=rng.uniform(30, 200))
            if started and status not in ("running",)
            else None
        )
        code, step = rng.choice(FAILURES) if status == "failed" else (None, None)
        uid = users[rng.randrange(len(users))][0]
        job_id = new_id("job")
        plan = rng.choice(PLANS)
        cost = rng.randrange(20_000, 300_000) if status == "succeeded" and plan != "free" else 0
        job_rows.append(
            (
                job_id,
                uid,
                status,
                100 if status == "succeeded" else 40,
                json.dumps({"prompt": "bench"}),
                "0" * 64,
                code,
                "bench failure" if code else None,
                step,
                created,
                started,
                finished,
                finished or created,
                plan,
                cost,
            )
        )
        if i % 2 == 0:
            provider = rng.choice(["openai", "fal", "replicate", "offline"])
            account = "none" if provider == "offline" else rng.choice(["platform", "platform", "own"])
            usage_rows.append((uid, plan, job_id, provider, created, cost, account))
    with db.transaction() as cur:
        for at in range(0, len(job_rows), BATCH):
            cur.executemany(
                "INSERT INTO jobs (id, user_id, status, progress, request, request_hash, error_code,"
                " error_message, error_step, created_at, started_at, finished_at, updated_at, plan, cost_micros)"
                " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
                job_rows[at : at + BATCH],
            )
        for at in range(0, len(usage_rows), BATCH):
            cur.executemany(
                "INSERT INTO provider_usage (user_id, plan, job_id, step, purpose, provider, images, wall_ms,"
                " created_at, cost_micros, account) VALUES (%s, %s, %s, 'image', 'image', %s, 1, 2000, %s, %s, %s)",
                usage_rows[at : at + BATCH],
            )
        cur.execute("ANALYZE TABLE jobs, provider_usage, users")


def timed(fn, runs: int) -> dict[str, float]:
    fn()  # warm: connections, the queue's loop
    ms = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        ms.append((time.perf_counter() - t0) * 1000)
    ms.sort()
    return {
        "p50_ms": round(statistics.median(ms), 1),
        "p95_ms": round(ms[max(0, round(0.95 * len(ms)) - 1)], 1),
        "max_ms": round(ms[-1], 1),
    }


def explain(sql: str, args: tuple) -> list[str | None]:
    return [row.get("key") for row in db.fetch_all("EXPLAIN " + sql, args)]


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--jobs", type=int, default=100_000)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()
    migrate()
    try:
        t0 = time.perf_counter()
        seed(args.jobs, args.days, random.Random(28))
        seeded_s = time.perf_counter() - t0
        now = utcnow()
        since = now - timedelta(days=13)
        parts = {
            "waiting_or_running": lambda: queries.jobs_waiting_or_running(),
            "per_day": lambda: queries.jobs_per_day(since),
            "waits": lambda: queries.waits_ms(now - timedelta(hours=1)),
            "failures": lambda: queries.failures(since),
        }
        plans = {
            "waiting_or_running": explain(
                "SELECT status, COUNT(*) FROM jobs WHERE status IN ('queued', 'running') GROUP BY status", ()
            ),
            "per_day": explain(
                "SELECT DATE(created_at) AS day, status, COUNT(*) FROM jobs WHERE created_at >= %s GROUP BY day, status",
                (since,),
            ),
            "waits": explain(
                "SELECT created_at, started_at FROM jobs WHERE started_at >= %s", (now - timedelta(hours=1),)
            ),
            "failures": explain(
                "SELECT error_code, error_step, COUNT(*) FROM jobs WHERE status = 'failed' AND finished_at >= %s"
                " GROUP BY error_code, error_step",
                (since,),
            ),
        }
        from chalicelib.infra import queue

        month = now - timedelta(days=29)
        parts_no_plan = {
            "queue_depth_and_workers": lambda: (queue.depth(service.DUE_SOON_MS), queue.connected_workers()),
            "spend_per_day_30_days": lambda: queries.usage_per_day(month),
            "spend_top_customers_30_days": lambda: queries.top_customers(month, 10),
            "spend_credits_moved_30_days": lambda: queries.credits_moved(month),
        }
        spend_plans = {
            "spend_per_day_30_days": explain(
                "SELECT DATE(created_at) AS day, purpose, provider, plan, COUNT(*) FROM provider_usage"
                " WHERE created_at >= %s GROUP BY day, purpose, provider, plan",
                (month,),
            ),
            "spend_top_customers_30_days": explain(
                "SELECT user_id, COUNT(*), SUM(IF(account = 'platform', cost_micros, 0)) AS p, SUM(wall_ms)"
                " FROM provider_usage WHERE created_at >= %s GROUP BY user_id ORDER BY p DESC LIMIT 10",
                (month,),
            ),
        }
        report = {
            "jobs": args.jobs,
            "days": args.days,
            "seeded_s": round(seeded_s, 1),
            "overview_14_days": timed(lambda: service.overview(14), args.runs),
            "overview_90_days": timed(lambda: service.overview(90), args.runs),
            "spend_30_days": timed(lambda: service.spend(30), args.runs),
            "queries": {name: {**timed(fn, args.runs), "index": plans[name]} for name, fn in parts.items()}
            | {
                name: {
                    **timed(fn, args.runs),
                    **({"index": spend_plans[name]} if name in spend_plans else {}),
                }
                for name, fn in parts_no_plan.items()
            },
            "goal_ms": 200,
        }
        report["meets_goal"] = report["overview_14_days"]["p95_ms"] < 200
        print(json.dumps(report, indent=2))
    finally:
        database = get_settings().mysql_params()["database"]
        db.close()
        conn = db.connect(database=False)
        with conn.cursor() as cur:
            cur.execute(f"DROP DATABASE IF EXISTS `{database}`")
        conn.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
