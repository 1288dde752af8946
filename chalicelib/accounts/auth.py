"""Credentials: argon2 password hashes, JWT access tokens, API keys (stored as SHA-256)."""

from __future__ import annotations

import hashlib
import secrets
import time
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING

from chalicelib.accounts import api_keys, users
from chalicelib.core.errors import Forbidden, Unauthorized
from chalicelib.core.settings import get_settings
from chalicelib.http.schemas.accounts import ApiKeyScope as Scope
from chalicelib.infra import outage, secret_store

if TYPE_CHECKING:
    from argon2 import PasswordHasher

# jwt (which loads cryptography) and argon2 are imported where used: ~50 ms off every cold
# start of the API, paid only by the requests that verify a token or a password.

API_KEY_PREFIX = "ak_"
_ALGORITHM = "HS256"


@dataclass(frozen=True)
class Principal:
    user_id: str
    api_key_id: str | None = None
    scope: Scope = Scope.full
    # The access token's `role` claim while the user still holds that role (API keys carry
    # none: an operator's powers need a session, so a leaked key can't read every customer).
    role: str | None = None
    # Set when MySQL was away and a stream token alone vouched for the caller: it may read
    # this one job's events from Redis, nothing else (see authenticate_stream).
    stream_job: str | None = None


def require_credential_writer(principal: Principal) -> None:
    """Creating an API key, a webhook endpoint or a provider key needs a proved address (else
    whoever signed up first with someone's address could leave credentials behind in the account
    its owner later takes over: issue 23) and, from an API key, the `full` scope."""
    if principal.scope is not Scope.full:
        raise Forbidden("This API key's scope does not allow creating credentials", code="insufficient_scope")
    user = users.by_id(principal.user_id)
    if user is None or user.email_verified_at is None:
        raise Forbidden(
            "Confirm your email address first (open the link we mailed you, signed in)",
            code="email_unverified",
        )


@lru_cache(maxsize=1)
def _hasher() -> PasswordHasher:
    from argon2 import PasswordHasher

    return PasswordHasher()  # argon2id with the library's (RFC 9106 low-memory) defaults


def hash_password(password: str) -> str:
    return _hasher().hash(password)


# Verified against when the email is unknown, so a login takes as long either way.
_DUMMY_HASH = None


def verify_password(password_hash: str | None, password: str) -> bool:
    global _DUMMY_HASH
    if password_hash is None:
        _DUMMY_HASH = _DUMMY_HASH or hash_password(secrets.token_urlsafe(16))
        password_hash = _DUMMY_HASH
    from argon2.exceptions import InvalidHashError, VerificationError

    try:
        return _hasher().verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    return _hasher().check_needs_rehash(password_hash)


def issue_access_token(user_id: str, session_epoch: int = 0, role: str | None = None) -> tuple[str, int]:
    """`ep` is the user's session epoch: a password reset bumps it and so ends older tokens.
    `role` (operators only) is checked against the user's row on every use (authenticate)."""
    import jwt

    settings = get_settings()
    now = int(time.time())
    ttl = settings.access_token_ttl_s
    claims = {"sub": user_id, "iat": now, "exp": now + ttl, "typ": "access", "ep": session_epoch}
    if role and role != users.CUSTOMER:
        claims["role"] = role
    token = jwt.encode(
        claims,
        secret_store.jwt_secret(),
        algorithm=_ALGORITHM,
    )
    return token, ttl


def new_api_key() -> tuple[str, str, str]:
    """(key shown once, its display prefix, its hash). 256 random bits: a fast hash suffices."""
    key = API_KEY_PREFIX + secrets.token_urlsafe(32)
    return key, key[: len(API_KEY_PREFIX) + 6], hash_api_key(key)


