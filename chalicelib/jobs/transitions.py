"""SQL for job and step transitions, for chalicelib.jobs.lifecycle only (tests/unit/test_layers.py
fails any other importer): every function runs inside lifecycle's transaction (`cur`).

State changes are conditional (`WHERE status IN ...`, the lease owner) so a late writer, e.g. a
worker finishing after the user canceled, can't move a job out of a terminal state. Reads of the
same tables are in chalicelib.jobs.repository.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from chalicelib.billing import usage as usage_db
from chalicelib.core.ids import utcnow
from chalicelib.infra import db
from chalicelib.jobs.repository import UNCHARGED_SQL, DuplicateIdempotencyKey, JobRow
from chalicelib.jobs.states import STEP_NAMES, Claim, StepStatus


def insert(cur, job: dict[str, Any], quota_period_start) -> None:
    """The job row (its quota already reserved by the caller, in the same transaction) and its
    pending steps. Raises DuplicateIdempotencyKey when a twin with the same key exists."""
    now = job["created_at"]
    try:
        cur.execute(
            "INSERT INTO jobs (id, user_id, status, progress, attempt, request, request_hash,"
            " idempotency_key, plan, quota_period_start, quota_reserved, created_at, updated_at)"
            " VALUES (%s, %s, 'queued', 0, 1, %s, %s, %s, %s, %s, 1, %s, %s)",
            (
                job["id"],
                job["user_id"],
                json.dumps(job["request"]),
                job["request_hash"],
                job["idempotency_key"],
                job["plan"],
                quota_period_start,
                now,
                now,
            ),
        )
    except db.integrity_error() as exc:
        if exc.args and exc.args[0] == 1062 and job["idempotency_key"] is not None:
            raise DuplicateIdempotencyKey(job["idempotency_key"]) from exc
        raise
    cur.executemany(
        "INSERT INTO job_steps (job_id, name, position, status) VALUES (%s, %s, %s, 'pending')",
        [(job["id"], name, i) for i, name in enumerate(STEP_NAMES)],
    )


def start(cur, job_id: str, user_id: str, max_running: int, owner: str, lease_s: int) -> Claim:
    """Take the job's lease and run it (see Claim). A job already `running` whose
    lease expired (its worker died) keeps its slot. Locking the user's row serializes
    concurrent starts of one user's jobs."""
    now = utcnow()
    cur.execute("SELECT id FROM users WHERE id = %s FOR UPDATE", (user_id,))
    cur.execute("SELECT status, lease_owner, lease_until FROM jobs WHERE id = %s FOR UPDATE", (job_id,))
    row = cur.fetchone()
    if row is None or row["status"] not in ("queued", "running"):
        return Claim.gone
    if (
        row["status"] == "running"
        and row["lease_owner"] not in (None, owner)
        and row["lease_until"]
        and row["lease_until"] > now
    ):
        return Claim.busy
    if row["status"] == "queued":
        cur.execute("SELECT COUNT(*) AS n FROM jobs WHERE user_id = %s AND status = 'running'", (user_id,))
        if cur.fetchone()["n"] >= max_running:
            return Claim.busy
    cur.execute(
        "UPDATE jobs SET status = 'running', started_at = COALESCE(started_at, %s),"
        " lease_owner = %s, lease_until = %s + INTERVAL %s SECOND, updated_at = %s,"
        " error_code = NULL, error_message = NULL, error_step = NULL"
        " WHERE id = %s",
        (now, owner, now, lease_s, now, job_id),
    )
    return Claim.started


def renew(cur, job_id: str, owner: str, lease_s: int) -> bool:
    """Extend the lease; False when the job is no longer ours (canceled, failed, taken over)."""
    now = utcnow()
    return (
        cur.execute(
            "UPDATE jobs SET lease_until = %s + INTERVAL %s SECOND, updated_at = %s"
            " WHERE id = %s AND lease_owner = %s AND status = 'running'",
            (now, lease_s, now, job_id, owner),
        )
        == 1
    )


