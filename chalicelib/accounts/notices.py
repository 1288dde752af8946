"""Mail to an account's owner about what happened to it (a new credential, a signup attempt).

Best effort: a notice that SES does not take is logged and audited, and the request it follows
still succeeds (the audit log shows the event either way).
"""

from __future__ import annotations

import logging

from chalicelib.accounts import users
from chalicelib.core.settings import get_settings
from chalicelib.infra import audit, mail

log = logging.getLogger(__name__)


def _send(user_id: str, email: str, subject: str, text: str) -> None:
    try:
        mail.send(email, subject, text)
    except mail.NotSent:
        audit.record("user.notice_not_sent", user_id=user_id, details={"subject": subject})


def credential_created(user_id: str, kind: str, label: str, ip: str | None) -> None:
    """`kind` is what was made ("API key", "webhook endpoint", ...), `label` how the owner knows it."""
    row = users.by_id(user_id)
    if row is None:
        return
    console = get_settings().public_url.rstrip("/")
    _send(
        user_id,
        row.email,
        f"A new {kind} was added to your account",
        f"A new {kind} ({label}) was added to your account"
        f"{f' from {ip}' if ip else ''}.\n\n"
        f"If this was not you, reset your password at {console}/forgot-password: that "
        "removes every API key, webhook endpoint and provider key, and signs you out everywhere.",
    )


def signup_attempted(row: users.UserRow) -> None:
    """Someone signed up with an address that already has an account: tell its owner (the reply
    to the signup is 409, as the contract says)."""
    console = get_settings().public_url.rstrip("/")
    _send(
        row.id,
        row.email,
        "Someone tried to sign up with your address",
        "Someone (perhaps you) tried to create an account with this address, which already has "
        f"one. Log in at {console}/login, or if you forgot the password, reset it at "
        f"{console}/forgot-password. If it was not you, nothing changed.",
    )


def no_account(email: str) -> None:
    """A password reset was asked for an address without an account: say so to the address (the
    API's reply is the same as for an account, and so is its time: one mail either way)."""
    console = get_settings().public_url.rstrip("/")
    try:
        mail.send(
            email,
            "Password reset requested",
            "Someone (perhaps you) asked to reset the password of an account at this address, "
            f"but there is none. To create one: {console}/signup. If it was not you, ignore this.",
        )
    except mail.NotSent:
        log.info("reset notice to an address without an account not sent")
