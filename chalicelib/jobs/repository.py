"""SQL for jobs and their steps. Every user-facing read is scoped by `user_id`.

State changes are conditional (`WHERE status IN ...`) so a late writer, e.g. a worker finishing
after the user canceled, can't move a job out of a terminal state.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from enum import Enum
from typing import Any

from chalicelib.billing import usage as usage_db
from chalicelib.core.ids import utcnow
from chalicelib.infra import db
from chalicelib.jobs.states import STEP_NAMES, JobStatus, StepStatus


class DuplicateIdempotencyKey(Exception):
    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


@dataclass(frozen=True, slots=True)
class JobRow(db.Row):
    """A row of `jobs`."""

    json_columns = frozenset({"request", "outputs", "notes"})

    id: str
    user_id: str
    status: JobStatus
    progress: int
    attempt: int
    request: dict[str, Any]
    plan: str
    created_at: datetime
    updated_at: datetime
    request_hash: str = ""
    idempotency_key: str | None = None
    current_step: str | None = None
    error_code: str | None = None
    error_message: str | None = None
    error_step: str | None = None
    outputs: dict[str, str] | None = None
    notes: list[str] = field(default_factory=list)
    started_at: datetime | None = None
    finished_at: datetime | None = None
    lease_owner: str | None = None
    lease_until: datetime | None = None
    quota_reserved: bool = False
    quota_period_start: datetime | None = None
    events_cleared_at: datetime | None = None

    @classmethod
    def _decode(cls, values: dict[str, Any]) -> dict[str, Any]:
        values["status"] = JobStatus(values["status"])
        values["notes"] = values.get("notes") or []
        values["quota_reserved"] = bool(values.get("quota_reserved"))
        return values


@dataclass(frozen=True, slots=True)
class StepRow(db.Row):
    """A row of `job_steps`: one step of a job, as of its latest run."""

    json_columns = frozenset({"artifacts", "step_usage"})

    job_id: str
    name: str
    position: int
    status: StepStatus
    progress: int
    attempt: int
    artifacts: list[str] = field(default_factory=list)
    error_code: str | None = None
    error_message: str | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None
    provider: str | None = None
    step_usage: list[dict[str, Any]] = field(default_factory=list)

    @classmethod
    def _decode(cls, values: dict[str, Any]) -> dict[str, Any]:
        values["status"] = StepStatus(values["status"])
        values["artifacts"] = values.get("artifacts") or []
        values["step_usage"] = values.get("step_usage") or []
        return values


class RunStatus(str, Enum):
    """How one attempt at a step ended (or that it still runs)."""

    running = "running"
    succeeded = "succeeded"
    failed = "failed"
    canceled = "canceled"
    abandoned = "abandoned"  # its worker died; another closed it


@dataclass(frozen=True, slots=True)
class StepRun(db.Row):
    """A row of `job_step_runs`: one attempt at a step by one worker (for operators)."""

    step: str
    owner: str
    status: RunStatus
    started_at: datetime
    finished_at: datetime | None = None
    error_code: str | None = None
    error_message: str | None = None

    @classmethod
    def _decode(cls, values: dict[str, Any]) -> dict[str, Any]:
        values["status"] = RunStatus(values["status"])
        return values


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


def by_idempotency_key(user_id: str, key: str) -> JobRow | None:
    return JobRow.maybe(
        db.fetch_one("SELECT * FROM jobs WHERE user_id = %s AND idempotency_key = %s", (user_id, key))
    )


def get(job_id: str, user_id: str | None) -> JobRow | None:
    """A job of `user_id`; `user_id=None` only for trusted callers (worker, reaper)."""
    if user_id is None:
        return JobRow.maybe(db.fetch_one("SELECT * FROM jobs WHERE id = %s", (job_id,)))
    return JobRow.maybe(db.fetch_one("SELECT * FROM jobs WHERE id = %s AND user_id = %s", (job_id, user_id)))


def page(user_id: str, status: JobStatus | None, limit: int, before_id: str | None) -> list[JobRow]:
    """Newest first, `limit + 1` rows so the caller can tell whether a next page exists."""
    rows = db.fetch_all(
        "SELECT * FROM jobs WHERE user_id = %s AND (%s IS NULL OR status = %s)"
        " AND (%s IS NULL OR id < %s) ORDER BY id DESC LIMIT %s",
        (user_id, status and status.value, status and status.value, before_id, before_id, limit + 1),
    )
    return [JobRow.of(row) for row in rows]


def steps_of(job_ids: Iterable[str]) -> dict[str, list[StepRow]]:
    ids = list(job_ids)
    if not ids:
        return {}
    marks = ", ".join(["%s"] * len(ids))
    # B608: only %s placeholders are formatted in; values are parameters
    rows = db.fetch_all(
        f"SELECT * FROM job_steps WHERE job_id IN ({marks})"  # nosec B608
        " ORDER BY job_id, position",
        ids,
    )
    steps: dict[str, list[StepRow]] = {job_id: [] for job_id in ids}
    for row in rows:
        steps[row["job_id"]].append(StepRow.of(row))
    return steps


def backlog(user_id: str) -> int:
    """The user's jobs waiting to start."""
    return db.count("SELECT COUNT(*) AS n FROM jobs WHERE user_id = %s AND status = 'queued'", (user_id,))