_OWNED = (
    "EXISTS (SELECT 1 FROM jobs WHERE jobs.id = job_steps.job_id AND jobs.lease_owner = %s"
    " AND jobs.status = 'running')"
)


def step_started(cur, job_id: str, step: str, owner: str) -> bool:
    now = utcnow()
    if not cur.execute(
        # B608: only the constant lease clause _OWNED is formatted in; values are parameters
        "UPDATE job_steps SET status = 'running', progress = 0, attempt = attempt + 1,"  # nosec B608
        " started_at = %s, finished_at = NULL, error_code = NULL, error_message = NULL"
        f" WHERE job_id = %s AND name = %s AND {_OWNED}",
        (now, job_id, step, owner),
    ):
        return False
    cur.execute("UPDATE jobs SET current_step = %s, updated_at = %s WHERE id = %s", (step, now, job_id))
    # A run another worker left behind (it died) is closed as abandoned.
    cur.execute(
        "UPDATE job_step_runs SET status = 'abandoned', finished_at = %s"
        " WHERE job_id = %s AND step = %s AND status = 'running'",
        (now, job_id, step),
    )
    cur.execute(
        "INSERT INTO job_step_runs (job_id, step, owner, status, started_at)"
        " VALUES (%s, %s, %s, 'running', %s)",
        (job_id, step, owner, now),
    )
    return True


def progress(cur, job_id: str, step: str, step_progress: int, job_progress: int, owner: str) -> bool:
    """Progress only moves forward, whatever order concurrent writers land in."""
    # B608: only the constant lease clause _OWNED is formatted in; values are parameters
    cur.execute(
        "UPDATE job_steps SET progress = GREATEST(progress, %s)"  # nosec B608
        f" WHERE job_id = %s AND name = %s AND {_OWNED}",
        (step_progress, job_id, step, owner),
    )
    return (
        cur.execute(
            "UPDATE jobs SET progress = GREATEST(progress, %s), updated_at = %s"
            " WHERE id = %s AND lease_owner = %s AND status = 'running'",
            (job_progress, utcnow(), job_id, owner),
        )
        == 1
    )


def step_finished(
    cur,
    job_id: str,
    step: str,
    status: StepStatus,
    owner: str,
    *,
    artifacts: list[str] | None = None,
    error_code: str | None = None,
    error_message: str | None = None,
    error_detail: str | None = None,
    provider: str | None = None,
    usage: list | None = None,
) -> bool:
    """A running step ends, only if this worker still holds the job: a step never succeeds
    twice, even when a worker thought dead comes back. `usage` (StepUsage records) is kept on
    the step and, for the monthly sums, in provider_usage (see chalicelib/billing/usage.py).
    `error_detail` goes to the step run only: for operators, never the job's owner."""
    now = utcnow()
    message = (error_message or "")[:1000] or None
    records = [u.model_dump() for u in usage or []]
    if not cur.execute(
        # B608: only the constant lease clause _OWNED is formatted in; values are parameters
        "UPDATE job_steps SET status = %s, finished_at = %s,"  # nosec B608
        " progress = IF(%s = 'succeeded', 100, progress),"
        " artifacts = COALESCE(%s, artifacts), error_code = %s, error_message = %s,"
        " provider = COALESCE(%s, provider), step_usage = COALESCE(%s, step_usage)"
        f" WHERE job_id = %s AND name = %s AND status = 'running' AND {_OWNED}",
        (
            status.value,
            now,
            status.value,
            json.dumps(artifacts) if artifacts is not None else None,
            error_code,
            message,
            provider,
            json.dumps(records) if records else None,
            job_id,
            step,
            owner,
        ),
    ):
        return False
    usage_db.record(cur, job_id, step, records, now)
    cur.execute(
        "UPDATE job_step_runs SET status = %s, finished_at = %s, error_code = %s,"
        " error_message = %s, error_detail = %s WHERE job_id = %s AND step = %s AND owner = %s"
        " AND status = 'running'",
        (status.value, now, error_code, message, (error_detail or "")[:2000] or None, job_id, step, owner),
    )
    return True


