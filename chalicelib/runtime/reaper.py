"""Reconciles MySQL (the source of truth) with the queue (Redis, which may lose data).

- queued in MySQL, unknown to the queue (Redis lost it, or the enqueue failed): enqueued again;
- running, with an expired lease and unknown to the queue (its worker and its queue entry are
  gone): enqueued again, and the next worker resumes it from its last finished step;
- running in MySQL but given up by BullMQ (its workers kept dying): failed with `worker_lost`;
- queued in MySQL while BullMQ holds an earlier attempt's dead letter (a retry whose enqueue
  never reached Redis): the dead letter is replaced by a fresh entry;
- running past the deadline: failed with `timeout` (its worker sees the lease go and stops).

A running job whose worker is alive is left alone, whatever BullMQ thinks: a live MySQL lease,
or a heartbeat in Redis from the lease's owner (a worker cut off from MySQL cannot renew its
lease, but it is not dead; it regains the lease when MySQL is back). BullMQ gives up a job
whose lock lapsed while Redis was frozen, though its worker went on; only a job whose worker
really stopped is requeued or failed `worker_lost`.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from chalicelib.core.ids import utcnow
from chalicelib.core.settings import get_settings
from chalicelib.infra import queue, redis_client, redis_keys
from chalicelib.infra.queue import QueueState
from chalicelib.jobs import lifecycle
from chalicelib.jobs import repository as jobs_db
from chalicelib.jobs.states import JobStatus

log = logging.getLogger(__name__)

JOB_DEADLINE = timedelta(minutes=30)


def reconcile(now=None, grace: timedelta | None = None, limit: int = 500) -> dict[str, int]:
    """One bounded pass; returns counts of what it did. Jobs changed within `grace` (just
    enqueued, just renewed) are left alone."""
    now = now or utcnow()
    grace = grace if grace is not None else timedelta(seconds=get_settings().reaper_grace_s)
    rows = jobs_db.unfinished(now - grace, limit)
    states = queue.states([r.id for r in rows])
    alive = _heartbeats([r for r in rows if r.status is JobStatus.running])
    counts = {"checked": len(rows), "requeued": 0, "timed_out": 0, "worker_lost": 0, "alive": 0}
    for row in rows:
        job_id, state = row.id, states.get(row.id, QueueState.unknown)
        running = row.status is JobStatus.running
        worker_alive = running and (
            (row.lease_until is not None and row.lease_until >= now) or job_id in alive
        )
        if running and row.started_at and now - row.started_at > JOB_DEADLINE:
            counts["timed_out"] += lifecycle.fail(job_id, "timeout", "The job ran past its deadline", None)
        elif worker_alive:
            counts["alive"] += 1  # cut off or between renewals, not dead: it finishes the job
        elif state is QueueState.failed and running:
            counts["worker_lost"] += lifecycle.fail(
                job_id, "worker_lost", "The job's worker stopped too many times", None
            )
        elif state in (QueueState.unknown, QueueState.completed, QueueState.failed):
            # failed while MySQL says queued: an earlier attempt's dead letter (a retry or
            # redrive whose enqueue did not reach Redis) stands in the way; replace it.
            lifecycle.requeue_lost(job_id, row.user_id, row.plan, replace=state is QueueState.failed)
            counts["requeued"] += 1
    log.info("reaper pass: %s", counts)
    return counts


def _heartbeats(rows: list) -> set[str]:
    """The ids of running jobs whose lease owner says in Redis that it is alive."""
    if not rows:
        return set()
    pipe = redis_client.client().pipeline(transaction=False)  # one key per job: no cross-slot
    for row in rows:
        pipe.get(redis_keys.job_heartbeat(row.id))
    owners = pipe.execute()
    return {row.id for row, owner in zip(rows, owners, strict=True) if owner and owner == row.lease_owner}
