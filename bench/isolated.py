"""What the benchmarks that run a real stack share: an environment nobody else uses (its own
database, bucket, queue and Redis db on the local services) and its removal afterwards."""

from __future__ import annotations

import json
import os
import secrets
import time

RUN = secrets.token_hex(3)  # this run's suffix: two runs at once never meet
TERMINAL = {"succeeded", "failed", "canceled"}


def environment(name: str, redis_db: int, plans: dict, **extra: str) -> dict[str, str]:
    """The variables of benchmark `name`'s own stack (Redis db `redis_db` is its alone)."""
    return {
        "STAGE": "local",
        "DATABASE_URL": f"mysql://root:@127.0.0.1:3306/media_{name}_{RUN}",
        "REDIS_URL": f"redis://127.0.0.1:6379/{redis_db}",
        "MEDIA_BUCKET": f"media-{name}-{RUN}",
        "QUEUE_NAME": f"media-{name}-{RUN}",
        "AWS_ENDPOINT_URL": os.environ.get("AWS_ENDPOINT_URL", "http://127.0.0.1:4566"),
        "AWS_ACCESS_KEY_ID": "test",
        "AWS_SECRET_ACCESS_KEY": "test",
        "AWS_REGION": "us-east-1",
        "RATE_LIMIT_AUTH": "100000/minute",
        "RATE_LIMIT_JOBS": "100000/minute",
        "PLANS": json.dumps(plans),
        "WORKER_CONCURRENCY": "1",
        **extra,
    }


def cleanup() -> None:
    """Drop what `environment` named (the settings in force): the Redis db, bucket, database."""
    import redis

    from chalicelib.core.settings import get_settings
    from chalicelib.infra import aws, db

    settings = get_settings()
    redis.Redis.from_url(settings.redis_url).flushdb()  # the benchmark's own db
    s3 = aws.client("s3")
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=settings.media_bucket):
        for obj in page.get("Contents", []):
            s3.delete_object(Bucket=settings.media_bucket, Key=obj["Key"])
    s3.delete_bucket(Bucket=settings.media_bucket)
    database = settings.mysql_params()["database"]
    db.close()
    conn = db.connect(database=False)
    with conn.cursor() as cur:
        cur.execute(f"DROP DATABASE IF EXISTS `{database}`")
    conn.close()


def wait_for_job(http, auth: dict, job_id: str, timeout_s: float) -> dict:
    """The job once it ended (or at `timeout_s`), followed by long-polls on its events."""
    deadline, after = time.monotonic() + timeout_s, ""
    while time.monotonic() < deadline:  # long-poll: answers as soon as the job moves
        body = http.get(
            f"/v1/jobs/{job_id}/events",
            headers=auth,
            params={"wait": 20, **({"after": after} if after else {})},
        ).json()
        after = body["next"] or after
        if body["status"] in TERMINAL:
            break
    return http.get(f"/v1/jobs/{job_id}", headers=auth).json()
