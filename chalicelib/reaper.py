"""Reconciles MySQL (the source of truth) with the queue (Redis, which may lose data).

- queued in MySQL, unknown to the queue (Redis lost it, or the enqueue failed): enqueued again;
- running, with an expired lease and unknown to the queue (its worker and its queue entry are
  gone): enqueued again, and the next worker resumes it from its last finished step;
- given up by BullMQ (its workers kept dying): failed with `worker_lost`;
- running past the deadline: failed with `timeout` (its worker sees the lease go and stops).
"""
from __future__ import annotations

import logging
from datetime import timedelta

from chalicelib import lifecycle, queue
from chalicelib.config import get_settings
from chalicelib.db import jobs as jobs_db
from chalicelib.ids import utcnow

log = logging.getLogger(__name__)

JOB_DEADLINE = timedelta(minutes=30)


async def _states(job_ids: list[str]) -> dict[str, str]:
    q = await queue.get_queue()
    return {job_id: await q.getJobState(job_id) for job_id in job_ids}


def reconcile(now=None, grace: timedelta | None = None, limit: int = 500) -> dict[str, int]:
    """One bounded pass; returns counts of what it did. Jobs changed within `grace` (just
    enqueued, just renewed) are left alone."""
    now = now or utcnow()
    grace = grace if grace is not None else timedelta(seconds=get_settings().reaper_grace_s)
    rows = jobs_db.unfinished(now - grace, limit)
    states = queue.run(_states([r["id"] for r in rows]), timeout=60) if rows else {}
    counts = {"checked": len(rows), "requeued": 0, "timed_out": 0, "worker_lost": 0}
    for row in rows:
        job_id, state = row["id"], states.get(row["id"], "unknown")
        if row["status"] == "running" and row["started_at"] and now - row["started_at"] > JOB_DEADLINE:
            counts["timed_out"] += lifecycle.fail(job_id, "timeout", "The job ran past its deadline", None)
        elif state == "failed":
            counts["worker_lost"] += lifecycle.fail(job_id, "worker_lost",
                                                    "The job's worker stopped too many times", None)
        elif state in ("unknown", "completed") and (
                row["status"] == "queued" or not row["lease_until"] or row["lease_until"] < now):
            lifecycle.enqueue(job_id, row["user_id"], row["plan"])
            counts["requeued"] += 1
    log.info("reaper pass: %s", counts)
    return counts
