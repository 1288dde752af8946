"""Dollars per 1000 videos and the monthly floor, from counts measured by bench/capacity.py.

The formulas are here, once; docs/capacity.md explains them and prints a run of them. Prices are
AWS list prices for us-east-1, on-demand, no free tier, as written in PRICES (dated). Change the
ASSUMPTIONS to model another traffic shape; everything else comes from the measured counts.
"""

from __future__ import annotations

import math

PRICES_DATE = "2026-11-29 (AWS public list prices, us-east-1; re-check before quoting)"
PRICES = {
    # Lambda (x86_64): per GB-second and per request; API Gateway REST per request.
    "lambda_gb_s": 0.0000166667,
    "lambda_request": 0.20 / 1e6,
    "apigw_rest_request": 3.50 / 1e6,
    # Fargate Linux: per vCPU-hour and per GB-hour; x86_64 and ARM64 (Graviton); Spot ~ -70%.
    "fargate_vcpu_h": 0.04048,
    "fargate_gb_h": 0.004445,
    "fargate_arm_vcpu_h": 0.03238,
    "fargate_arm_gb_h": 0.00356,
    # ElastiCache Serverless (Redis OSS engine): data stored per GB-hour (1 GB minimum) and
    # per million ECPUs; the Valkey engine: 0.084 per GB-hour, 100 MB minimum, 0.0023 per M ECPU.
    "elasticache_gb_h": 0.125,
    "elasticache_min_gb": 1.0,
    "elasticache_m_ecpu": 0.0034,
    "valkey_gb_h": 0.084,
    "valkey_min_gb": 0.1,
    "valkey_m_ecpu": 0.0023,
    # Aurora Serverless v2 (Aurora Standard): per ACU-hour, per GB-month of storage, per M I/O.
    "aurora_acu_h": 0.12,
    "aurora_gb_month": 0.10,
    "aurora_m_io": 0.20,
    # S3 Standard: per GB-month, per 1000 PUT/COPY/POST/LIST, per 1000 GET.
    "s3_gb_month": 0.023,
    "s3_put_1k": 0.005,
    "s3_get_1k": 0.0004,
    # Egress to the internet: S3 direct (presigned URLs, today) or CloudFront (first 10 TB).
    "s3_egress_gb": 0.09,
    "cloudfront_egress_gb": 0.085,
    "cloudfront_10k_https": 0.01,
    # Always-on pieces.
    "nat_gateway_h": 0.045,
    "nat_gb": 0.045,
    "secret_month": 0.40,
    "kms_key_month": 1.00,
}
HOURS_PER_MONTH = 730
GB = 1024**3

ASSUMPTIONS = {
    # The deployed shape (template.yaml): worker task 1 vCPU / 2 GB, x86_64; API and functions
    # Lambda 512 MB; WORKER_CONCURRENCY 2; workers exit after 300 s idle.
    "task_vcpu": 1.0,
    "task_gb": 2.0,
    "api_lambda_gb": 0.5,
    "function_lambda_gb": 0.5,
    "api_ms_per_request": 60,  # a plain API request's Lambda duration (warm)
    "scheduled_function_s": 0.5,  # one reaper or dispatcher run
    "task_start_overhead_s": 45,  # Fargate bills from image pull; ~30-60 s before work
    "task_idle_tail_s": 300,  # WORKER_IDLE_EXIT_S
    "jobs_per_task_life": 20,  # jobs a task runs between start and idle exit (burst)
    "downloads_per_video": 1,  # each finished MP4 downloaded once
    "ecpu_per_command": 1,  # ElastiCache: ~1 ECPU per simple command (<= 1 KB)
    "aurora_io_per_write": 1,  # upper bound: one storage I/O per committed write
    "secrets": 4,
    "kms_keys": 1,  # template.yaml: JWT, Whop, DB master (+ app DB user)
}


def job_compute_s(run: dict) -> float:
    """Worker CPU seconds for one job, summed over its steps (ffmpeg and the voice included)."""
    return sum(step["cpu_s"] for step in run["steps"].values())


def task_seconds(run: dict, a: dict) -> float:
    """Billed task-seconds per job: CPU-bound work spread over the task's vCPUs, plus each job's
    share of the task's start and idle tail."""
    overhead = (a["task_start_overhead_s"] + a["task_idle_tail_s"]) / a["jobs_per_task_life"]
    return job_compute_s(run) / a["task_vcpu"] + overhead


