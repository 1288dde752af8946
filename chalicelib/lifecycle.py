"""Job state changes shared by the worker, the reaper and the API, each with its event and
its quota consequence, so every path that ends a job does it the same way."""
from __future__ import annotations

from chalicelib import keys, observability, progress, queue, redis_client
from chalicelib.billing.plans import plan_named
from chalicelib.config import get_settings
from chalicelib.db import billing
from chalicelib.db import jobs as jobs_db
from chalicelib.models import EventType

# Failures caused by what the user sent or set up: their reservation is not given back.
USER_FAULT_CODES = frozenset({"invalid_input", "provider_key_rejected", "provider_key_missing",
                              "provider_url_blocked"})


MAX_PRIORITY = 2_097_152  # BullMQ's lowest precedence


def enqueue(job_id: str, user_id: str, plan_name: str) -> None:
    """Into the queue, fairly: the priority grows with the user's own backlog, so one user's
    burst of 100 jobs queues behind everyone else's next job instead of in front of it; the
    plan breaks ties (business, then pro, then free)."""
    plan = plan_named(plan_name)
    waiting_before = max(0, jobs_db.backlog(user_id) - 1)
    plans = len(get_settings().plan_table)
    queue.enqueue(job_id, priority=min(MAX_PRIORITY, plan.priority + plans * waiting_before))


def fail(job_id: str, code: str, message: str, step: str | None) -> bool:
    """queued|running -> failed. A system failure gives the quota reservation back."""
    if not jobs_db.fail(job_id, code, message, step):
        return False
    if code not in USER_FAULT_CODES:
        billing.refund(job_id)
    progress.emit(job_id, EventType.job_failed, step=step, message=f"{code}: {message}")
    observability.metric_job_finished("failed")
    return True


def retry_later(job_id: str, code: str, message: str, step: str | None) -> int | None:
    """running -> queued with attempt + 1, after a transient failure."""
    attempt = jobs_db.requeue(job_id, code, message, step)
    if attempt is not None:
        progress.emit(job_id, EventType.job_retrying, step=step,
                      message=f"attempt {attempt} after {code}")
    return attempt


CANCEL_FLAG_TTL_S = 24 * 3600


def cancel(job_id: str, user_id: str) -> bool:
    """Stop a job wherever it is: MySQL first (a queued job then never starts), then a Redis
    flag the worker holding it polls (it kills a running ffmpeg). Work not yet paid for by a
    finished video gives its quota back."""
    before = jobs_db.cancel(job_id, user_id)
    if before is None:
        return False
    redis_client.client().set(keys.job_cancel(job_id), 1, ex=CANCEL_FLAG_TTL_S)
    if before.get("video") != "succeeded":
        billing.refund(job_id)
    progress.emit(job_id, EventType.job_canceled, message="Canceled by the user")
    observability.metric_job_finished("canceled")
    return True


def cancel_requested(job_id: str) -> bool:
    return bool(redis_client.client().exists(keys.job_cancel(job_id)))
