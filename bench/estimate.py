"""The platform AI's estimate against what jobs really cost, and what the reservation adds to a
submission (issue 25).

    python bench/estimate.py [--submissions 50] [--quick]
    python bench/estimate.py --per-1000      # only the provider spend table (no services)

1. Accuracy. The platform's OpenAI and ElevenLabs accounts are the local fake servers
   (tests/fakes/) behind Secrets Manager secrets of this run, as the operator would configure them
   (PLATFORM_PROVIDERS, PLATFORM_SECRET_PREFIX). A real API (`chalice local`) and one real worker
   run a spread of requests (prompt jobs of 5/15/30/60 s, 9:16 and 16:9, a script job; free, pro
   and business plans: ten jobs, ~2 minutes on a loaded 2-core machine). For each:
   `POST /v1/jobs/estimate`, the job's `cost.estimate_micros` (what was reserved), and once it
   ended `cost.platform_micros` (what the platform's calls cost) and `cost.charged_micros` (what
   was settled). Per request and overall: is the estimate never below
   the settled cost, the ratio estimate / settled, and the share within 15%; per purpose (concept,
   image, narration) the same ratio, from the steps' usage records.
2. Submission latency: `POST /v1/jobs` p50/p95 for a pro user, alternating between an API with
   the platform configured (the estimate and its credits reservation in the submission's
   transaction) and one without it (PLATFORM_PROVIDERS empty: today's path). Neither API's queue
   has a worker, so nothing renders.

The fake answers like a terse model (its concept is ~15 tokens a scene, a real one ~60-80), so
the concept's ratio here is higher than against OpenAI. Needs the bring-up (`make bench
NAME=estimate` does it). Uses its own database, bucket, queues, secret and Redis db 11, and
removes them at the end. Prints one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[0] = str(ROOT)  # bench/queue.py would shadow the stdlib `queue`

from bench import isolated  # noqa: E402

RUN = isolated.RUN

REDIS_DB = 11
PREFIX = f"bench-{RUN}/platform/"
BIG = 10**12  # credits no run exhausts: the estimate, not the balance, is measured
ENV = isolated.environment(
    "estimate",
    REDIS_DB,
    {
        name: {"monthly_jobs": 10_000, "max_duration_s": 60, "monthly_credits_micros": BIG}
        for name in ("free", "pro", "business")
    },
    PLATFORM_PROVIDERS='["openai", "elevenlabs"]',
    PLATFORM_SECRET_PREFIX=PREFIX,
)
PROMPT = "Why lighthouses still matter"
SCRIPT = (
    "Lighthouses guided sailors for centuries. Their lamps turned through the night. "
    "Today most run by themselves. Yet ships still look for them when the radio fails."
)
# (plan, body): every duration on pro, both aspects, and a script job on each plan.
SPREAD = [
    ("pro", {"prompt": PROMPT, "duration_s": 5, "aspect": "9:16"}),
    ("pro", {"prompt": PROMPT, "duration_s": 15, "aspect": "9:16"}),
    ("pro", {"prompt": PROMPT, "duration_s": 30, "aspect": "16:9"}),
    ("pro", {"prompt": PROMPT, "duration_s": 60, "aspect": "9:16"}),
    ("pro", {"script": SCRIPT, "aspect": "16:9"}),
    ("free", {"prompt": PROMPT, "duration_s": 15, "aspect": "9:16"}),
    ("free", {"script": SCRIPT, "aspect": "9:16"}),
    ("business", {"prompt": PROMPT, "duration_s": 15, "aspect": "16:9"}),
    ("business", {"prompt": PROMPT, "duration_s": 30, "aspect": "9:16"}),
    ("business", {"script": SCRIPT, "aspect": "9:16"}),
]
QUICK = [0, 2, 5, 7, 9]  # --quick: one job of each kind on each plan


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _grant(user_id: str, plan: str) -> None:
    """The user is on `plan` (a comp, as the operator's `ops grant-plan` gives one)."""
    from chalicelib.billing import comps

    if plan != "free":
        comps.grant(user_id, plan, days=30)


def _signup(http, plan: str) -> dict[str, str]:
    reply = http.post(
        "/v1/auth/signup",
        json={
            "email": f"estimate-{plan}-{secrets.token_hex(4)}@example.com",
            "password": "estimate bench pw",
        },
    ).json()
    _grant(reply["user"]["id"], plan)
    return {"Authorization": f"Bearer {reply['access_token']}"}


def _ratio(estimate: int, settled: int) -> float | None:
    return round(estimate / settled, 3) if settled else None


def _by_purpose(job: dict) -> dict[str, int]:
    spent: dict[str, int] = {}
    for step in job["steps"]:
        for usage in step.get("usage") or []:
            if usage.get("account") == "platform":
                spent[usage["purpose"]] = spent.get(usage["purpose"], 0) + usage.get("cost_micros", 0)
    return spent


def accuracy(base: str, fakes: tuple, spread: list[tuple[str, dict]]) -> dict:
    import httpx

    rows = []
    with httpx.Client(base_url=base, timeout=60) as http:
        users = {plan: _signup(http, plan) for plan in {plan for plan, _ in spread}}
        for plan, body in spread:
            auth = users[plan]
            estimate = http.post("/v1/jobs/estimate", headers=auth, json=body).json()
            before = sum(len(f.requests) for f in fakes)
            t0 = time.monotonic()
            submitted = http.post("/v1/jobs", headers=auth, json=body)
            if submitted.status_code != 202:
                raise RuntimeError(f"submission refused: {submitted.status_code} {submitted.text[:300]}")
            job = isolated.wait_for_job(http, auth, submitted.json()["id"], timeout_s=240)
            cost = job["cost"]
            steps = {s["purpose"]: s for s in estimate["steps"]}
            spent = _by_purpose(job)
            settled = cost["charged_micros"]
            rows.append(
                {
                    "plan": plan,
                    "request": {k: v for k, v in body.items() if k != "script"}
                    | ({"script_chars": len(body["script"])} if "script" in body else {}),
                    "status": job["status"],
                    "wall_s": round(time.monotonic() - t0, 1),
                    "provider_calls": sum(len(f.requests) for f in fakes) - before,
                    "estimate_micros": estimate["credits_micros"],
                    "reserved_micros": cost["estimate_micros"],
                    "platform_spent_micros": cost["platform_micros"],
                    "settled_micros": settled,
                    "never_below": estimate["credits_micros"] >= max(settled, cost["platform_micros"]),
                    "ratio": _ratio(estimate["credits_micros"], settled),
                    "within_15pct": bool(settled) and estimate["credits_micros"] <= settled * 1.15,
                    "by_purpose": {
                        purpose: {
                            "account": s["account"],
                            "model": s["model"],
                            "estimate_micros": s["cost_micros"],
                            "spent_micros": spent.get(purpose, 0),
                            "ratio": _ratio(s["cost_micros"], spent.get(purpose, 0)),
                        }
                        for purpose, s in steps.items()
                    },
                    "notes": job.get("notes") or [],
                }
            )
    charged = [r for r in rows if r["settled_micros"]]
    ratios = [r["ratio"] for r in charged]
    purposes: dict[str, list[float]] = {}
    for r in rows:
        for purpose, p in r["by_purpose"].items():
            if p["ratio"] is not None:
                purposes.setdefault(purpose, []).append(p["ratio"])
    return {
        "requests": rows,
        "overall": {
            "jobs": len(rows),
            "succeeded": sum(r["status"] == "succeeded" for r in rows),
            "never_below": all(r["never_below"] for r in rows),
            "reserved_equals_estimate": all(r["reserved_micros"] == r["estimate_micros"] for r in rows),
            "ratio_min": min(ratios, default=None),
            "ratio_median": round(statistics.median(ratios), 3) if ratios else None,
            "ratio_max": max(ratios, default=None),
            "share_within_15pct": round(sum(r["within_15pct"] for r in charged) / len(charged), 3)
            if charged
            else None,
            "share_within_15pct_by_plan": {
                plan: round(
                    sum(r["within_15pct"] for r in charged if r["plan"] == plan)
                    / max(1, sum(r["plan"] == plan for r in charged)),
                    3,
                )
                for plan in dict.fromkeys(r["plan"] for r in rows)
            },
            "ratio_by_purpose": {
                purpose: {"min": min(v), "median": round(statistics.median(v), 3), "max": max(v)}
                for purpose, v in purposes.items()
            },
            "estimate_micros_total": sum(r["estimate_micros"] for r in rows),
            "settled_micros_total": sum(r["settled_micros"] for r in rows),
        },
    }


def latency(bases: dict[str, str], submissions: int) -> dict:
    """POST /v1/jobs for one pro user, alternating between the APIs (a loaded machine skews both
    alike); each accepted job is canceled at once, so its reservation goes back."""
    import httpx

    times: dict[str, list[float]] = {name: [] for name in bases}
    statuses: dict[str, dict[int, int]] = {name: {} for name in bases}
    clients = {name: httpx.Client(base_url=url, timeout=60) for name, url in bases.items()}
    try:
        auth = _signup(next(iter(clients.values())), "pro")
        body = {"prompt": PROMPT, "duration_s": 15}
        for client in clients.values():  # warm: connections, imports, first queries
            client.post("/v1/jobs/estimate", headers=auth, json=body)
        for i in range(submissions + 2):
            for name, client in clients.items():
                t0 = time.perf_counter()
                reply = client.post("/v1/jobs", headers=auth, json=body)
                took = time.perf_counter() - t0
                if i >= 2:  # the first two of each are warm-up
                    times[name].append(took)
                    statuses[name][reply.status_code] = statuses[name].get(reply.status_code, 0) + 1
                if reply.status_code == 202:
                    client.post(f"/v1/jobs/{reply.json()['id']}/cancel", headers=auth)
    finally:
        for client in clients.values():
            client.close()

    def ms(values: list[float], q: float) -> float:
        ordered = sorted(values)
        return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000, 1)

    return {
        name: {
            "submissions": len(values),
            "status": statuses[name],
            "p50_ms": ms(values, 0.5),
            "p95_ms": ms(values, 0.95),
            "mean_ms": round(statistics.fmean(values) * 1000, 1),
        }
        for name, values in times.items()
    }


