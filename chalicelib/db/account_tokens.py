"""SQL for single-use account links (email verification, password reset). Only hashes stored."""

from __future__ import annotations

from datetime import timedelta

from chalicelib import db
from chalicelib.ids import utcnow


def create(token_hash: str, user_id: str, purpose: str, email: str, ttl_s: int) -> None:
    now = utcnow()
    db.execute(
        "INSERT INTO account_tokens (token_hash, user_id, purpose, email, created_at,"
        " expires_at) VALUES (%s, %s, %s, %s, %s, %s)",
        (token_hash, user_id, purpose, email, now, now + timedelta(seconds=ttl_s)),
    )


def redeem(cur, token_hash: str, purpose: str) -> dict | None:
    """Inside the caller's transaction: mark the token used and return it, or None when it is
    unknown, for another purpose, expired or already used. The row lock makes it single use
    even under concurrent redemptions."""
    cur.execute(
        "SELECT user_id, email, expires_at, used_at FROM account_tokens"
        " WHERE token_hash = %s AND purpose = %s FOR UPDATE",
        (token_hash, purpose),
    )
    row = cur.fetchone()
    now = utcnow()
    if row is None or row["used_at"] is not None or row["expires_at"] <= now:
        return None
    cur.execute("UPDATE account_tokens SET used_at = %s WHERE token_hash = %s", (now, token_hash))
    return row


def retire(cur, user_id: str, purpose: str) -> None:
    """Every other outstanding link of that purpose stops working (e.g. after a reset)."""
    cur.execute(
        "UPDATE account_tokens SET used_at = %s WHERE user_id = %s AND purpose = %s AND used_at IS NULL",
        (utcnow(), user_id, purpose),
    )


def delete_expired(before, limit: int) -> int:
    """Links that expired before `before`, oldest first, at most `limit`."""
    return db.execute(
        "DELETE FROM account_tokens WHERE expires_at < %s ORDER BY expires_at LIMIT %s", (before, limit)
    )