def per_video(run: dict, a: dict = ASSUMPTIONS, p: dict = PRICES, follow: str = "sse") -> dict:
    """Dollars for one video of this measured run, by component."""
    worker, api = run["worker"], run["api"]
    # Workers: Fargate, billed per task-second for vCPU and memory.
    fargate_s = task_seconds(run, a)
    worker_usd = fargate_s / 3600 * (a["task_vcpu"] * p["fargate_vcpu_h"] + a["task_gb"] * p["fargate_gb_h"])
    # API: submit + following + one final GET; a long-poll or SSE request is held (and billed)
    # while it waits, so following costs the job's wall time in Lambda GB-seconds.
    job_wall_s = job_compute_s(run) / a["task_vcpu"]
    invocations = run["follow_invocations"][follow] + 2
    held_s = job_wall_s if follow in ("sse", "longpoll") else 0
    api_gb_s = a["api_lambda_gb"] * (held_s + invocations * a["api_ms_per_request"] / 1000)
    api_usd = api_gb_s * p["lambda_gb_s"] + invocations * (p["lambda_request"] + p["apigw_rest_request"])
    # Redis: every command the API and the worker ran, Lua's inner commands included.
    commands = sum(sum(c.values()) for c in run["redis_commands"].values())
    redis_usd = commands * a["ecpu_per_command"] * p["elasticache_m_ecpu"] / 1e6
    # Aurora: I/O of the writes (reads hit the buffer pool); ACU-time is in the floor.
    writes = sum(
        side["sql_rows"].get(verb, 0) for side in (worker, api) for verb in ("INSERT", "UPDATE", "DELETE")
    )
    aurora_usd = writes * a["aurora_io_per_write"] * p["aurora_m_io"] / 1e6
    # S3: requests by class, and storage of every artifact for the plan's retention.
    reqs = {**worker["aws_requests"]}
    for op, n in api["aws_requests"].items():
        reqs[op] = reqs.get(op, 0) + n
    put_class = sum(
        n
        for op, n in reqs.items()
        if op.split(".")[1]
        in (
            "PutObject",
            "CopyObject",
            "UploadPart",
            "CreateMultipartUpload",
            "CompleteMultipartUpload",
            "ListObjectsV2",
        )
    )
    get_class = sum(n for op, n in reqs.items() if op.split(".")[1] in ("GetObject", "HeadObject"))
    stored_gb = sum(run["artifacts_bytes"].values()) / GB
    s3_requests_usd = put_class * p["s3_put_1k"] / 1000 + get_class * p["s3_get_1k"] / 1000
    storage = {f"{days}d": stored_gb * p["s3_gb_month"] * days / 30 for days in (7, 30, 90)}
    # Egress: the MP4 downloaded by the customer.
    mp4_gb = run["artifacts_bytes"].get("output/video.mp4", 0) / GB
    egress = {
        "s3_presigned": mp4_gb * a["downloads_per_video"] * p["s3_egress_gb"],
        "cloudfront": mp4_gb * a["downloads_per_video"] * p["cloudfront_egress_gb"],
    }
    return {
        "worker_fargate": worker_usd,
        "api_lambda_apigw": api_usd,
        "redis": redis_usd,
        "aurora_io": aurora_usd,
        "s3_requests": s3_requests_usd,
        "s3_storage_by_retention": storage,
        "egress": egress,
        "inputs": {
            "worker_cpu_s": round(job_compute_s(run), 2),
            "billed_task_s": round(fargate_s, 1),
            "api_invocations": invocations,
            "redis_commands": commands,
            "sql_writes": writes,
            "s3_put_class": put_class,
            "s3_get_class": get_class,
            "stored_mb": round(stored_gb * 1024, 2),
            "mp4_mb": round(mp4_gb * 1024, 2),
        },
    }


def per_1000(run: dict, retention: str = "7d", egress: str = "s3_presigned", follow: str = "sse") -> dict:
    cost = per_video(run, follow=follow)
    lines = {k: v for k, v in cost.items() if isinstance(v, float)}
    lines["s3_storage"] = cost["s3_storage_by_retention"][retention]
    lines["egress"] = cost["egress"][egress]
    usd = {k: round(v * 1000, 4) for k, v in lines.items()}
    usd["total"] = round(sum(usd.values()), 2)
    return {
        "usd_per_1000": usd,
        "inputs": cost["inputs"],
        "basis": {"retention": retention, "egress": egress, "follow": follow},
    }


