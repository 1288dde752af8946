"""The one writer of job and step state: every transition of a job's life is a function here.

    queued (submit) -> running (start) -> step started / progress / step finished
    -> succeeded | failed | canceled, or back to queued (retry_later: a transient failure;
    reopen: the user's retry or an operator's redrive), and finished -> expired (cleanup).

Each transition is ONE MySQL transaction together with its quota effect (a reservation on
submit and reopen, a refund on a system failure or a cancel), so a job's state and the money it
holds can't disagree. Its consequences in Redis come after the commit: the event on the job's
stream and the fan-out to the owner's webhooks, the queue entry, the cancel flag. Each is
retried briefly and, if Redis stays away, left to be reconciled: the reaper re-enqueues what
MySQL says is queued, a worker notices a cancel through its lease, and clients read the state
from MySQL. Nothing after the commit can lose money or leave a job stuck. A transition whose transaction
deadlocked runs again whole (db.retries_conflicts): its side effects come after the commit only.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any, TypeVar

from chalicelib.billing import credits, quota
from chalicelib.billing.plans import plan_named, plan_table
from chalicelib.core import observability
from chalicelib.http.schemas.jobs import Event
from chalicelib.infra import db, queue, redis_client, redis_keys
from chalicelib.jobs import progress, transitions
from chalicelib.jobs import repository as jobs_db
from chalicelib.jobs.states import Claim, EventType, JobStatus, StepStatus
from chalicelib.webhooks import service as outgoing_webhooks

log = logging.getLogger(__name__)
T = TypeVar("T")

CANCEL_FLAG_TTL_S = 24 * 3600
AFTER_COMMIT_ATTEMPTS = 3
AFTER_COMMIT_BACKOFF_S = 0.05


# ---- after the commit ---------------------------------------------------------------------
def _after_commit(
    action: Callable[[], T], what: str, job_id: str, attempts: int = AFTER_COMMIT_ATTEMPTS
) -> T | None:
    """Run a Redis side effect of a committed transition, retried briefly; None if it never
    went through (the state in MySQL stands, and the reaper or the lease reconciles)."""
    for attempt in range(1, attempts + 1):
        try:
            return action()
        except Exception:
            if attempt == attempts:
                log.warning(
                    "%s did not go through; MySQL holds the state and it is reconciled",
                    what,
                    extra={"job_id": job_id},
                    exc_info=True,
                )
                return None
            time.sleep(AFTER_COMMIT_BACKOFF_S * 4 ** (attempt - 1))
    return None


def _publish_and_fan_out(
    job_id: str,
    type_: EventType,
    *,
    step: str | None = None,
    progress_: int | None = None,
    message: str | None = None,
) -> None:
    """The event onto the job's stream, then to the job owner's webhook endpoints."""
    event: Event | None = _after_commit(
        lambda: progress.emit(job_id, type_, step=step, progress=progress_, message=message),
        f"{type_.value} event",
        job_id,
    )
    if event is not None:
        _after_commit(lambda: _fan_out(job_id, event), "webhook fan-out", job_id)


def _fan_out(job_id: str, event: Event) -> int:
    """The event to the owner's webhook endpoints (webhooks.service picks which want it)."""
    if event.type is EventType.step_progress:  # too many for webhooks
        return 0
    job = jobs_db.get(job_id, None)
    if job is None:
        return 0
    return outgoing_webhooks.fan_out(job_id, job.user_id, job.request.get("webhook_url"), event)


# ---- into the queue -----------------------------------------------------------------------
def fair_priority(plan_priority: int, plans: int, waiting_before: int) -> int:
    """The priority grows with the user's own backlog, so one user's burst of 100 jobs queues
    behind everyone else's next job instead of in front of it; the plan breaks ties (business,
    then pro, then free). Lower runs first."""
    return min(queue.MAX_PRIORITY, plan_priority + plans * max(0, waiting_before))


