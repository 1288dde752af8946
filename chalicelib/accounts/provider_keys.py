"""SQL for users' provider keys (sealed; see chalicelib.infra.crypto)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from chalicelib.core.ids import utcnow
from chalicelib.infra import db

_PUBLIC = "user_id, provider, last4, base_url, updated_at"


@dataclass(frozen=True, slots=True)
class ProviderKeyRow(db.Row):
    """A row of `provider_keys` (but the KMS key id and the creation time, which nothing reads).
    The sealed key is read by `sealed()` only (for the worker); in the other reads it stays
    empty."""

    user_id: str
    provider: str
    last4: str
    updated_at: datetime
    base_url: str | None = None
    encrypted_key: bytes = b""
    wrapped_dek: bytes = b""


def upsert(
    user_id: str,
    provider: str,
    ciphertext: bytes,
    wrapped_key: bytes,
    kms_key_id: str,
    last4: str,
    base_url: str | None,
) -> ProviderKeyRow:
    now = utcnow()
    db.execute(
        "INSERT INTO provider_keys (user_id, provider, encrypted_key, wrapped_dek, kms_key_id, last4,"
        " base_url, created_at, updated_at) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)"
        " ON DUPLICATE KEY UPDATE encrypted_key = VALUES(encrypted_key),"
        " wrapped_dek = VALUES(wrapped_dek), kms_key_id = VALUES(kms_key_id), last4 = VALUES(last4),"
        " base_url = VALUES(base_url), updated_at = VALUES(updated_at)",
        (user_id, provider, ciphertext, wrapped_key, kms_key_id, last4, base_url, now, now),
    )
    return ProviderKeyRow(user_id=user_id, provider=provider, last4=last4, updated_at=now, base_url=base_url)


def public(user_id: str) -> list[ProviderKeyRow]:
    # B608: only the constant column list _PUBLIC is formatted in; values are parameters
    return [
        ProviderKeyRow.of(row)
        for row in db.fetch_all(
            f"SELECT {_PUBLIC} FROM provider_keys WHERE user_id = %s ORDER BY provider",  # nosec B608
            (user_id,),
        )
    ]


def sealed(user_id: str, provider: str) -> ProviderKeyRow | None:
    """The sealed record, for the worker only."""
    # B608: only the constant column list _PUBLIC is formatted in; values are parameters
    return ProviderKeyRow.maybe(
        db.fetch_one(
            f"SELECT {_PUBLIC}, encrypted_key, wrapped_dek FROM provider_keys"  # nosec B608
            " WHERE user_id = %s AND provider = %s",
            (user_id, provider),
        )
    )


def delete(user_id: str, provider: str) -> bool:
    return (
        db.execute("DELETE FROM provider_keys WHERE user_id = %s AND provider = %s", (user_id, provider)) == 1
    )