def monthly_floor(a: dict = ASSUMPTIONS, p: dict = PRICES) -> dict:
    """What the deployment costs with no traffic at all."""
    scheduled = 2 * 60 * HOURS_PER_MONTH + HOURS_PER_MONTH  # reaper + dispatcher each minute, cleanup hourly
    floor = {
        "nat_gateway": p["nat_gateway_h"] * HOURS_PER_MONTH,
        "elasticache_serverless_redis_min": p["elasticache_gb_h"] * p["elasticache_min_gb"] * HOURS_PER_MONTH,
        "aurora_min_0_5_acu": 0.5 * p["aurora_acu_h"] * HOURS_PER_MONTH,
        "aurora_storage_1gb": p["aurora_gb_month"],
        "secrets_manager": a["secrets"] * p["secret_month"],
        "kms": a["kms_keys"] * p["kms_key_month"],
        "scheduled_functions": scheduled
        * (p["lambda_request"] + a["function_lambda_gb"] * a["scheduled_function_s"] * p["lambda_gb_s"]),
    }
    floor = {k: round(v, 2) for k, v in floor.items()}
    floor["total"] = round(sum(floor.values()), 2)
    alternatives = {
        "elasticache_valkey_min": round(p["valkey_gb_h"] * p["valkey_min_gb"] * HOURS_PER_MONTH, 2),
        "aurora_auto_pause_0_acu": 0.0,
    }
    return {
        "usd_per_month": floor,
        "scales_to_zero": [
            "API (Lambda, API Gateway)",
            "workers (Fargate tasks exit when idle)",
            "S3 requests",
            "egress",
        ],
        "always_on": [k for k in floor if k != "total"],
        "cheaper_alternatives_usd_per_month": alternatives,
    }


FARGATE_MEMORY_GB = {0.5: (1, 4), 1: (2, 8), 2: (4, 16), 4: (8, 30)}  # valid (min, max) per vCPU
EFFICIENCY = {0.5: 1.0, 1: 1.0, 2: 0.9, 4: 0.75}


def task_sizes(run: dict, concurrency: int = 2, p: dict = PRICES) -> list[dict]:
    """Cost per video at each Fargate size, with the least memory that holds `concurrency` jobs.

    Memory: the measured peak of one job's tree (worker + ffmpeg + voice) per concurrent job,
    plus 25% headroom, rounded up to a valid Fargate size. Wall time on n vCPUs is modelled as
    cpu_s / n / efficiency(n), efficiency 1.0, 0.9, 0.75 for 1, 2, 4 vCPUs (x264 and the
    filtergraph use more than one core, not perfectly).
    """
    need_gb = run["worker_peak_rss_mb"] / 1024 * concurrency * 1.25
    cpu_s = job_compute_s(run)
    out = []
    for vcpu, (low, high) in FARGATE_MEMORY_GB.items():
        gb = max(low, math.ceil(need_gb))
        if gb > high:
            continue
        wall = cpu_s / vcpu / EFFICIENCY[vcpu]
        for arch, vp, gp in (
            ("x86_64", "fargate_vcpu_h", "fargate_gb_h"),
            ("arm64", "fargate_arm_vcpu_h", "fargate_arm_gb_h"),
        ):
            # Each of the `concurrency` jobs shares the task: the task-seconds per job are wall/c
            # at full CPU use, i.e. cpu_s / vcpu / efficiency, whatever c is.
            usd = wall / 3600 * (vcpu * p[vp] + gb * p[gp])
            out.append(
                {
                    "vcpu": vcpu,
                    "gb": gb,
                    "arch": arch,
                    "job_wall_s_alone": round(wall, 1),
                    "usd_per_1000": round(usd * 1000, 3),
                }
            )
    return sorted(out, key=lambda r: r["usd_per_1000"])


def estimate(measured: dict) -> dict:
    runs = {k: v for k, v in measured.items() if k.endswith("s") and "steps" in v}
    report: dict = {"prices": PRICES_DATE, "assumptions": ASSUMPTIONS, "per_length": {}}
    for name, run in runs.items():
        length_min = int(name[:-1]) / 60
        base = per_1000(run)
        compute_per_min = base["usd_per_1000"]["worker_fargate"] / 1000 / length_min
        report["per_length"][name] = {
            **base,
            "variants_total_usd_per_1000": {
                "follow_by_polling_2s": per_1000(run, follow="poll")["usd_per_1000"]["total"],
                "follow_by_longpoll": per_1000(run, follow="longpoll")["usd_per_1000"]["total"],
                "retention_30d": per_1000(run, retention="30d")["usd_per_1000"]["total"],
                "retention_90d": per_1000(run, retention="90d")["usd_per_1000"]["total"],
                "egress_cloudfront": per_1000(run, egress="cloudfront")["usd_per_1000"]["total"],
            },
            "compute_usd_per_rendered_minute": round(compute_per_min, 5),
            "vs_remotion_lambda": {
                "remotion_usd_per_minute": [0.017, 0.021],
                "ours_usd_per_minute": round(compute_per_min, 5),
                "ratio_remotion_over_ours": [
                    round(0.017 / compute_per_min, 1),
                    round(0.021 / compute_per_min, 1),
                ]
                if compute_per_min
                else None,
            },
            "task_sizes": task_sizes(run),
        }
    report["monthly_floor"] = monthly_floor()
    return report


if __name__ == "__main__":  # python bench/costmodel.py < capacity.json
    import json
    import sys

    print(json.dumps(estimate(json.load(sys.stdin)["measured"]), indent=2))
