"""SQL for single-use account links (email verification, password reset). Only hashes stored."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import Enum
from typing import Any

from chalicelib.core.ids import utcnow
from chalicelib.infra import db


class Purpose(str, Enum):
    verify_email = "verify_email"  # proves the address: memberships may attach by email
    password_reset = "password_reset"  # sets a new password and ends every earlier session


@dataclass(frozen=True, slots=True)
class AccountTokenRow(db.Row):
    """A row of `account_tokens`: one emailed link (only its hash)."""

    token_hash: str
    user_id: str
    purpose: Purpose
    email: str  # the address the link was sent to
    created_at: datetime
    expires_at: datetime
    used_at: datetime | None = None

    @classmethod
    def _decode(cls, values: dict[str, Any]) -> dict[str, Any]:
        values["purpose"] = Purpose(values["purpose"])
        return values


def create(token_hash: str, user_id: str, purpose: Purpose, email: str, ttl_s: int) -> None:
    now = utcnow()
    db.execute(
        "INSERT INTO account_tokens (token_hash, user_id, purpose, email, created_at,"
        " expires_at) VALUES (%s, %s, %s, %s, %s, %s)",
        (token_hash, user_id, purpose.value, email, now, now + timedelta(seconds=ttl_s)),
    )


def redeem(cur, token_hash: str, purpose: Purpose) -> AccountTokenRow | None:
    """Inside the caller's transaction: mark the token used and return it, or None when it is
    unknown, for another purpose, expired or already used. The row lock makes it single use
    even under concurrent redemptions."""
    cur.execute(
        "SELECT * FROM account_tokens WHERE token_hash = %s AND purpose = %s FOR UPDATE",
        (token_hash, purpose.value),
    )
    row = AccountTokenRow.maybe(cur.fetchone())
    now = utcnow()
    if row is None or row.used_at is not None or row.expires_at <= now:
        return None
    cur.execute("UPDATE account_tokens SET used_at = %s WHERE token_hash = %s", (now, token_hash))
    return row


def exists(cur, token_hash: str, purpose: Purpose) -> bool:
    """Whether the token was ever issued for this purpose (used, expired or not)."""
    cur.execute(
        "SELECT 1 FROM account_tokens WHERE token_hash = %s AND purpose = %s", (token_hash, purpose.value)
    )
    return cur.fetchone() is not None


def retire(cur, user_id: str, purpose: Purpose) -> None:
    """Every other outstanding link of that purpose stops working (e.g. after a reset)."""
    cur.execute(
        "UPDATE account_tokens SET used_at = %s WHERE user_id = %s AND purpose = %s AND used_at IS NULL",
        (utcnow(), user_id, purpose.value),
    )


def delete_expired(before, limit: int) -> int:
    """Links that expired before `before`, oldest first, at most `limit`."""
    return db.execute(
        "DELETE FROM account_tokens WHERE expires_at < %s ORDER BY expires_at LIMIT %s", (before, limit)
    )