def measure(args, work: Path) -> dict:
    from chalicelib.core.settings import get_settings
    from chalicelib.infra import aws
    from chalicelib.infra.migrate import migrate
    from chalicelib.runtime import launcher
    from tests.fakes.elevenlabs_server import FakeElevenLabs
    from tests.fakes.openai_server import FakeOpenAI

    migrate()
    aws.client("s3").create_bucket(Bucket=get_settings().media_bucket)
    key = f"sk-platform-{secrets.token_hex(8)}"
    sm = aws.client("secretsmanager")
    procs = []
    with FakeOpenAI(api_key=key) as fake, FakeElevenLabs(api_key=key) as voices:
        for name, server in (("openai", fake), ("elevenlabs", voices)):
            sm.create_secret(
                Name=f"{PREFIX}{name}", SecretString=json.dumps({"api_key": key, "base_url": server.base_url})
            )
        try:
            ports = {name: _free_port() for name in ("accuracy", "platform", "no_platform")}
            idle = {"QUEUE_NAME": f"{ENV['QUEUE_NAME']}-idle"}  # no worker takes these
            for name, env in (
                ("accuracy", {}),
                ("platform", idle),
                ("no_platform", {**idle, "PLATFORM_PROVIDERS": "[]"}),
            ):
                procs.append(launcher.spawn(launcher.api_command(ports[name]), work / f"api-{name}.log", env))
            procs.append(launcher.spawn(launcher.worker_command(), work / "worker.log", {}))
            bases = {name: f"http://127.0.0.1:{port}" for name, port in ports.items()}
            for base in bases.values():
                launcher.wait_http(f"{base}/v1/health", timeout=90)
            spread = [SPREAD[i] for i in QUICK] if args.quick else SPREAD
            t0 = time.monotonic()
            measured = {"accuracy": accuracy(bases["accuracy"], (fake, voices), spread)}
            measured["accuracy"]["wall_s"] = round(time.monotonic() - t0, 1)
            t0 = time.monotonic()
            measured["submission_latency"] = latency(
                {"with_reservation": bases["platform"], "without_platform_ai": bases["no_platform"]},
                args.submissions,
            )
            measured["submission_latency"]["wall_s"] = round(time.monotonic() - t0, 1)
            return measured
        finally:
            for proc in reversed(procs):
                launcher.stop(proc.pid)
            for name in ("openai", "elevenlabs"):
                sm.delete_secret(SecretId=f"{PREFIX}{name}", ForceDeleteWithoutRecovery=True)


