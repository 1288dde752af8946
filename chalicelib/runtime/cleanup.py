"""Scheduled housekeeping: what retention says may go, goes.

  * jobs past their plan's retention: all their media (`jobs/{id}/`) is deleted and the job
    becomes `expired` (outputs null), so the API says so instead of handing out dead URLs;
  * uploads still pending long after their form expired: their objects are deleted and the row
    becomes `expired` (kept, not deleted: GET keeps answering, and a job naming it gets a clear
    422 instead of "no such upload");
  * progress streams of jobs finished over a day ago (clients follow running jobs; the rows keep
    the state);
  * audit log entries past the audit retention;
  * email links (verification, password reset) expired over a day ago.

Each category does at most `limit` items per run, oldest first, and marks what it handled in
MySQL, so the next run continues where this one stopped and a run with nothing due does nothing.
Deletion comes before marking: a run that dies half way leaves the item to the next one.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta

from chalicelib.accounts import account_tokens
from chalicelib.billing.plans import plan_table
from chalicelib.core.ids import utcnow
from chalicelib.core.settings import get_settings
from chalicelib.infra import audit, redis_keys, storage
from chalicelib.infra.redis_client import client as redis
from chalicelib.jobs import lifecycle
from chalicelib.jobs import repository as jobs_db
from chalicelib.uploads import repository as uploads_db
from chalicelib.uploads import service as uploads
from chalicelib.uploads.states import UploadStatus

log = logging.getLogger(__name__)

FINISHED_STREAM_AGE = timedelta(days=1)
EXPIRED_LINK_AGE = timedelta(days=1)  # kept a day: "expired" is a clearer answer than "unknown"


def expire_jobs(now: datetime, limit: int) -> dict[str, int]:
    table = plan_table()
    job_ids = jobs_db.past_retention(
        now, {name: plan.retention_days for name, plan in table.items()}, table["free"].retention_days, limit
    )
    counts = {"jobs_expired": 0, "job_objects_deleted": 0}
    for job_id in job_ids:
        counts["job_objects_deleted"] += storage.delete_prefix(storage.job_prefix(job_id))
        counts["jobs_expired"] += lifecycle.expire(job_id)
    return counts


def expire_pending_uploads(now: datetime, limit: int) -> dict[str, int]:
    max_age = timedelta(seconds=get_settings().pending_upload_max_age_s)
    counts = {"uploads_expired": 0, "upload_objects_deleted": 0}
    for row in uploads_db.stale_pending(now - max_age, limit):
        prefix = uploads.prefix_for(row.user_id, row.id)
        counts["upload_objects_deleted"] += storage.delete_prefix(prefix)
        counts["uploads_expired"] += uploads_db.settle(row.id, UploadStatus.expired, "never uploaded")
    return counts


def drop_finished_streams(now: datetime, limit: int) -> dict[str, int]:
    job_ids = jobs_db.streams_to_clear(now - FINISHED_STREAM_AGE, limit)
    # One DEL per stream, pipelined: the streams of different jobs hash to different slots, and a
    # cluster-mode Redis (ElastiCache Serverless) refuses one DEL across slots (CROSSSLOT).
    pipe = redis().pipeline(transaction=False)
    for job_id in job_ids:
        pipe.delete(redis_keys.job_events(job_id))
    deleted = sum(pipe.execute()) if job_ids else 0
    jobs_db.streams_cleared(job_ids, now)
    return {"streams_deleted": int(deleted)}


def delete_old_audit(now: datetime, limit: int) -> dict[str, int]:
    cutoff = now - timedelta(days=get_settings().audit_retention_days)
    return {"audit_deleted": audit.delete_before(cutoff, limit)}


def delete_expired_links(now: datetime, limit: int) -> dict[str, int]:
    return {"links_deleted": account_tokens.delete_expired(now - EXPIRED_LINK_AGE, limit)}


CATEGORIES: tuple[Callable[[datetime, int], dict[str, int]], ...] = (
    expire_jobs,
    expire_pending_uploads,
    drop_finished_streams,
    delete_old_audit,
    delete_expired_links,
)


def run(now: datetime | None = None, limit: int = 500) -> dict[str, int]:
    """One bounded pass over every category; returns counts of what it removed.

    A failing category doesn't stop the others; the run then raises, so the scheduler records
    a failed invocation (and alarms) after the rest did their work.
    """
    now = now or utcnow()
    counts: dict[str, int] = {}
    failed = []
    for category in CATEGORIES:
        try:
            counts.update(category(now, limit))
        except Exception:
            log.exception("cleanup of %s failed", category.__name__)
            failed.append(category.__name__)
    log.info("cleanup pass: %s", counts)
    if failed:
        raise RuntimeError(f"cleanup failed for {', '.join(failed)} (counts so far: {counts})")
    return counts