def count_running(user_id: str) -> int:
    return db.count("SELECT COUNT(*) AS n FROM jobs WHERE user_id = %s AND status = 'running'", (user_id,))


# ---- transitions: called by chalicelib.jobs.lifecycle only, inside its transaction ---------------
class Claim(str, Enum):
    """What a worker's attempt to start a job got."""

    started = "started"  # the lease is ours: run it
    busy = "busy"  # the user has no free slot, or another live worker holds the lease: later
    gone = "gone"  # canceled or finished: drop it


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
    provider: str | None = None,
    usage: list | None = None,
) -> bool:
    """A running step ends, only if this worker still holds the job: a step never succeeds
    twice, even when a worker thought dead comes back. `usage` (StepUsage records) is kept on
    the step and, for the monthly sums, in provider_usage (see chalicelib/billing/usage.py)."""
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
        " error_message = %s WHERE job_id = %s AND step = %s AND owner = %s"
        " AND status = 'running'",
        (status.value, now, error_code, message, job_id, step, owner),
    )
    return True


def step_runs(job_id: str) -> list[StepRun]:
    return [
        StepRun.of(row)
        for row in db.fetch_all(
            "SELECT step, owner, status, error_code, error_message, started_at,"
            " finished_at FROM job_step_runs WHERE job_id = %s ORDER BY id",
            (job_id,),
        )
    ]


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


def unfinished(older_than: datetime, limit: int) -> list[JobRow]:
    """Queued or running jobs untouched since `older_than`, oldest first (for the reaper)."""
    return [
        JobRow.of(row)
        for row in db.fetch_all(
            "SELECT * FROM jobs WHERE status IN ('queued', 'running') AND updated_at < %s"
            " ORDER BY updated_at LIMIT %s",
            (older_than, limit),
        )
    ]


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


def failed(limit: int, code: str | None = None, since: datetime | None = None) -> list[JobRow]:
    """Dead letters (failed jobs), newest first, for operators."""
    return [
        JobRow.of(row)
        for row in db.fetch_all(
            "SELECT * FROM jobs WHERE status = 'failed' AND (%s IS NULL OR error_code = %s)"
            " AND (%s IS NULL OR finished_at >= %s) ORDER BY finished_at DESC LIMIT %s",
            (code, code, since, since, limit),
        )
    ]


# ---- cleanup (chalicelib/runtime/cleanup.py) ------------------------------------------------------
def past_retention(now: datetime, retention_days: dict[str, int], default_days: int, limit: int) -> list[str]:
    """Finished jobs older than their plan's retention, oldest first. Each is expired as it's
    handled, so the next batch picks up where this one stopped."""
    cases = " ".join(["WHEN %s THEN %s"] * len(retention_days))
    by_plan = [value for item in retention_days.items() for value in item]
    return [
        row["id"]
        for row in db.fetch_all(
            # B608: CASE arms of %s placeholders, built here; values are parameters
            "SELECT id FROM jobs WHERE status IN ('succeeded', 'failed', 'canceled')"  # nosec B608
            f" AND created_at < %s - INTERVAL (CASE plan {cases} ELSE %s END) DAY"
            " ORDER BY created_at, id LIMIT %s",
            (now, *by_plan, default_days, limit),
        )
    ]


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


def streams_to_clear(finished_before: datetime, limit: int) -> list[str]:
    """Finished jobs, finished before the cutoff, whose progress stream is not yet dropped."""
    return [
        row["id"]
        for row in db.fetch_all(
            "SELECT id FROM jobs WHERE finished_at < %s"
            " AND status IN ('succeeded', 'failed', 'canceled', 'expired')"
            " AND (events_cleared_at IS NULL OR events_cleared_at < finished_at)"
            " ORDER BY finished_at, id LIMIT %s",
            (finished_before, limit),
        )
    ]


def streams_cleared(job_ids: list[str], at: datetime) -> None:
    if job_ids:
        marks = ", ".join(["%s"] * len(job_ids))
        # B608: only %s placeholders are formatted in; values are parameters
        db.execute(f"UPDATE jobs SET events_cleared_at = %s WHERE id IN ({marks})", (at, *job_ids))  # nosec B608


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
