"""Job rules: submit (idempotent), read, list, and follow a job's events."""

from __future__ import annotations

import hashlib
import json
import logging
from datetime import timedelta
from typing import Any

from chalicelib.accounts import auth, byok
from chalicelib.accounts.auth import Principal
from chalicelib.billing import credits, prices, quota
from chalicelib.billing.plans import entitlement, plan_named
from chalicelib.core.errors import Conflict, NotFound, QuotaExceeded, ValidationFailed
from chalicelib.core.ids import iso, new_id, utcnow
from chalicelib.core.settings import get_settings
from chalicelib.http.schemas.jobs import (
    Event,
    EventPage,
    Job,
    JobCost,
    JobCreate,
    JobError,
    JobEstimate,
    JobList,
    JobOutputs,
    Step,
    StreamToken,
)
from chalicelib.infra import audit, outage, ratelimit, storage
from chalicelib.jobs import estimate as job_estimate
from chalicelib.jobs import eta, lifecycle, longpoll, progress
from chalicelib.jobs import inputs as job_inputs
from chalicelib.jobs import repository as jobs_db
from chalicelib.jobs.states import STEP_WEIGHTS, EventType, JobStatus
from chalicelib.pipeline.providers import known_voice, missing_keys, unknown_providers
from chalicelib.runtime import dispatcher
from chalicelib.uploads import service as uploads
from chalicelib.webhooks import service as outgoing_webhooks

log = logging.getLogger(__name__)
TERMINAL_EVENTS = {EventType.job_succeeded, EventType.job_failed, EventType.job_canceled}
_TERMINAL_STATUS = {
    EventType.job_succeeded: JobStatus.succeeded,
    EventType.job_failed: JobStatus.failed,
    EventType.job_canceled: JobStatus.canceled,
}
FINAL_EVENT_GRACE = timedelta(seconds=30)


