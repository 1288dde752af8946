"""The operator's console, behind chalicelib.admin.access: the overview, customers (suspend and
reinstate), any job with its internal detail, the dead letter and its redrive, provider spend.

Every action an operator takes is in the audit log under the operator's id, with its target."""

from __future__ import annotations

import math
from datetime import date, datetime, timedelta

from chalicelib.accounts import roles, users
from chalicelib.accounts.auth import Principal
from chalicelib.accounts.service import credits_of, usage_and_membership
from chalicelib.admin import queries
from chalicelib.billing.plans import entitlement
from chalicelib.core.errors import Conflict, NotFound
from chalicelib.core.ids import iso, utcnow
from chalicelib.http.schemas.accounts import ProviderUsageTotal
from chalicelib.http.schemas.admin import (
    Customer,
    CustomerDetail,
    CustomerList,
    DayCounts,
    DeadLetter,
    DeadLetterList,
    FailureCount,
    InternalDetail,
    JobInspection,
    JobSummary,
    Operator,
    OperatorList,
    Overview,
    QueueInfo,
    RedriveReply,
    Spend,
    SpendDay,
    StepRunInfo,
    Suspension,
    TopCustomer,
    WaitStats,
)
from chalicelib.http.schemas.billing import PlanInfo
from chalicelib.infra import audit, db, queue
from chalicelib.jobs import lifecycle
from chalicelib.jobs import repository as jobs_db
from chalicelib.jobs.service import to_model
from chalicelib.jobs.states import JobStatus

WAIT_WINDOW = timedelta(hours=1)
DUE_SOON_MS = 60_000  # a retry backing off for less than a minute counts as waiting


# ---- overview -----------------------------------------------------------------------------
def percentile(sorted_values: list[int], p: float) -> int | None:
    """Nearest rank: the smallest value with at least p% of the values at or below it."""
    if not sorted_values:
        return None
    return sorted_values[max(0, math.ceil(p / 100 * len(sorted_values)) - 1)]


def _days(first: date, count: int) -> list[str]:
    return [(first + timedelta(days=i)).isoformat() for i in range(count)]


def overview(days: int) -> Overview:
    now = utcnow()
    first = (now - timedelta(days=days - 1)).date()
    since = datetime.combine(first, datetime.min.time())
    per_day = {day: DayCounts(day=day, total=0, by_status={}) for day in _days(first, days)}
    by_status = {s.value: 0 for s in JobStatus}
    for row in queries.jobs_per_day(since):
        counts = per_day[str(row["day"])]
        counts.by_status[str(row["status"])] = int(row["n"])
        counts.total += int(row["n"])
        by_status[str(row["status"])] += int(row["n"])
    by_status |= {"queued": 0, "running": 0} | queries.jobs_waiting_or_running()
    waits = sorted(queries.waits_ms(now - WAIT_WINDOW))
    p50, p95 = percentile(waits, 50), percentile(waits, 95)
    return Overview(
        generated_at=iso(now) or "",
        by_status=by_status,
        per_day=list(per_day.values()),
        queue=QueueInfo(depth=queue.depth(DUE_SOON_MS), workers=queue.connected_workers()),
        wait=WaitStats(
            window_s=int(WAIT_WINDOW.total_seconds()),
            samples=len(waits),
            p50_s=None if p50 is None else p50 / 1000,
            p95_s=None if p95 is None else p95 / 1000,
        ),
        failures=[
            FailureCount(code=r["code"], step=r["step"], count=int(r["n"])) for r in queries.failures(since)
        ],
    )


# ---- customers ----------------------------------------------------------------------------
def _customer(row: users.UserRow) -> Customer:
    return Customer(
        id=row.id,
        email=row.email,
        created_at=iso(row.created_at) or "",
        email_verified=row.email_verified_at is not None,
        role=row.role,
        suspended_at=iso(row.suspended_at),
    )


def _existing(user_id: str) -> users.UserRow:
    row = users.by_id(user_id)
    if row is None:
        raise NotFound("No such customer")
    return row


def search_customers(email: str | None, limit: int, cursor: str | None) -> CustomerList:
    rows = queries.customers(email or None, limit, cursor)
    items = [_customer(r) for r in rows[:limit]]
    return CustomerList(items=items, next_cursor=items[-1].id if len(rows) > limit else None)


def _summary(row: jobs_db.JobRow) -> JobSummary:
    return JobSummary(
        id=row.id,
        status=row.status,
        plan=row.plan,
        attempt=row.attempt,
        error_code=row.error_code,
        error_step=row.error_step,
        created_at=iso(row.created_at) or "",
        finished_at=iso(row.finished_at),
    )


def customer(user_id: str, status: JobStatus | None, limit: int) -> CustomerDetail:
    row = _existing(user_id)
    ent = entitlement(row.id, utcnow())
    usage, membership = usage_and_membership(row.id, ent)
    return CustomerDetail(
        customer=_customer(row),
        plan=PlanInfo(**ent.plan.public()),
        membership=membership,
        usage=usage,
        credits=credits_of(row.id, ent),
        recent_jobs=[_summary(j) for j in jobs_db.page(row.id, status, limit, None)[:limit]],
    )


