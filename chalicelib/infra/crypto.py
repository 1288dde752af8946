"""Envelope encryption for secrets users give us (their provider API keys).

Each record gets its own KMS data key; the secret is sealed with AES-256-GCM under it, with the
owner bound as associated data (and as KMS encryption context), so a row copied to another user
or provider fails to open. Only the KMS-wrapped data key is stored.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from chalicelib.core.settings import get_settings
from chalicelib.infra.aws import client

NONCE_BYTES = 12


@dataclass(frozen=True)
class Sealed:
    ciphertext: bytes  # nonce || AES-GCM ciphertext and tag
    wrapped_key: bytes  # the data key, encrypted by KMS
    kms_key_id: str


def _context(owner: dict[str, str]) -> str:
    return "|".join(f"{k}={v}" for k, v in sorted(owner.items()))


def seal(plaintext: str, owner: dict[str, str]) -> Sealed:
    data_key = client("kms").generate_data_key(
        KeyId=get_settings().kms_key_id, KeySpec="AES_256", EncryptionContext=owner
    )
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM  # (~40 ms: on first use)

    nonce = os.urandom(NONCE_BYTES)
    sealed = AESGCM(data_key["Plaintext"]).encrypt(nonce, plaintext.encode(), _context(owner).encode())
    return Sealed(
        ciphertext=nonce + sealed, wrapped_key=data_key["CiphertextBlob"], kms_key_id=data_key["KeyId"]
    )


def open_sealed(ciphertext: bytes, wrapped_key: bytes, owner: dict[str, str]) -> str:
    """Raises (KMS or `cryptography.exceptions.InvalidTag`) when the owner doesn't match."""
    data_key = client("kms").decrypt(CiphertextBlob=wrapped_key, EncryptionContext=owner)["Plaintext"]
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    nonce, sealed = ciphertext[:NONCE_BYTES], ciphertext[NONCE_BYTES:]
    return AESGCM(data_key).decrypt(nonce, sealed, _context(owner).encode()).decode()
