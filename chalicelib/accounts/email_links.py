"""Single-use links sent by email: verify an address, reset a password.

A link carries 256 random bits; only their SHA-256 is stored, with the address it was sent to,
the purpose and an expiry. Redeeming marks it used under a row lock, so it works once. The
links point at the console (`PUBLIC_URL`), whose pages post the token back to the API:
  {PUBLIC_URL}/verify-email?token=...    -> POST /v1/auth/verify-email {token}
  {PUBLIC_URL}/reset-password?token=...  -> POST /v1/auth/password-reset/confirm {token, password}
"""

from __future__ import annotations

import hashlib
import logging
import secrets
from urllib.parse import urlencode

from chalicelib.accounts import account_tokens
from chalicelib.accounts.account_tokens import Purpose
from chalicelib.core.errors import ApiError, Gone, NotFound
from chalicelib.core.settings import get_settings
from chalicelib.infra import mail, public_url

log = logging.getLogger(__name__)


PATHS = {Purpose.verify_email: "/verify-email", Purpose.password_reset: "/reset-password"}


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def link(purpose: Purpose, token: str) -> str:
    return f"{public_url.base()}{PATHS[purpose]}?{urlencode({'token': token})}"


def _ttl(purpose: Purpose) -> int:
    settings = get_settings()
    return (
        settings.email_verification_ttl_s
        if purpose is Purpose.verify_email
        else settings.password_reset_ttl_s
    )


def _message(purpose: Purpose, url: str) -> tuple[str, str]:
    minutes = _ttl(purpose) // 60
    if purpose is Purpose.verify_email:
        return (
            "Confirm your email address",
            f"Open this link to confirm your email address:\n\n{url}\n\n"
            f"It works once, for {minutes} minutes. If you did not sign up, ignore this message.",
        )
    return (
        "Reset your password",
        f"Open this link to choose a new password:\n\n{url}\n\n"
        f"It works once, for {minutes} minutes, and signs you out everywhere else. "
        "If you did not ask for it, ignore this message: your password stays as it is.",
    )


def send(purpose: Purpose, user_id: str, email: str) -> bool:
    """Store a fresh link and mail it; False when SES did not take the message."""
    token = secrets.token_urlsafe(32)
    account_tokens.create(token_hash(token), user_id, purpose, email, _ttl(purpose))
    subject, text = _message(purpose, link(purpose, token))
    try:
        mail.send(email, subject, text)
    except mail.NotSent:
        return False
    return True


def redeem(cur, purpose: Purpose, token: str) -> account_tokens.AccountTokenRow | None:
    """The link (its user_id, email) once (inside the caller's transaction), else None."""
    return account_tokens.redeem(cur, token_hash(token), purpose)


def refusal(cur, purpose: Purpose, token: str) -> ApiError:
    """Why a link cannot be redeemed, as the reply says it: 410 for one we issued that is used,
    expired or for an address the account no longer has; 404 for one we never issued."""
    if account_tokens.exists(cur, token_hash(token), purpose):
        return Gone(_SPENT, code="invalid_link", details={"reason": "used_or_expired"})
    return NotFound(_UNKNOWN, code="invalid_link", details={"reason": "unknown"})


_SPENT = "This link was already used or has expired; ask for a new one"
_UNKNOWN = "This link is not one we sent (check that it was copied whole)"


def retire(cur, purpose: Purpose, user_id: str) -> None:
    """The user's other outstanding links of this purpose stop working."""
    account_tokens.retire(cur, user_id, purpose)