def add_note(cur, job_id: str, note: str) -> None:
    cur.execute(
        "UPDATE jobs SET notes = JSON_ARRAY_APPEND(COALESCE(notes, JSON_ARRAY()), '$', %s)"
        " WHERE id = %s AND NOT JSON_CONTAINS(COALESCE(notes, JSON_ARRAY()), JSON_QUOTE(%s))",
        (note, job_id, note),
    )


def succeed(cur, job_id: str, outputs: dict[str, Any], owner: str) -> bool:
    now = utcnow()
    return (
        cur.execute(
            "UPDATE jobs SET status = 'succeeded', progress = 100, current_step = NULL, outputs = %s,"
            " lease_owner = NULL, lease_until = NULL, finished_at = %s, updated_at = %s"
            " WHERE id = %s AND status = 'running' AND lease_owner = %s",
            (json.dumps(outputs), now, now, job_id, owner),
        )
        == 1
    )


def fail(cur, job_id: str, code: str, message: str, step: str | None) -> bool:
    now = utcnow()
    changed = (
        cur.execute(
            "UPDATE jobs SET status = 'failed', error_code = %s, error_message = %s, error_step = %s,"
            " finished_at = %s, updated_at = %s WHERE id = %s AND status IN ('queued', 'running')",
            (code, message[:1000], step, now, now, job_id),
        )
        == 1
    )
    if changed:
        cur.execute(
            "UPDATE job_steps SET status = IF(status = 'running', 'failed', 'canceled'),"
            " error_code = IF(status = 'running', COALESCE(error_code, %s), error_code),"
            " finished_at = %s WHERE job_id = %s AND status IN ('pending', 'running')",
            (code, now, job_id),
        )
        cur.execute(
            "UPDATE job_step_runs SET status = 'abandoned', finished_at = %s"
            " WHERE job_id = %s AND status = 'running'",
            (now, job_id),
        )
    return changed


def requeue(cur, job_id: str, code: str, message: str, step: str | None) -> int | None:
    """running -> queued with attempt + 1 after a transient failure; returns the new attempt."""
    now = utcnow()
    changed = cur.execute(
        "UPDATE jobs SET status = 'queued', attempt = attempt + 1, current_step = NULL,"
        " lease_owner = NULL, lease_until = NULL,"
        " error_code = %s, error_message = %s, error_step = %s, updated_at = %s"
        " WHERE id = %s AND status = 'running'",
        (code, message[:1000], step, now, job_id),
    )
    if not changed:
        return None
    cur.execute("SELECT attempt FROM jobs WHERE id = %s", (job_id,))
    return int(cur.fetchone()["attempt"])


def lock(cur, job_id: str, user_id: str | None) -> JobRow | None:
    """The job's row, locked for the rest of the transaction (`user_id=None`: trusted callers)."""
    cur.execute(
        "SELECT * FROM jobs WHERE id = %s AND (%s IS NULL OR user_id = %s) FOR UPDATE",
        (job_id, user_id, user_id),
    )
    return JobRow.maybe(cur.fetchone())


def cancel(cur, job_id: str) -> dict[str, str]:
    """queued|running -> canceled with its unfinished steps (the caller locked the row and
    checked its status); returns the steps' states before."""
    now = utcnow()
    cur.execute("SELECT name, status FROM job_steps WHERE job_id = %s", (job_id,))
    before = {r["name"]: r["status"] for r in cur.fetchall()}
    cur.execute(
        "UPDATE jobs SET status = 'canceled', current_step = NULL, finished_at = %s,"
        " updated_at = %s WHERE id = %s",
        (now, now, job_id),
    )
    cur.execute(
        "UPDATE job_step_runs SET status = 'canceled', finished_at = %s"
        " WHERE job_id = %s AND status = 'running'",
        (now, job_id),
    )
    cur.execute(
        "UPDATE job_steps SET status = 'canceled', finished_at = %s"
        " WHERE job_id = %s AND status IN ('pending', 'running')",
        (now, job_id),
    )
    return before