def suspend(actor: Principal, user_id: str, ip: str | None) -> Suspension:
    """Its tokens and keys stop working (auth refuses a suspended account), and its queued or
    running jobs are canceled through lifecycle, which gives their quota back."""
    row = _existing(user_id)
    if row.is_operator:
        raise Conflict("Revoke the operator role before suspending this account", code="is_operator")
    with db.transaction() as cur:
        users.suspend(cur, row.id)
    canceled = [job_id for job_id in queries.unfinished_job_ids(row.id) if lifecycle.cancel(job_id, row.id)]
    audit.record(
        "admin.customer_suspended",
        user_id=actor.user_id,
        target=row.id,
        ip=ip,
        details={"canceled_jobs": canceled},
    )
    return Suspension(customer=_customer(_existing(row.id)), canceled_jobs=canceled)


def reinstate(actor: Principal, user_id: str, ip: str | None) -> Customer:
    """Keys work again; tokens from before the suspension stay ended (log in again)."""
    row = _existing(user_id)
    if users.reinstate(row.id):
        audit.record("admin.customer_reinstated", user_id=actor.user_id, target=row.id, ip=ip)
    return _customer(_existing(row.id))


def operators() -> OperatorList:
    return OperatorList(items=[Operator(id=r.id, email=r.email) for r in queries.operators()])


# ---- jobs and the dead letter -------------------------------------------------------------
def inspect_job(job_id: str) -> JobInspection:
    row = jobs_db.get(job_id, None)  # any customer's: the route is operator-checked
    if row is None:
        raise NotFound("Job not found")
    try:
        queue_state: str | None = queue.state(job_id).value
    except Exception:  # the page still helps without Redis; the state is a hint
        queue_state = None
    runs = jobs_db.step_runs(job_id)
    failed_runs = [r for r in runs if r.error_detail]
    return JobInspection(
        job=to_model(row, jobs_db.steps_of([job_id])[job_id]),
        owner=_customer(_existing(row.user_id)),
        internal=InternalDetail(
            error_code=row.error_code,
            error_step=row.error_step,
            error_message=row.error_message,
            error_detail=failed_runs[-1].error_detail if failed_runs else None,
            lease_owner=row.lease_owner,
            lease_until=iso(row.lease_until),
            queue_state=queue_state,
            runs=[
                StepRunInfo(
                    step=r.step,
                    owner=r.owner,
                    status=r.status.value,
                    started_at=iso(r.started_at) or "",
                    finished_at=iso(r.finished_at),
                    error_code=r.error_code,
                    error_message=r.error_message,
                    error_detail=r.error_detail,
                )
                for r in runs
            ],
        ),
    )


def dead_letters(code: str | None, limit: int, cursor: str | None) -> DeadLetterList:
    rows = queries.dead_letters(code, limit, cursor)
    items = [
        DeadLetter(
            id=r.id,
            user_id=r.user_id,
            email=email,
            plan=r.plan,
            attempt=r.attempt,
            error_code=r.error_code,
            error_step=r.error_step,
            error_message=r.error_message,
            finished_at=iso(r.finished_at),
        )
        for r, email in rows[:limit]
    ]
    return DeadLetterList(items=items, next_cursor=items[-1].id if len(rows) > limit else None)


def redrive(actor: Principal, job_ids: list[str], ip: str | None) -> RedriveReply:
    """The `ops redrive` semantics (lifecycle.redrive): from the failed step, not charged again."""
    found = [row for row in (jobs_db.get(job_id, None) for job_id in dict.fromkeys(job_ids)) if row]
    redriven = [
        row.id for row in found if row.status is JobStatus.failed and lifecycle.redrive(row.id, row.user_id)
    ]
    skipped = [job_id for job_id in dict.fromkeys(job_ids) if job_id not in redriven]
    for job_id in redriven:
        audit.record("admin.job_redriven", user_id=actor.user_id, target=job_id, ip=ip)
    return RedriveReply(redriven=redriven, skipped=skipped)


# ---- money --------------------------------------------------------------------------------
def spend(days: int) -> Spend:
    """Provider usage and its cost per day, provider and plan, the customers who cost the platform most, and the
    credits sold and charged."""
    since = datetime.combine((utcnow() - timedelta(days=days - 1)).date(), datetime.min.time())
    per_day = [
        SpendDay(
            day=str(r["day"]),
            plan=str(r["plan"]),
            **ProviderUsageTotal(
                purpose=r["purpose"],
                provider=r["provider"],
                calls=int(r["calls"]),
                tokens_in=int(r["tokens_in"]),
                tokens_out=int(r["tokens_out"]),
                characters=int(r["characters"]),
                images=int(r["images"]),
                audio_s=int(r["audio_ms"]) / 1000,
                bytes=int(r["bytes"]),
                wall_s=int(r["wall_ms"]) / 1000,
                cost_micros=int(r["cost_micros"]),
                platform_micros=int(r["platform_micros"]),
            ).model_dump(),
        )
        for r in queries.usage_per_day(since)
    ]
    top = [
        TopCustomer(
            user_id=r["user_id"],
            email=r["email"],
            calls=int(r["calls"]),
            wall_s=int(r["wall_ms"] or 0) / 1000,
            cost_micros=int(r["cost_micros"] or 0),
            platform_micros=int(r["platform_micros"] or 0),
        )
        for r in queries.top_customers(since, 10)
    ]
    moved = queries.credits_moved(since)
    return Spend(
        days=days,
        per_day=per_day,
        top_customers=top,
        credits_sold_micros=moved["sold"],
        credits_charged_micros=moved["charged"],
    )


# ---- the role -----------------------------------------------------------------------------
def grant_operator(actor: Principal, email: str, ip: str | None) -> Operator:
    row = roles.grant(email, actor.user_id, ip)
    return Operator(id=row.id, email=row.email)


def revoke_operator(actor: Principal, user_id: str, ip: str | None) -> None:
    roles.revoke(user_id, actor.user_id, ip)
