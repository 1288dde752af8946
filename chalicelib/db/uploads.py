"""SQL for uploads. Every user-facing read is scoped by `user_id`.

A pending upload moves once: to uploaded, rejected or (by cleanup) expired. The conditional
`WHERE status = 'pending'` makes concurrent confirmations agree on one outcome.
"""

from __future__ import annotations

from datetime import datetime

from chalicelib import db
from chalicelib.ids import utcnow


def insert(upload: dict) -> None:
    db.execute(
        "INSERT INTO uploads (id, user_id, status, filename, content_type, size_bytes,"
        " created_at, updated_at) VALUES (%s, %s, 'pending', %s, %s, %s, %s, %s)",
        (
            upload["id"],
            upload["user_id"],
            upload["filename"],
            upload["content_type"],
            upload["size_bytes"],
            upload["created_at"],
            upload["created_at"],
        ),
    )


def get(upload_id: str, user_id: str) -> dict | None:
    return db.fetch_one("SELECT * FROM uploads WHERE id = %s AND user_id = %s", (upload_id, user_id))


def settle(upload_id: str, status: str, reason: str | None = None, reason_code: str | None = None) -> bool:
    """pending -> uploaded | rejected | expired, once; False when it had already moved."""
    return (
        db.execute(
            "UPDATE uploads SET status = %s, reason = %s, reason_code = %s, updated_at = %s"
            " WHERE id = %s AND status = 'pending'",
            (status, reason, reason_code, utcnow(), upload_id),
        )
        == 1
    )


def stale_pending(created_before: datetime, limit: int) -> list[dict]:
    """Pending uploads created before the cutoff, oldest first (for cleanup)."""
    return db.fetch_all(
        "SELECT id, user_id FROM uploads WHERE status = 'pending' AND created_at < %s"
        " ORDER BY created_at, id LIMIT %s",
        (created_before, limit),
    )
