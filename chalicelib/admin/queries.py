"""SQL of the operator's pages: reads across every customer (callers are operator-checked by
chalicelib.admin.access first). The indexes they lean on are in migration 0040."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from chalicelib.accounts.users import OPERATOR, UserRow
from chalicelib.billing.usage import _SUMS
from chalicelib.infra import db
from chalicelib.jobs.repository import JobRow


def jobs_waiting_or_running() -> dict[str, int]:
    """Every queued and running job, however old (a short range of ix_jobs_status): the rest of
    the overview counts only its window, so its cost does not grow with the table."""
    rows = db.fetch_all(
        "SELECT status, COUNT(*) AS n FROM jobs WHERE status IN ('queued', 'running') GROUP BY status"
    )
    return {str(r["status"]): int(r["n"]) for r in rows}


def jobs_per_day(since: datetime) -> list[dict[str, Any]]:
    """(day, status, n) for jobs created at or after `since` (ix_jobs_created_status covers it)."""
    return db.fetch_all(
        "SELECT DATE(created_at) AS day, status, COUNT(*) AS n FROM jobs"
        " WHERE created_at >= %s GROUP BY day, status ORDER BY day",
        (since,),
    )


def waits_ms(started_since: datetime) -> list[int]:
    """Milliseconds from submission to start of each job started at or after `started_since`."""
    rows = db.fetch_all(
        "SELECT TIMESTAMPDIFF(MICROSECOND, created_at, started_at) DIV 1000 AS ms FROM jobs"
        " WHERE started_at >= %s",
        (started_since,),
    )
    return [int(r["ms"]) for r in rows]


def failures(since: datetime) -> list[dict[str, Any]]:
    return db.fetch_all(
        "SELECT error_code AS code, error_step AS step, COUNT(*) AS n FROM jobs"
        " WHERE status = 'failed' AND finished_at >= %s"
        " GROUP BY error_code, error_step ORDER BY n DESC, code, step LIMIT 50",
        (since,),
    )


def _like_prefix(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def customers(email_prefix: str | None, limit: int, before_id: str | None) -> list[UserRow]:
    """Newest first, `limit + 1` rows (a next page exists when more come back)."""
    return [
        UserRow.of(r)
        for r in db.fetch_all(
            "SELECT * FROM users WHERE (%s IS NULL OR email LIKE %s)"
            " AND (%s IS NULL OR id < %s) ORDER BY id DESC LIMIT %s",
            (
                email_prefix,
                _like_prefix(email_prefix.lower()) if email_prefix else None,
                before_id,
                before_id,
                limit + 1,
            ),
        )
    ]


def operators() -> list[UserRow]:
    return [
        UserRow.of(r) for r in db.fetch_all("SELECT * FROM users WHERE role = %s ORDER BY email", (OPERATOR,))
    ]


def unfinished_job_ids(user_id: str) -> list[str]:
    rows = db.fetch_all(
        "SELECT id FROM jobs WHERE user_id = %s AND status IN ('queued', 'running') ORDER BY id", (user_id,)
    )
    return [r["id"] for r in rows]


def dead_letters(code: str | None, limit: int, after_id: str | None) -> list[tuple[JobRow, str | None]]:
    """Failed jobs newest first (by finished_at, then id) with their owner's email, `limit + 1`."""
    rows = db.fetch_all(
        "SELECT j.*, u.email AS owner_email FROM jobs j LEFT JOIN users u ON u.id = j.user_id"
        " WHERE j.status = 'failed' AND (%s IS NULL OR j.error_code = %s)"
        " AND (%s IS NULL OR (j.finished_at, j.id) <"
        "   (SELECT c.finished_at, c.id FROM jobs c WHERE c.id = %s))"
        " ORDER BY j.finished_at DESC, j.id DESC LIMIT %s",
        (code, code, after_id, after_id, limit + 1),
    )
    return [(JobRow.of(r), r["owner_email"]) for r in rows]


def usage_per_day(since: datetime) -> list[dict[str, Any]]:
    """Provider usage summed per day, purpose, provider and the plan its job ran on."""
    # B608: only the constant column sums _SUMS are formatted in; values are parameters
    return db.fetch_all(
        f"SELECT DATE(created_at) AS day, purpose, provider, COALESCE(plan, 'unknown') AS plan,"  # nosec B608
        f" {_SUMS} FROM provider_usage WHERE created_at >= %s"
        " GROUP BY day, purpose, provider, plan ORDER BY day, provider, purpose, plan",
        (since,),
    )


def top_customers(since: datetime, limit: int) -> list[dict[str, Any]]:
    """By what their jobs cost the platform's accounts, then by calls. Summed per user first
    (ix_provider_usage_spend covers it), so only the top `limit` rows meet the users table."""
    return db.fetch_all(
        "SELECT t.* , u.email FROM ("
        "  SELECT user_id, COUNT(*) AS calls, SUM(wall_ms) AS wall_ms, SUM(cost_micros) AS cost_micros,"
        "   SUM(IF(account = 'platform', cost_micros, 0)) AS platform_micros FROM provider_usage"
        "  WHERE created_at >= %s GROUP BY user_id"
        "  ORDER BY platform_micros DESC, calls DESC, user_id LIMIT %s"
        ") t LEFT JOIN users u ON u.id = t.user_id ORDER BY t.platform_micros DESC, t.calls DESC, t.user_id",
        (since, limit),
    )


def credits_moved(since: datetime) -> dict[str, int]:
    """Credits sold (packs paid for) and charged (jobs settled) since `since`."""
    sold = db.fetch_one(
        "SELECT COALESCE(SUM(amount_micros), 0) AS n FROM credit_topups WHERE created_at >= %s", (since,)
    )
    charged = db.fetch_one(
        "SELECT COALESCE(SUM(cost_micros), 0) AS n FROM jobs WHERE finished_at >= %s AND cost_micros > 0",
        (since,),
    )
    return {"sold": int(sold["n"]) if sold else 0, "charged": int(charged["n"]) if charged else 0}
