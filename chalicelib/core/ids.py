"""Opaque ids that sort by creation time, and UTC time helpers."""

from __future__ import annotations

import secrets
import time
from datetime import UTC, datetime


def new_id(prefix: str) -> str:
    """`{prefix}_{ms since epoch, 12 hex}{10 random hex}`: unique, and `ORDER BY id` is time order."""
    return f"{prefix}_{int(time.time() * 1000):012x}{secrets.token_hex(5)}"


def id_pattern(prefix: str) -> str:
    """The shape `new_id(prefix)` makes, as a regular expression (the OpenAPI document shows it)."""
    return rf"^{prefix}_[0-9a-f]{{22}}$"


def utcnow() -> datetime:
    """Naive UTC, as stored in DATETIME(6) columns (the connection's time zone is +00:00)."""
    return datetime.now(UTC).replace(tzinfo=None)


def iso(value: datetime | None) -> str | None:
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
