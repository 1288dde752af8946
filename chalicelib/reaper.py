"""Reconciles MySQL (the source of truth) with the queue (Redis, which may lose data).

A job MySQL calls queued or running that the queue doesn't hold is enqueued again; one BullMQ
gave up on (e.g. its worker died too often) fails with `worker_lost`; one running past its
deadline fails with `timeout`.
"""
from __future__ import annotations

import logging
from datetime import timedelta

from chalicelib import lifecycle, queue
from chalicelib.db import jobs as jobs_db
from chalicelib.ids import utcnow

log = logging.getLogger(__name__)

GRACE = timedelta(seconds=60)  # leave alone what changed within this (just enqueued, just ran)
JOB_DEADLINE = timedelta(minutes=30)


async def _states(job_ids: list[str]) -> dict[str, str]:
    q = await queue.get_queue()
    return {job_id: await q.getJobState(job_id) for job_id in job_ids}


def reconcile(now=None, limit: int = 500) -> dict[str, int]:
    """One bounded pass; returns counts of what it did."""
    now = now or utcnow()
    rows = jobs_db.unfinished(now - GRACE, limit)
    states = queue.run(_states([r["id"] for r in rows]), timeout=60) if rows else {}
    counts = {"checked": len(rows), "requeued": 0, "timed_out": 0, "worker_lost": 0}
    for row in rows:
        job_id, state = row["id"], states.get(row["id"], "unknown")
        if row["status"] == "running" and row["started_at"] and now - row["started_at"] > JOB_DEADLINE:
            counts["timed_out"] += lifecycle.fail(job_id, "timeout", "The job ran past its deadline", None)
        elif state == "failed":
            counts["worker_lost"] += lifecycle.fail(job_id, "worker_lost",
                                                    "The job's worker stopped too many times", None)
        elif state in ("unknown", "completed"):
            queue.enqueue(job_id)
            counts["requeued"] += 1
    log.info("reaper pass: %s", counts)
    return counts