def hash_api_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def authenticate(authorization: str | None) -> Principal:
    """The caller behind an `Authorization: Bearer ...` header, or 401."""
    scheme, _, token = (authorization or "").partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        raise Unauthorized(
            "Missing bearer token", code="unauthorized", headers={"WWW-Authenticate": "Bearer"}
        )
    if token.startswith(API_KEY_PREFIX):
        row = api_keys.by_hash(hash_api_key(token))
        if row is None:
            raise Unauthorized(
                "Invalid API key", code="invalid_token", headers={"WWW-Authenticate": "Bearer"}
            )
        _refuse_suspended(users.by_id(row.user_id))
        api_keys.touch(row.id)
        return Principal(user_id=row.user_id, api_key_id=row.id, scope=Scope(row.scope))
    import jwt

    try:
        claims = jwt.decode(
            token,
            secret_store.jwt_secret(),
            algorithms=[_ALGORITHM],
            options={"require": ["sub", "exp", "iat"]},
        )
    except jwt.PyJWTError:
        raise Unauthorized(
            "Invalid or expired access token", code="invalid_token", headers={"WWW-Authenticate": "Bearer"}
        ) from None
    if claims.get("typ") != "access":
        raise Unauthorized(
            "Invalid access token", code="invalid_token", headers={"WWW-Authenticate": "Bearer"}
        )
    user = users.by_id(str(claims["sub"]))
    _refuse_suspended(user)
    if user is None or claims.get("ep", 0) != user.session_epoch:
        raise Unauthorized(
            "Access token revoked (the password was reset); log in again",
            code="invalid_token",
            headers={"WWW-Authenticate": "Bearer"},
        )
    role = claims.get("role")
    return Principal(user_id=str(claims["sub"]), role=role if role and role == user.role else None)


def _refuse_suspended(user: users.UserRow | None) -> None:
    if user is not None and user.suspended_at is not None:
        raise Forbidden("This account is suspended; contact support", code="account_suspended")


# A browser's EventSource can't send an Authorization header, so the console asks for a token
# that reads one job's events only, for minutes, and passes it as `?stream_token=`.
STREAM_TOKEN_TTL_S = 600


def issue_stream_token(user_id: str, job_id: str) -> tuple[str, int]:
    """Bound to the user's session epoch too: a password reset ends it with the access tokens."""
    import jwt

    user = users.by_id(user_id)
    now = int(time.time())
    token = jwt.encode(
        {
            "sub": user_id,
            "job": job_id,
            "iat": now,
            "exp": now + STREAM_TOKEN_TTL_S,
            "typ": "stream",
            "ep": user.session_epoch if user else 0,
        },
        secret_store.jwt_secret(),
        algorithm=_ALGORITHM,
    )
    return token, STREAM_TOKEN_TTL_S


def authenticate_stream(token: str, job_id: str) -> Principal:
    """The caller behind a stream token for `job_id`, or 401 (another job, type, expiry or epoch)."""
    import jwt

    try:
        claims = jwt.decode(
            token,
            secret_store.jwt_secret(),
            algorithms=[_ALGORITHM],
            options={"require": ["sub", "exp", "iat", "job"]},
        )
    except jwt.PyJWTError:
        claims = {}
    try:
        user = (
            users.by_id(str(claims["sub"]))
            if claims.get("typ") == "stream" and claims.get("job") == job_id
            else None
        )
    except Exception as exc:
        if outage.store_of(exc) is not outage.Store.mysql:
            raise
        # MySQL is away, Redis (where the events are) may not be: the signed, unexpired token
        # names its user and its one job (it was minted after an ownership check and lives
        # minutes), so it reads that job's events on its own. Its epoch and a suspension are
        # checked again at the first read after MySQL is back.
        outage.report(outage.Store.mysql, exc, "stream token")
        return Principal(user_id=str(claims["sub"]), stream_job=job_id)
    _refuse_suspended(user)
    if user is None or claims.get("ep", 0) != user.session_epoch:
        raise Unauthorized(
            "Invalid or expired stream token", code="invalid_token", headers={"WWW-Authenticate": "Bearer"}
        )
    return Principal(user_id=str(claims["sub"]))
