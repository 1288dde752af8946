"""Job state changes shared by the worker, the reaper and the API, each with its event and
its quota consequence, so every path that ends a job does it the same way."""
from __future__ import annotations

from chalicelib import progress
from chalicelib.db import billing
from chalicelib.db import jobs as jobs_db
from chalicelib.models import EventType

# Failures caused by what the user sent or set up: their reservation is not given back.
USER_FAULT_CODES = frozenset({"invalid_input", "provider_key_rejected", "provider_key_missing"})


def fail(job_id: str, code: str, message: str, step: str | None) -> bool:
    """queued|running -> failed. A system failure gives the quota reservation back."""
    if not jobs_db.fail(job_id, code, message, step):
        return False
    if code not in USER_FAULT_CODES:
        billing.refund(job_id)
    progress.emit(job_id, EventType.job_failed, step=step, message=f"{code}: {message}")
    return True


def retry_later(job_id: str, code: str, message: str, step: str | None) -> int | None:
    """running -> queued with attempt + 1, after a transient failure."""
    attempt = jobs_db.requeue(job_id, code, message, step)
    if attempt is not None:
        progress.emit(job_id, EventType.job_retrying, step=step,
                      message=f"attempt {attempt} after {code}")
    return attempt