def reopen(cur, job_id: str) -> None:
    """failed|canceled -> queued, attempt + 1, unfinished steps back to pending (the caller
    locked the row and checked its status)."""
    now = utcnow()
    cur.execute(
        "UPDATE jobs SET status = 'queued', attempt = attempt + 1, error_code = NULL,"
        " error_message = NULL, error_step = NULL, finished_at = NULL, updated_at = %s"
        " WHERE id = %s",
        (now, job_id),
    )
    cur.execute(
        "UPDATE job_steps SET status = 'pending', progress = 0, finished_at = NULL"
        " WHERE job_id = %s AND status <> 'succeeded'",
        (job_id,),
    )


def expire(cur, job_id: str) -> bool:
    """finished -> expired, outputs gone (their media was deleted)."""
    return (
        cur.execute(
            "UPDATE jobs SET status = 'expired', outputs = NULL, updated_at = %s"
            " WHERE id = %s AND status IN ('succeeded', 'failed', 'canceled')",
            (utcnow(), job_id),
        )
        == 1
    )


def step_skipped(cur, job_id: str, step: str, owner: str) -> bool:
    """A step the job's pipeline does not have (e.g. concept and image in a `command`
    pipeline) is marked skipped, only while this worker holds the job; nothing ran, so no run."""
    # B608: _OWNED is a constant of ours; values are parameters
    return (
        cur.execute(
            "UPDATE job_steps SET status = 'skipped', progress = 100, finished_at = %s"
            f" WHERE job_id = %s AND name = %s AND status <> 'succeeded' AND {_OWNED}",  # nosec B608
            (utcnow(), job_id, step, owner),
        )
        == 1
    )


def needs_reservation(cur, job_id: str) -> bool:
    """Lock the job's row; True when it holds no quota reservation (it was given back)."""
    cur.execute("SELECT quota_reserved FROM jobs WHERE id = %s FOR UPDATE", (job_id,))
    row = cur.fetchone()
    return row is not None and not row["quota_reserved"]


def mark_reserved(cur, job_id: str, period_start: datetime) -> None:
    cur.execute(
        "UPDATE jobs SET quota_reserved = 1, quota_period_start = %s WHERE id = %s", (period_start, job_id)
    )


def release_reservation(cur, job_id: str) -> tuple[str, datetime] | None:
    """Flip the job's reservation off, once: (user, period) whose counter gets it back, or None
    when the job held none."""
    cur.execute(
        "SELECT user_id, quota_period_start FROM jobs WHERE id = %s AND quota_reserved = 1 FOR UPDATE",
        (job_id,),
    )
    row = cur.fetchone()
    if row is None:
        return None
    cur.execute("UPDATE jobs SET quota_reserved = 0 WHERE id = %s", (job_id,))
    return row["user_id"], row["quota_period_start"]


# ---- credits (chalicelib.billing.credits holds the accounts; these, the job's side) ---------
def credits_of(cur, job_id: str) -> tuple[str, int, int] | None:
    """(user, credits held, platform spend not charged yet) of the job, its row locked."""
    cur.execute("SELECT id FROM jobs WHERE id = %s FOR UPDATE", (job_id,))
    if cur.fetchone() is None:
        return None
    cur.execute(UNCHARGED_SQL, (job_id,))
    row = cur.fetchone()
    return row["user_id"], int(row["held"]), int(row["uncharged"])


def hold_credits(cur, job_id: str, amount: int, estimate: int | None = None) -> None:
    cur.execute(
        "UPDATE jobs SET credits_held_micros = credits_held_micros + %s,"
        " estimate_micros = COALESCE(%s, estimate_micros) WHERE id = %s",
        (amount, estimate, job_id),
    )


def credits_settled(cur, job_id: str, charged: int) -> None:
    cur.execute(
        "UPDATE jobs SET credits_held_micros = 0, cost_micros = cost_micros + %s WHERE id = %s",
        (charged, job_id),
    )
