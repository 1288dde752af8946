"""SQL for the audit log: who did what, when, from where."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from chalicelib.core.ids import utcnow
from chalicelib.infra import db


@dataclass(frozen=True, slots=True)
class AuditRow(db.Row):
    """A row of `audit_log`."""

    json_columns = frozenset({"details"})

    id: int
    action: str
    created_at: datetime
    user_id: str | None = None
    target: str | None = None
    ip: str | None = None
    details: dict[str, Any] | None = None


def record(
    action: str,
    *,
    user_id: str | None,
    ip: str | None = None,
    target: str | None = None,
    details: dict[str, Any] | None = None,
) -> None:
    db.execute(
        "INSERT INTO audit_log (user_id, action, target, ip, details, created_at)"
        " VALUES (%s, %s, %s, %s, %s, %s)",
        (user_id, action, target, ip, json.dumps(details) if details else None, utcnow()),
    )


def page(user_id: str, limit: int, before_id: int | None) -> list[AuditRow]:
    """Newest first, `limit + 1` rows so the caller can tell whether a next page exists."""
    return [
        AuditRow.of(row)
        for row in db.fetch_all(
            "SELECT * FROM audit_log WHERE user_id = %s"
            " AND (%s IS NULL OR id < %s) ORDER BY id DESC LIMIT %s",
            (user_id, before_id, before_id, limit + 1),
        )
    ]


def delete_before(cutoff, limit: int) -> int:
    """Remove up to `limit` of the oldest entries older than `cutoff`; returns how many."""
    return db.execute(
        "DELETE FROM audit_log WHERE created_at < %s ORDER BY created_at, id LIMIT %s", (cutoff, limit)
    )