def per_1000(lengths: tuple[int, ...] = (15, 30, 60), aspect: str = "9:16") -> dict:
    """Provider spend per 1000 prompt videos per plan, in dollars: each purpose's upper bound
    (what a job reserves: billing.estimate on the plan's tiers and the dated price table), which
    the accuracy run above finds within a few percent of the settled cost once images are in."""
    from chalicelib.billing import estimate as bounds
    from chalicelib.billing import prices
    from chalicelib.billing.plans import plan_table
    from chalicelib.pipeline.concept.storyboard import scene_durations
    from chalicelib.pipeline.providers import Choice

    found: dict = {"prices_as_of": prices.PRICES_AS_OF, "aspect": aspect}
    for name, plan in plan_table().items():
        rows = {}
        for length in lengths:
            if length > plan.max_duration_s:
                continue
            durations = scene_durations(length)
            request = {"prompt": PROMPT, "duration_s": length, "aspect": aspect}
            row = {}
            for purpose, tier in plan.ai.items():
                cost = bounds.bound(
                    purpose,
                    Choice(tier.provider, "platform", model=tier.model, quality=tier.quality),
                    request=request,
                    scenes=len(durations),
                    narration_chars=sum(map(bounds.narration_cap, durations)),
                    seconds=float(length),
                )
                row[purpose] = round((cost or 0) * 1000 / prices.MICROS, 2)
            extra = row.pop("video", None)  # AI motion: only for the jobs that ask for it
            row["total"] = round(sum(row.values()), 2)
            if extra is not None:
                row["with_motion_ai"] = round(row["total"] + extra, 2)
            rows[f"{length}s"] = row
        found[name] = {"monthly_credits_usd": plan.monthly_credits_micros / prices.MICROS, **rows}
    return found


def _load() -> str:
    return subprocess.run(["uptime"], capture_output=True, text=True, check=False).stdout.strip()  # noqa: S607


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--submissions", type=int, default=50, help="per side, for the latency")
    parser.add_argument("--quick", action="store_true", help="five jobs instead of the whole spread")
    parser.add_argument("--per-1000", action="store_true", help="only the spend table (no services)")
    args = parser.parse_args()
    if args.per_1000:
        print(json.dumps(per_1000(), indent=2))
        return
    work = Path(tempfile.mkdtemp(prefix=f"media-estimate-{RUN}-"))
    os.environ.update(ENV, WORK_DIR=str(work))
    machine = {"cpus": os.cpu_count(), "uptime_before": _load()}
    started = time.monotonic()
    try:
        measured = measure(args, work)
    except BaseException:
        for log in sorted(work.glob("*.log")):
            print(f"--- {log.name}\n{log.read_text()[-3000:]}", file=sys.stderr)
        raise
    finally:
        isolated.cleanup()
        shutil.rmtree(work, ignore_errors=True)
    machine |= {"uptime_after": _load(), "wall_s": round(time.monotonic() - started, 1)}
    report = {"measured": measured, "provider_spend_per_1000": per_1000(), "machine": machine}
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
