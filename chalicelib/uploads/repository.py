"""SQL for uploads. Every user-facing read is scoped by `user_id`.

A pending upload moves once: to uploaded, rejected or (by cleanup) expired. The conditional
`WHERE status = 'pending'` makes concurrent confirmations agree on one outcome.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from chalicelib.core.ids import utcnow
from chalicelib.infra import db
from chalicelib.uploads.states import UploadStatus


@dataclass(frozen=True, slots=True)
class UploadRow(db.Row):
    """A row of `uploads`."""

    id: str
    user_id: str
    status: UploadStatus
    filename: str
    content_type: str
    size_bytes: int
    created_at: datetime
    updated_at: datetime
    reason: str | None = None
    reason_code: str | None = None

    @classmethod
    def _decode(cls, values: dict[str, Any]) -> dict[str, Any]:
        values["status"] = UploadStatus(values["status"])
        return values


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


def get(upload_id: str, user_id: str) -> UploadRow | None:
    return UploadRow.maybe(
        db.fetch_one("SELECT * FROM uploads WHERE id = %s AND user_id = %s", (upload_id, user_id))
    )


def settle(
    upload_id: str, status: UploadStatus, reason: str | None = None, reason_code: str | None = None
) -> bool:
    """pending -> uploaded | rejected | expired, once; False when it had already moved."""
    return (
        db.execute(
            "UPDATE uploads SET status = %s, reason = %s, reason_code = %s, updated_at = %s"
            " WHERE id = %s AND status = 'pending'",
            (status.value, reason, reason_code, utcnow(), upload_id),
        )
        == 1
    )


def stale_pending(created_before: datetime, limit: int) -> list[UploadRow]:
    """Pending uploads created before the cutoff, oldest first (for cleanup)."""
    return [
        UploadRow.of(row)
        for row in db.fetch_all(
            "SELECT * FROM uploads WHERE status = 'pending' AND created_at < %s"
            " ORDER BY created_at, id LIMIT %s",
            (created_before, limit),
        )
    ]