def enqueue(job_id: str, user_id: str, plan_name: str) -> None:
    """Into the queue, fairly (see fair_priority). Raises when Redis is away."""
    waiting_before = jobs_db.backlog(user_id) - 1
    queue.enqueue(
        job_id, priority=fair_priority(plan_named(plan_name).priority, len(plan_table()), waiting_before)
    )


def _enqueue_after_commit(job_id: str, user_id: str, plan_name: str, replace: bool) -> None:
    def put() -> None:
        if replace:  # an earlier attempt may sit in the failed set under the same id
            queue.discard(job_id)
        enqueue(job_id, user_id, plan_name)

    _after_commit(put, "enqueue", job_id)


def _refund(cur, job_id: str) -> None:
    """Give the job's quota reservation back, once (inside the transition's transaction)."""
    held = transitions.release_reservation(cur, job_id)
    if held is not None:
        quota.give_back(cur, *held)


def _settle_credits(cur, job_id: str, charge: bool) -> None:
    """The job stops: charge its platform spend not charged yet (`charge`: it is the user's;
    never more than the job holds) and release the rest of its credits (see billing.credits)."""
    found = transitions.credits_of(cur, job_id)
    if found is None:
        return
    user_id, held, uncharged = found
    amount = min(held, uncharged) if charge else 0
    if held or amount:
        credits.settle(cur, user_id, held, amount)
        transitions.credits_settled(cur, job_id, amount)


# ---- the API side -------------------------------------------------------------------------
@db.retries_conflicts
def submit(job: dict[str, Any], period: quota.Period) -> None:
    """-> queued: one job of the period's quota, the row and its pending steps, atomically;
    then its event and its queue entry. `estimate_micros` of credits are held for its platform
    AI. Raises QuotaFull, CreditsExhausted or DuplicateIdempotencyKey (the caller made sure the
    period's credit account exists: billing.credits.ensure)."""
    quota.period_usage(job["user_id"], period.start, period.end)  # the period's counter exists
    with db.transaction() as cur:
        quota.reserve(cur, job["user_id"], period.start, period.limit)
        transitions.insert(cur, job, period.start)
        if need := job.get("estimate_micros", 0):
            credits.reserve(cur, job["user_id"], need)
            transitions.hold_credits(cur, job["id"], need, estimate=need)
    observability.metric_job_submitted()
    _publish_and_fan_out(job["id"], EventType.job_queued, progress_=0, message="Job accepted")
    _enqueue_after_commit(job["id"], job["user_id"], job["plan"], replace=False)


@db.retries_conflicts
def cancel(job_id: str, user_id: str) -> bool:
    """queued|running -> canceled, and the quota back unless a finished video was already paid
    for, in one transaction. Then a flag the worker holding the job polls (it kills a running
    ffmpeg; without the flag it sees the cancel through its lease within seconds), the queue
    entry goes, and the event. False when the job is not the user's or already ended."""
    with db.transaction() as cur:
        row = transitions.lock(cur, job_id, user_id)
        if row is None or row.status not in (JobStatus.queued, JobStatus.running):
            return False
        before = transitions.cancel(cur, job_id)
        if before.get("video") != StepStatus.succeeded:
            _refund(cur, job_id)
        _settle_credits(cur, job_id, charge=True)  # what was spent before the cancel
    observability.metric_job_finished(JobStatus.canceled)
    attempt = row.attempt
    _after_commit(
        lambda: redis_client.client().set(redis_keys.job_cancel(job_id), attempt, ex=CANCEL_FLAG_TTL_S),
        "cancel flag",
        job_id,
    )
    _after_commit(lambda: queue.discard(job_id), "queue removal", job_id)
    _publish_and_fan_out(job_id, EventType.job_canceled, message="Canceled by the user")
    return True


