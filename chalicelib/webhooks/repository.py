"""SQL for users' outgoing webhook endpoints."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime

from chalicelib.core.ids import new_id, utcnow
from chalicelib.infra import db

_PUBLIC = "id, user_id, url, events, created_at, last_delivery_at, last_status"
# Only endpoints made in the owner's current credential epoch (see accounts.users.retire_credentials).
_CURRENT = (
    "credential_epoch = (SELECT u.credential_epoch FROM users u WHERE u.id = webhook_endpoints.user_id)"
)


class LimitReached(Exception):
    pass


@dataclass(frozen=True, slots=True)
class WebhookEndpointRow(db.Row):
    """A row of `webhook_endpoints`. The sealed secret is read by `sealed()` only (for the
    delivery worker); in the other reads it stays empty."""

    json_columns = frozenset({"events"})

    id: str
    user_id: str
    url: str
    created_at: datetime
    events: list[str] | None = None  # None: the default set
    last_delivery_at: datetime | None = None
    last_status: int | None = None  # HTTP status of the last attempt (0: no answer)
    encrypted_secret: bytes = b""
    wrapped_dek: bytes = b""


def count(user_id: str) -> int:
    return db.count("SELECT COUNT(*) AS n FROM webhook_endpoints WHERE user_id = %s", (user_id,))


def create(
    user_id: str,
    url: str,
    events: list[str] | None,
    sealed_secret: bytes,
    wrapped_key: bytes,
    endpoint_id: str | None = None,
    limit: int | None = None,
) -> WebhookEndpointRow:
    """Insert unless the user already holds `limit` endpoints (the user's row lock serializes
    concurrent creations, so the cap holds under parallel requests)."""
    row = WebhookEndpointRow(
        id=endpoint_id or new_id("whe"), user_id=user_id, url=url, created_at=utcnow(), events=events
    )
    with db.transaction() as cur:
        cur.execute("SELECT credential_epoch FROM users WHERE id = %s FOR UPDATE", (user_id,))
        epoch = cur.fetchone()["credential_epoch"]
        if limit is not None:
            cur.execute("SELECT COUNT(*) AS n FROM webhook_endpoints WHERE user_id = %s", (user_id,))
            if cur.fetchone()["n"] >= limit:
                raise LimitReached(limit)
        cur.execute(
            "INSERT INTO webhook_endpoints (id, user_id, url, events, encrypted_secret,"
            " wrapped_dek, created_at, credential_epoch) VALUES (%s, %s, %s, %s, %s, %s, %s, %s)",
            (
                row.id,
                user_id,
                url,
                json.dumps(events) if events is not None else None,
                sealed_secret,
                wrapped_key,
                row.created_at,
                epoch,
            ),
        )
    return row


def page(user_id: str, limit: int, before_id: str | None) -> list[WebhookEndpointRow]:
    return [
        WebhookEndpointRow.of(r)
        for r in db.fetch_all(
            # B608: only the constant column list _PUBLIC is formatted in; values are parameters
            f"SELECT {_PUBLIC} FROM webhook_endpoints WHERE {_CURRENT} AND user_id = %s"  # nosec B608
            " AND (%s IS NULL OR id < %s)"
            " ORDER BY id DESC LIMIT %s",
            (user_id, before_id, before_id, limit + 1),
        )
    ]


def of_user(user_id: str, limit: int = 1000) -> list[WebhookEndpointRow]:
    """The user's endpoints, oldest first, at most `limit` (bounds one event's fan-out)."""
    return [
        WebhookEndpointRow.of(r)
        for r in db.fetch_all(
            # B608: only the constant column list _PUBLIC is formatted in; values are parameters
            f"SELECT {_PUBLIC} FROM webhook_endpoints WHERE user_id = %s AND {_CURRENT}"  # nosec B608
            " ORDER BY id LIMIT %s",
            (user_id, limit),
        )
    ]


def by_url(user_id: str, url: str) -> WebhookEndpointRow | None:
    # B608: only the constant column list _PUBLIC is formatted in; values are parameters
    return WebhookEndpointRow.maybe(
        db.fetch_one(
            f"SELECT {_PUBLIC} FROM webhook_endpoints WHERE user_id = %s AND url = %s"  # nosec B608
            f" AND {_CURRENT} LIMIT 1",
            (user_id, url),
        )
    )


def sealed(endpoint_id: str) -> WebhookEndpointRow | None:
    """For the delivery worker only: where to send, and the sealed secret to sign with (never for
    an endpoint from an older credential epoch: such a delivery is dropped as for a deleted one)."""
    # B608: only the constant column list _PUBLIC is formatted in; values are parameters
    return WebhookEndpointRow.maybe(
        db.fetch_one(
            f"SELECT {_PUBLIC}, encrypted_secret, wrapped_dek FROM webhook_endpoints"  # nosec B608
            f" WHERE id = %s AND {_CURRENT}",
            (endpoint_id,),
        )
    )


def delete(user_id: str, endpoint_id: str) -> bool:
    return (
        db.execute("DELETE FROM webhook_endpoints WHERE id = %s AND user_id = %s", (endpoint_id, user_id))
        == 1
    )


def record_attempt(endpoint_id: str, status: int) -> None:
    db.execute(
        "UPDATE webhook_endpoints SET last_delivery_at = %s, last_status = %s WHERE id = %s",
        (utcnow(), status, endpoint_id),
    )