def _request_hash(request: dict) -> str:
    return hashlib.sha256(json.dumps(request, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def _replay(principal: Principal, key: str, request_hash: str) -> Job | None:
    row = jobs_db.by_idempotency_key(principal.user_id, key)
    if row is None:
        return None
    if row.request_hash != request_hash:
        raise Conflict(
            "This Idempotency-Key was used with a different request", code="idempotency_key_reused"
        )
    return to_model(row, jobs_db.steps_of([row.id])[row.id])


def submit(
    principal: Principal, body: JobCreate, idempotency_key: str | None, ip: str | None
) -> tuple[Job, bool]:
    """Accept a job: row in MySQL first (the source of truth), then the queue. -> (job, replayed)"""
    ratelimit.hit("jobs", principal.user_id, get_settings().rate_limit_jobs)
    request = body.model_dump(mode="json", exclude_none=True)
    request_hash = _request_hash(request)
    if idempotency_key is not None:
        replayed = _replay(principal, idempotency_key, request_hash)
        if replayed is not None:
            return replayed, True

    now = utcnow()
    ent = entitlement(principal.user_id, now)
    plan = ent.plan
    _check_request(principal, body, plan)
    need = job_estimate.credits_needed(job_estimate.steps(principal.user_id, request, plan))
    if need:
        credits.ensure(principal.user_id, ent.period_start, plan.monthly_credits_micros)
    job: dict[str, Any] = {
        "estimate_micros": need,
        "id": new_id("job"),
        "user_id": principal.user_id,
        "request": request,
        "plan": plan.name,
        "request_hash": request_hash,
        "idempotency_key": idempotency_key,
        "created_at": now,
    }
    try:
        # Redis down? The row says queued and the reaper enqueues it again: accepted anyway.
        lifecycle.submit(job, quota.Period.of(ent))
    except quota.QuotaFull:
        raise _quota_error(plan, quota.used(principal.user_id, ent.period_start), ent.period_end) from None
    except credits.CreditsExhausted as short:
        raise _credits_error(short) from None
    except jobs_db.DuplicateIdempotencyKey as duplicate:  # a concurrent twin won the race
        replayed = _replay(principal, duplicate.key, request_hash)
        if replayed is None:
            raise
        return replayed, True
    audit.record("job.created", user_id=principal.user_id, ip=ip, target=job["id"])
    dispatcher.nudge()
    return get(principal, job["id"]), False


def _check_request(principal: Principal, body: JobCreate, plan) -> None:
    """422 (or 404 for an upload that is not theirs) for what the plan or the account refuses."""
    job_inputs.check(principal.user_id, body, plan)
    if body.prompt is not None and body.duration_s > plan.max_duration_s:
        raise ValidationFailed(
            f"duration_s is over your plan's limit of {plan.max_duration_s} s",
            details=[
                {
                    "field": "duration_s",
                    "type": "plan_limit",
                    "message": f"at most {plan.max_duration_s} on the {plan.name} plan",
                }
            ],
        )
    _check_providers(principal, body.providers.model_dump(exclude_none=True) if body.providers else {}, plan)
    if body.webhook_url:
        outgoing_webhooks.require_registered(principal.user_id, str(body.webhook_url))
    if body.inputs and body.inputs.reference_image_upload_id:
        uploads.require_reference_image(principal.user_id, body.inputs.reference_image_upload_id)
    if body.inputs and body.inputs.music_upload_id:
        uploads.require_music(principal.user_id, body.inputs.music_upload_id)
    if body.voice is not None and not known_voice(body.voice):
        raise ValidationFailed(
            "Unknown voice (GET /v1/providers lists them)",
            code="unknown_voice",
            details=[{"field": "voice", "type": "unknown_voice", "message": f"unknown voice {body.voice!r}"}],
        )


def _check_providers(principal: Principal, choice: dict[str, str], plan) -> None:
    """422 for a provider that does not exist, or one that needs a key the user has not stored
    (and the platform does not run for a purpose the plan includes)."""
    unknown = unknown_providers(choice)
    if unknown:
        raise ValidationFailed(
            "Unknown provider",
            code="unknown_provider",
            details=[
                {
                    "field": f"providers.{step}",
                    "message": f"unknown provider {name!r}",
                    "type": "unknown_provider",
                }
                for step, name in unknown.items()
            ],
        )
    platform = get_settings().platform_providers  # a purpose the plan includes runs there
    missing = missing_keys(choice, byok.stored(principal.user_id)) if choice else {}
    missing = {step: name for step, name in missing.items() if step not in plan.ai or name not in platform}
    if missing:
        raise ValidationFailed(
            "Add your key for this provider first (PUT /v1/provider-keys/{provider})",
            code="provider_key_missing",
            details=[
                {
                    "field": f"providers.{step}",
                    "message": f"no {name} key stored",
                    "type": "provider_key_missing",
                }
                for step, name in missing.items()
            ],
        )


def get(principal: Principal, job_id: str) -> Job:
    row = jobs_db.get(job_id, principal.user_id)
    if row is None:
        raise NotFound("Job not found")
    return to_model(row, jobs_db.steps_of([job_id])[job_id])


def stream_token(principal: Principal, job_id: str) -> StreamToken:
    """A short-lived token reading only this job's events (for a browser's EventSource)."""
    if jobs_db.get(job_id, principal.user_id) is None:
        raise NotFound("Job not found")
    token, ttl = auth.issue_stream_token(principal.user_id, job_id)
    return StreamToken(token=token, expires_in=ttl)


def _quota_error(plan, used: int, resets_at) -> QuotaExceeded:
    return QuotaExceeded(
        f"Your {plan.name} plan's {plan.monthly_jobs} jobs for this period are used",
        details={"limit": plan.monthly_jobs, "used": used, "resets_at": iso(resets_at), "plan": plan.name},
    )


def _credits_error(short: credits.CreditsExhausted) -> QuotaExceeded:
    return QuotaExceeded(
        f"This job needs up to {prices.dollars(short.needed)} of credits; {prices.dollars(short.available)} are left",
        code="credits_exhausted",
        details={"needed": short.needed, "available": short.available, "unit": "micro-USD"},
    )


def estimate(principal: Principal, body: JobCreate) -> JobEstimate:
    """What submitting this body would cost and reserve, without creating anything (the same
    checks as submit, so a body that would be refused is refused here too)."""
    ent = entitlement(principal.user_id, utcnow())
    _check_request(principal, body, ent.plan)
    return job_estimate.of(principal.user_id, body.model_dump(mode="json", exclude_none=True), ent)


def _not_found_or_conflict(principal: Principal, job_id: str, action: str) -> None:
    row = jobs_db.get(job_id, principal.user_id)
    if row is None:
        raise NotFound("Job not found")
    raise Conflict(
        f"A {row.status.value} job can't be {action}",
        code="invalid_state",
        details={"status": row.status.value},
    )


def cancel(principal: Principal, job_id: str, ip: str | None) -> Job:
    """Stop a job wherever it is; its quota comes back (see lifecycle.cancel)."""
    if not lifecycle.cancel(job_id, principal.user_id):
        _not_found_or_conflict(principal, job_id, "canceled")
    audit.record("job.canceled", user_id=principal.user_id, ip=ip, target=job_id)
    return get(principal, job_id)


def retry(principal: Principal, job_id: str, ip: str | None) -> Job:
    """Resume a failed or canceled job from where it stopped; finished steps are not redone
    (nor paid for again)."""
    ent = entitlement(principal.user_id, utcnow())
    credits.ensure(principal.user_id, ent.period_start, ent.plan.monthly_credits_micros)
    try:
        reopened = lifecycle.reopen(job_id, principal.user_id, quota.Period.of(ent), "requested by the user")
    except quota.QuotaFull:
        raise _quota_error(
            ent.plan, quota.used(principal.user_id, ent.period_start), ent.period_end
        ) from None
    except credits.CreditsExhausted as short:
        raise _credits_error(short) from None
    if not reopened:
        _not_found_or_conflict(principal, job_id, "retried")
    audit.record("job.retried", user_id=principal.user_id, ip=ip, target=job_id)
    return get(principal, job_id)


def etag(job: Job) -> str:
    """Over the job's state, not its presigned URLs (fresh, so different, on every read) nor
    its eta_s (counting down on every read; eta_at moves only with the estimate)."""
    state = job.model_dump(
        mode="json",
        exclude={
            "outputs": {"video_url", "thumbnail_url", "captions_url", "vtt_url", "words_url"},
            "eta_s": True,
        },
    )
    return '"' + hashlib.sha256(json.dumps(state, sort_keys=True).encode()).hexdigest()[:32] + '"'


def list_jobs(principal: Principal, status: JobStatus | None, limit: int, cursor: str | None) -> JobList:
    rows = jobs_db.page(principal.user_id, status, limit, cursor)
    page = rows[:limit]
    steps = jobs_db.steps_of(row.id for row in page)
    items = [to_model(row, steps[row.id]) for row in page]
    return JobList(items=items, next_cursor=page[-1].id if len(rows) > limit else None)


def events(principal: Principal, job_id: str, after: str | None, wait_s: int) -> EventPage:
    """Events after `after` (an event id, checked by models.EventsQuery), answered at the first
    batch or when `wait_s` is over, whether the reply is JSON or SSE-framed (Chalice can't
    stream, so an SSE window ends with its first batch and the browser reconnects at once: see
    http/sse.py). A job that ended a while ago gets no more events (a retry makes it queued
    again): its reads answer at once and hold no long-poll slot."""
    try:
        row = jobs_db.get(job_id, principal.user_id)
    except Exception as exc:
        if principal.stream_job != job_id or outage.store_of(exc) is not outage.Store.mysql:
            raise
        return _events_without_mysql(principal, job_id, after, wait_s)
    if row is None:
        raise NotFound("Job not found")
    if wait_s <= 0 or _long_ended(row):
        return _first_batch(principal, job_id, after, 0)
    with longpoll.slot(principal.user_id):
        return _first_batch(principal, job_id, after, wait_s)


def _events_without_mysql(principal: Principal, job_id: str, after: str | None, wait_s: int) -> EventPage:
    """A stream token's read while MySQL is away (auth.authenticate_stream): the events come
    from Redis alone, and the status from them (a terminal event says how the job ended;
    otherwise it is still running as far as anyone can tell, so the client keeps following)."""
    with longpoll.slot(principal.user_id):
        found = progress.read(job_id, after, wait_s)
    cursor = found[-1].id if found else after
    ended = [e for e in found if e.type in TERMINAL_EVENTS]
    if not ended and (last := progress.last_event(job_id)) is not None and last.id == cursor:
        ended = [last] if last.type in TERMINAL_EVENTS else []
    status = _TERMINAL_STATUS[ended[-1].type] if ended else JobStatus.running
    return EventPage(events=found, next=cursor or "0-0", status=status)


def _first_batch(principal: Principal, job_id: str, after: str | None, wait_s: int) -> EventPage:
    found = progress.read(job_id, after, wait_s)
    cursor = found[-1].id if found else after
    row = jobs_db.get(job_id, principal.user_id)
    if row is None:  # deleted with its account meanwhile
        raise NotFound("Job not found")
    return EventPage(events=found, next=cursor or "0-0", status=_page_status(row, found, cursor))


def _long_ended(row: jobs_db.JobRow) -> bool:
    """Ended longer ago than its final event can take to reach the stream."""
    return (
        row.status not in (JobStatus.queued, JobStatus.running)
        and row.finished_at is not None
        and utcnow() - row.finished_at >= FINAL_EVENT_GRACE
    )


def _page_status(row: jobs_db.JobRow, found: list[Event], cursor: str | None) -> JobStatus:
    """The job's status, except while the stream holds events past this page (its final event
    landed after the page was read, or the page was full), or in the instant between a job
    ending in MySQL and its final event reaching the stream: then still "running", so a client
    that stops at a terminal status polls once more and gets the rest. (Not when the stream lost
    the final event: Redis isn't the truth.)"""
    status = row.status
    if status in (JobStatus.queued, JobStatus.running) or row.finished_at is None:
        return status
    if any(e.type in TERMINAL_EVENTS for e in found):
        return status
    last = progress.last_event(row.id)
    if last is not None and last.id != cursor:
        return JobStatus.running
    just_ended = utcnow() - row.finished_at < FINAL_EVENT_GRACE
    if just_ended and (last is None or last.type not in TERMINAL_EVENTS):
        return JobStatus.running
    return status


def _spent(steps: list[jobs_db.StepRow], account: str) -> int:
    return sum(u.get("cost_micros", 0) for s in steps for u in s.step_usage if u.get("account") == account)


def to_model(row: jobs_db.JobRow, steps: list[jobs_db.StepRow]) -> Job:
    error = None
    if row.error_code and row.status in (JobStatus.failed, JobStatus.queued):
        error = JobError(code=row.error_code, message=row.error_message or "", step=row.error_step)
    outputs = None
    if row.status is JobStatus.succeeded and row.outputs:
        keys = row.outputs
        retention = timedelta(days=plan_named(row.plan).retention_days)
        outputs = JobOutputs(
            video_url=storage.presigned_get(keys["video"]),
            thumbnail_url=storage.presigned_get(keys["thumbnail"]),
            captions_url=storage.presigned_get(keys["captions"]),
            expires_at=iso(row.created_at + retention),
            vtt_url=storage.presigned_get(keys["vtt"]) if keys.get("vtt") else None,
            words_url=storage.presigned_get(keys["words"]) if keys.get("words") else None,
            audio=keys.get("audio"),
        )
    left, ends = _time_left(row)
    return Job(
        id=row.id,
        status=row.status,
        progress=row.progress,
        current_step=row.current_step,
        attempt=row.attempt,
        steps=[
            Step(
                name=s.name,
                status=s.status,
                progress=s.progress,
                weight=STEP_WEIGHTS[s.name],
                attempt=s.attempt,
                started_at=iso(s.started_at),
                finished_at=iso(s.finished_at),
                provider=s.provider,
                usage=s.step_usage,
                cost_micros=sum(u.get("cost_micros", 0) for u in s.step_usage),
            )
            for s in steps
        ],
        cost=JobCost(
            estimate_micros=row.estimate_micros,
            held_micros=row.credits_held_micros,
            charged_micros=row.cost_micros,
            platform_micros=_spent(steps, "platform"),
            own_micros=_spent(steps, "own"),
        ),
        error=error,
        outputs=outputs,
        request=row.request,
        notes=row.notes,
        created_at=iso(row.created_at),
        started_at=iso(row.started_at),
        finished_at=iso(row.finished_at),
        eta_s=left,
        eta_at=ends,
    )


def _time_left(row: jobs_db.JobRow) -> tuple[float | None, str | None]:
    """(eta_s, eta_at): the latest estimate while the job is queued or running (jobs/eta.py)."""
    if row.status is JobStatus.succeeded:
        return 0.0, iso(row.finished_at)
    if row.status not in (JobStatus.queued, JobStatus.running):
        return None, None
    found = eta.current(row.id)
    return found if found else (None, None)