@db.retries_conflicts
def reopen(job_id: str, user_id: str, period: quota.Period | None, reason: str) -> bool:
    """failed|canceled -> queued with attempt + 1, keeping its finished steps: the user's retry
    (`period`: a job whose reservation was given back takes one again, or QuotaFull; its credits
    again, or CreditsExhausted) and the operator's redrive (`period=None`: not charged again,
    credits held as far as they go). False when not reopenable."""
    if period is not None:
        quota.period_usage(user_id, period.start, period.end)
    with db.transaction() as cur:
        row = transitions.lock(cur, job_id, user_id)
        if row is None or row.status not in (JobStatus.failed, JobStatus.canceled):
            return False
        if period is not None and transitions.needs_reservation(cur, job_id):
            quota.reserve(cur, user_id, period.start, period.limit)
            transitions.mark_reserved(cur, job_id, period.start)
        need = max(0, row.estimate_micros - row.cost_micros)  # what it may still be charged
        if need:
            if period is not None:
                credits.reserve(cur, user_id, need)
                held = need
            else:  # an operator's redrive never fails for credits: what does not fit goes offline
                held = credits.reserve_up_to(cur, user_id, need)
            transitions.hold_credits(cur, job_id, held)
        transitions.reopen(cur, job_id)
    _publish_and_fan_out(
        job_id, EventType.job_retrying, progress_=row.progress, message=f"attempt {row.attempt + 1} {reason}"
    )
    _enqueue_after_commit(job_id, user_id, row.plan, replace=True)
    return True


def redrive(job_id: str, user_id: str) -> bool:
    """The operator's redrive (`ops redrive`, the console's dead letter): reopen from the failed
    step, not charged again. False when its state changed meanwhile."""
    return reopen(job_id, user_id, None, "redriven by an operator")


# ---- the worker side ----------------------------------------------------------------------
@db.retries_conflicts
def start(job_id: str, user_id: str, max_running: int, owner: str, lease_s: int) -> Claim:
    """queued (or running with a dead worker) -> running under the lease `owner` (Claim)."""
    with db.transaction() as cur:
        outcome = transitions.start(cur, job_id, user_id, max_running, owner, lease_s)
        row = transitions.lock(cur, job_id, None) if outcome is Claim.started else None
    if row is not None:
        _publish_and_fan_out(
            job_id, EventType.job_started, progress_=row.progress, message=f"attempt {row.attempt}"
        )
    return outcome


@db.retries_conflicts
def renew_lease(job_id: str, owner: str, lease_s: int) -> bool:
    """False when the job is no longer ours (canceled, failed, timed out, taken over)."""
    with db.transaction() as cur:
        return transitions.renew(cur, job_id, owner, lease_s)


def cancel_requested(job_id: str, attempt: int) -> bool:
    """The fast path of a cancel: the flag set for this attempt (a flag left from an earlier
    attempt, before a retry, does not count)."""
    flag = redis_client.client().get(redis_keys.job_cancel(job_id))
    return flag is not None and int(flag) >= attempt


@db.retries_conflicts
def step_started(job_id: str, step: str, owner: str, job_progress: int) -> bool:
    with db.transaction() as cur:
        if not transitions.step_started(cur, job_id, step, owner):
            return False
    _publish_and_fan_out(job_id, EventType.step_started, step=step, progress_=job_progress)
    return True


@db.retries_conflicts
def report_progress(
    job_id: str, step: str, step_progress: int, job_progress: int, owner: str, message: str | None = None
) -> bool:
    """Progress forward only; an event for followers (not for webhooks: too many), with the
    step's own words if it has some (e.g. "image 2 of 5"). False when the job is no longer ours."""
    with db.transaction() as cur:
        if not transitions.progress(cur, job_id, step, step_progress, job_progress, owner):
            return False
    _after_commit(
        lambda: progress.emit(
            job_id,
            EventType.step_progress,
            step=step,
            progress=job_progress,
            message=message,
            step_progress=step_progress,
        ),
        "progress event",
        job_id,
        attempts=1,
    )  # the next one supersedes it
    return True


def step_message(job_id: str, step: str, message: str, job_progress: int) -> None:
    """A running step's own words for followers (e.g. a command pipeline's progress lines):
    an event, no state change."""
    _after_commit(
        lambda: progress.emit(
            job_id, EventType.step_progress, step=step, progress=job_progress, message=message
        ),
        "progress event",
        job_id,
        attempts=1,
    )


