"""SQL for users' provider keys (sealed; see chalicelib.crypto)."""

from __future__ import annotations

from chalicelib import db
from chalicelib.ids import utcnow

_PUBLIC = "provider, last4, base_url, updated_at"


def upsert(
    user_id: str,
    provider: str,
    ciphertext: bytes,
    wrapped_key: bytes,
    kms_key_id: str,
    last4: str,
    base_url: str | None,
) -> dict:
    now = utcnow()
    db.execute(
        "INSERT INTO provider_keys (user_id, provider, encrypted_key, wrapped_dek, kms_key_id, last4,"
        " base_url, created_at, updated_at) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)"
        " ON DUPLICATE KEY UPDATE encrypted_key = VALUES(encrypted_key),"
        " wrapped_dek = VALUES(wrapped_dek), kms_key_id = VALUES(kms_key_id), last4 = VALUES(last4),"
        " base_url = VALUES(base_url), updated_at = VALUES(updated_at)",
        (user_id, provider, ciphertext, wrapped_key, kms_key_id, last4, base_url, now, now),
    )
    return {"provider": provider, "last4": last4, "base_url": base_url, "updated_at": now}


def public(user_id: str) -> list[dict]:
    # B608: only the constant column list _PUBLIC is formatted in; values are parameters
    return db.fetch_all(
        f"SELECT {_PUBLIC} FROM provider_keys WHERE user_id = %s ORDER BY provider",  # nosec B608
        (user_id,),
    )


def sealed(user_id: str, provider: str) -> dict | None:
    """The sealed record, for the worker only."""
    return db.fetch_one(
        "SELECT encrypted_key, wrapped_dek, base_url FROM provider_keys WHERE user_id = %s AND provider = %s",
        (user_id, provider),
    )


def delete(user_id: str, provider: str) -> bool:
    return (
        db.execute("DELETE FROM provider_keys WHERE user_id = %s AND provider = %s", (user_id, provider)) == 1
    )
