"""SQL for jobs and their steps: the rows, the reads (every user-facing one scoped by `user_id`)
and housekeeping. Transitions are in chalicelib.jobs.transitions (lifecycle's alone)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from enum import Enum
from typing import Any

from chalicelib.infra import db
from chalicelib.jobs.states import JobStatus, StepStatus


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
    estimate_micros: int = 0
    credits_held_micros: int = 0
    cost_micros: int = 0

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
    error_detail: str | None = None  # internal: a provider's answer, a command's stderr tail

    @classmethod
    def _decode(cls, values: dict[str, Any]) -> dict[str, Any]:
        values["status"] = RunStatus(values["status"])
        return values


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


def step_runs(job_id: str) -> list[StepRun]:
    return [
        StepRun.of(row)
        for row in db.fetch_all(
            "SELECT step, owner, status, error_code, error_message, error_detail, started_at,"
            " finished_at FROM job_step_runs WHERE job_id = %s ORDER BY id",
            (job_id,),
        )
    ]


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


# A job's credits held and its platform spend not charged yet (finished steps' usage records
# beyond what settlement already charged): the worker's budget and, locked, the settlement's.
UNCHARGED_SQL = (
    "SELECT j.user_id, j.credits_held_micros AS held,"
    " GREATEST(0, COALESCE(SUM(u.cost_micros), 0) - j.cost_micros) AS uncharged"
    " FROM jobs j LEFT JOIN provider_usage u ON u.job_id = j.id AND u.account = 'platform'"
    " WHERE j.id = %s GROUP BY j.id"
)


def credits_left(job_id: str) -> int:
    """What a job may still spend on the platform's accounts: the credits it holds, less what
    its finished steps spent and was not charged yet."""
    row = db.fetch_one(UNCHARGED_SQL, (job_id,))
    return max(0, int(row["held"]) - int(row["uncharged"])) if row else 0