@db.retries_conflicts
def add_note(job_id: str, note: str) -> None:
    with db.transaction() as cur:
        transitions.add_note(cur, job_id, note)


@db.retries_conflicts
def step_succeeded(
    job_id: str,
    step: str,
    owner: str,
    *,
    artifacts: list[str],
    provider: str | None,
    usage: list | None,
    job_progress: int,
    took_s: float,
) -> bool:
    with db.transaction() as cur:
        if not transitions.step_finished(
            cur,
            job_id,
            step,
            StepStatus.succeeded,
            owner,
            artifacts=artifacts,
            provider=provider,
            usage=usage,
        ):
            return False
    observability.metric_step_duration(step, took_s)
    _publish_and_fan_out(
        job_id, EventType.step_succeeded, step=step, progress_=job_progress, message=f"{took_s:.1f}s"
    )
    return True


@db.retries_conflicts
def step_skipped(job_id: str, step: str, owner: str) -> bool:
    """A step the job's pipeline does not have is skipped (no event: nothing ran)."""
    with db.transaction() as cur:
        return transitions.step_skipped(cur, job_id, step, owner)


@db.retries_conflicts
def step_failed(
    job_id: str, step: str, owner: str, code: str, message: str, detail: str | None = None
) -> bool:
    """`detail` (the failure's internal text) is kept on the step run for operators only."""
    with db.transaction() as cur:
        if not transitions.step_finished(
            cur,
            job_id,
            step,
            StepStatus.failed,
            owner,
            error_code=code,
            error_message=message,
            error_detail=detail,
        ):
            return False
    _publish_and_fan_out(job_id, EventType.step_failed, step=step, message=f"{code}: {message}")
    return True


@db.retries_conflicts
def succeed(job_id: str, outputs: dict[str, str], owner: str) -> bool:
    """running -> succeeded: the quota reservation is spent, the credits settle to the cost."""
    with db.transaction() as cur:
        if not transitions.succeed(cur, job_id, outputs, owner):
            return False
        _settle_credits(cur, job_id, charge=True)
    observability.metric_job_finished(JobStatus.succeeded)
    _publish_and_fan_out(job_id, EventType.job_succeeded, progress_=100, message="Video ready")
    return True


@db.retries_conflicts
def fail(job_id: str, code: str, message: str, step: str | None) -> bool:
    """queued|running -> failed; a system failure gives the reservation back in the same
    transaction (see quota.refunds_failure)."""
    with db.transaction() as cur:
        if not transitions.fail(cur, job_id, code, message, step):
            return False
        ours = quota.refunds_failure(code)
        if ours:
            _refund(cur, job_id)
        _settle_credits(cur, job_id, charge=not ours)  # a failure of ours costs the user nothing
    observability.metric_job_finished(JobStatus.failed)
    _publish_and_fan_out(job_id, EventType.job_failed, step=step, message=f"{code}: {message}")
    return True


@db.retries_conflicts
def retry_later(job_id: str, code: str, message: str, step: str | None) -> int | None:
    """running -> queued with attempt + 1, after a transient failure (BullMQ schedules the next
    attempt with backoff). Returns the new attempt, None when the job was no longer running."""
    with db.transaction() as cur:
        attempt = transitions.requeue(cur, job_id, code, message, step)
    if attempt is not None:
        _publish_and_fan_out(
            job_id, EventType.job_retrying, step=step, message=f"attempt {attempt} after {code}"
        )
    return attempt


# ---- the scheduled functions --------------------------------------------------------------
def requeue_lost(job_id: str, user_id: str, plan_name: str, replace: bool = False) -> None:
    """The reaper: a job MySQL says is queued (or running with a dead worker) that the queue
    lost goes back in (`replace`: over an earlier attempt's dead letter)."""
    if replace:
        queue.discard(job_id)
    enqueue(job_id, user_id, plan_name)


@db.retries_conflicts
def expire(job_id: str) -> bool:
    """finished -> expired (cleanup deleted its media)."""
    with db.transaction() as cur:
        return transitions.expire(cur, job_id)
