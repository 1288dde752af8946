"""SQL for users' provider keys (sealed; see chalicelib.infra.crypto)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from chalicelib.core.ids import utcnow
from chalicelib.infra import db

_PUBLIC = "user_id, provider, last4, base_url, updated_at"
# Only keys stored in the owner's current credential epoch (see users.retire_credentials).
_CURRENT = "credential_epoch = (SELECT u.credential_epoch FROM users u WHERE u.id = provider_keys.user_id)"
_EPOCH = "(SELECT credential_epoch FROM users WHERE id = %s)"


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
        # B608: only the constant _EPOCH is formatted in; values are parameters
        "INSERT INTO provider_keys (user_id, provider, encrypted_key, wrapped_dek, kms_key_id, last4,"  # nosec B608
        f" base_url, created_at, updated_at, credential_epoch) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, {_EPOCH})"
        " ON DUPLICATE KEY UPDATE encrypted_key = VALUES(encrypted_key),"
        " wrapped_dek = VALUES(wrapped_dek), kms_key_id = VALUES(kms_key_id), last4 = VALUES(last4),"
        " base_url = VALUES(base_url), updated_at = VALUES(updated_at),"
        " credential_epoch = VALUES(credential_epoch)",
        (user_id, provider, ciphertext, wrapped_key, kms_key_id, last4, base_url, now, now, user_id),
    )
    return ProviderKeyRow(user_id=user_id, provider=provider, last4=last4, updated_at=now, base_url=base_url)


def public(user_id: str) -> list[ProviderKeyRow]:
    # B608: only the constant column list _PUBLIC is formatted in; values are parameters
    return [
        ProviderKeyRow.of(row)
        for row in db.fetch_all(
            f"SELECT {_PUBLIC} FROM provider_keys WHERE user_id = %s AND {_CURRENT}"  # nosec B608
            " ORDER BY provider",
            (user_id,),
        )
    ]


def sealed(user_id: str, provider: str) -> ProviderKeyRow | None:
    """The sealed record, for the worker only; never one from an older credential epoch."""
    # B608: only the constant column list _PUBLIC is formatted in; values are parameters
    return ProviderKeyRow.maybe(
        db.fetch_one(
            f"SELECT {_PUBLIC}, encrypted_key, wrapped_dek FROM provider_keys"  # nosec B608
            f" WHERE user_id = %s AND provider = %s AND {_CURRENT}",
            (user_id, provider),
        )
    )


def delete(user_id: str, provider: str) -> bool:
    return (
        db.execute("DELETE FROM provider_keys WHERE user_id = %s AND provider = %s", (user_id, provider)) == 1
    )
