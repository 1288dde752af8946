"""SQL for users."""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from datetime import datetime

from chalicelib.core.ids import new_id, utcnow
from chalicelib.infra import db


class EmailTaken(Exception):
    pass


def canonical_email(email: str) -> str:
    """The one form an address is stored, looked up and compared in (NFC, lower case); the column
    compares bytes, so `alice@exämple.com` and `alice@example.com` stay two addresses."""
    return unicodedata.normalize("NFC", email.strip()).lower()


@dataclass(frozen=True, slots=True)
class UserRow(db.Row):
    """A row of `users`."""

    id: str
    email: str
    password_hash: str
    created_at: datetime
    email_verified_at: datetime | None = None
    session_epoch: int = 0
    password_changed_at: datetime | None = None
    credential_epoch: int = 0  # credentials made in an older epoch no longer work (issue 23)


def create(email: str, password_hash: str) -> UserRow:
    user = UserRow(id=new_id("usr"), email=email, password_hash=password_hash, created_at=utcnow())
    try:
        db.execute(
            "INSERT INTO users (id, email, password_hash, created_at) VALUES (%s, %s, %s, %s)",
            (user.id, user.email, user.password_hash, user.created_at),
        )
    except db.integrity_error() as exc:
        raise EmailTaken(email) from exc
    return user


def by_email(email: str) -> UserRow | None:
    return UserRow.maybe(db.fetch_one("SELECT * FROM users WHERE email = %s", (email,)))


def by_id(user_id: str) -> UserRow | None:
    return UserRow.maybe(db.fetch_one("SELECT * FROM users WHERE id = %s", (user_id,)))


def set_password_hash(user_id: str, password_hash: str) -> None:
    db.execute("UPDATE users SET password_hash = %s WHERE id = %s", (password_hash, user_id))


def by_verified_email(email: str) -> UserRow | None:
    """Only an address its owner proved: matching billing by an unproved email would let anyone
    sign up with a buyer's address and take their membership."""
    return UserRow.maybe(
        db.fetch_one("SELECT * FROM users WHERE email = %s AND email_verified_at IS NOT NULL", (email,))
    )


def lock(cur, user_id: str) -> UserRow | None:
    cur.execute("SELECT * FROM users WHERE id = %s FOR UPDATE", (user_id,))
    return UserRow.maybe(cur.fetchone())


def mark_verified(cur, user_id: str) -> None:
    cur.execute(
        "UPDATE users SET email_verified_at = COALESCE(email_verified_at, %s) WHERE id = %s",
        (utcnow(), user_id),
    )


def retire_credentials(cur, user_id: str) -> dict[str, int]:
    """Inside the caller's transaction (the user's row locked): a new credential epoch, and every
    API key, webhook endpoint and provider key made before it deleted. Run at the address's first
    verification and at every password reset, so nothing set up before the owner proved the
    address or the password (e.g. by someone who signed up with it first) outlives that moment.
    The reads that use a credential also require the current epoch (see each repository)."""
    cur.execute("UPDATE users SET credential_epoch = credential_epoch + 1 WHERE id = %s", (user_id,))
    removed = {}
    for table in ("api_keys", "webhook_endpoints", "provider_keys"):
        # B608: the table name is one of the constants above; the value is a parameter
        cur.execute(f"DELETE FROM {table} WHERE user_id = %s", (user_id,))  # nosec B608
        removed[table] = cur.rowcount
    return removed


def reset_password(cur, user_id: str, password_hash: str) -> None:
    """New password, and a new session epoch: every access token issued before stops working."""
    cur.execute(
        "UPDATE users SET password_hash = %s, session_epoch = session_epoch + 1,"
        " password_changed_at = %s WHERE id = %s",
        (password_hash, utcnow(), user_id),
    )
