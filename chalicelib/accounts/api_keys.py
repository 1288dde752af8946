"""SQL for API keys. Only a SHA-256 of each key is stored."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from chalicelib.core.ids import new_id, utcnow
from chalicelib.infra import db

# Every column but key_hash: a key is looked up by its hash, which is never read back.
_PUBLIC = "id, user_id, name, prefix, created_at, last_used_at, scope"
# Only keys made in the owner's current credential epoch (see users.retire_credentials).
_CURRENT = "credential_epoch = (SELECT u.credential_epoch FROM users u WHERE u.id = api_keys.user_id)"


class LimitReached(Exception):
    pass


@dataclass(frozen=True, slots=True)
class ApiKeyRow(db.Row):
    """A row of `api_keys`, but its `key_hash`."""

    id: str
    user_id: str
    name: str
    prefix: str
    created_at: datetime
    last_used_at: datetime | None = None
    scope: str = "full"  # see chalicelib.accounts.auth.Scope


def create(user_id: str, name: str, prefix: str, key_hash: str, limit: int, scope: str = "full") -> ApiKeyRow:
    """Insert unless the user already holds `limit` keys. The user's row lock serializes
    concurrent creations, so the cap holds under parallel requests; the key takes the owner's
    current credential epoch under that lock."""
    row = ApiKeyRow(
        id=new_id("key"), user_id=user_id, name=name, prefix=prefix, created_at=utcnow(), scope=scope
    )
    with db.transaction() as cur:
        cur.execute("SELECT credential_epoch FROM users WHERE id = %s FOR UPDATE", (user_id,))
        epoch = cur.fetchone()["credential_epoch"]
        cur.execute("SELECT COUNT(*) AS n FROM api_keys WHERE user_id = %s", (user_id,))
        if cur.fetchone()["n"] >= limit:
            raise LimitReached(limit)
        cur.execute(
            "INSERT INTO api_keys (id, user_id, name, prefix, key_hash, created_at, scope, credential_epoch)"
            " VALUES (%s, %s, %s, %s, %s, %s, %s, %s)",
            (row.id, user_id, name, prefix, key_hash, row.created_at, scope, epoch),
        )
    return row


def page(user_id: str, limit: int, before_id: str | None) -> list[ApiKeyRow]:
    """Newest first; `limit + 1` rows so the caller knows whether there is a next page."""
    return [
        ApiKeyRow.of(row)
        for row in db.fetch_all(
            # B608: only the constant column list _PUBLIC is formatted in; values are parameters
            f"SELECT {_PUBLIC} FROM api_keys WHERE {_CURRENT}"  # nosec B608
            " AND user_id = %s AND (%s IS NULL OR id < %s) ORDER BY id DESC LIMIT %s",
            (user_id, before_id, before_id, limit + 1),
        )
    ]


def delete(user_id: str, key_id: str) -> bool:
    return db.execute("DELETE FROM api_keys WHERE id = %s AND user_id = %s", (key_id, user_id)) == 1


def by_hash(key_hash: str) -> ApiKeyRow | None:
    """The key behind this hash, if it was made in the owner's current credential epoch."""
    # B608: only the constants _PUBLIC and _CURRENT are formatted in; values are parameters
    return ApiKeyRow.maybe(
        db.fetch_one(
            f"SELECT {_PUBLIC} FROM api_keys WHERE key_hash = %s AND {_CURRENT}",  # nosec B608
            (key_hash,),
        )
    )


def touch(key_id: str) -> None:
    """Record use at most once a minute per key, so reads don't turn into a write each."""
    db.execute(
        "UPDATE api_keys SET last_used_at = %s WHERE id = %s"
        " AND (last_used_at IS NULL OR last_used_at < %s - INTERVAL 1 MINUTE)",
        (utcnow(), key_id, utcnow()),
    )
