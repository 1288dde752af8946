"""Email verification and password reset (issue 10, finding 2): single-use, expiring links mailed
through SES (the emulator's, read back from it), stored only as hashes."""

from __future__ import annotations

import hashlib
import secrets

import pytest

from chalicelib.core.settings import get_settings
from chalicelib.infra import db
from tests.mailbox import last_link, messages_to


def test_signup_mails_a_verification_link_that_works_once(api):
    user = api.signup(verified=False)
    assert user["user"]["email_verified"] is False
    assert api.call("GET", "/v1/me", token=user["token"]).json["email_verified"] is False

    (message,) = messages_to(user["email"])
    assert message["source"] == get_settings().mail_from
    url, token = last_link(user["email"], "/verify-email")
    assert url.startswith("http://127.0.0.1:8000/verify-email?token=")

    verified = api.call("POST", "/v1/auth/verify-email", {"token": token}, token=user["token"])
    assert verified.status_code == 200, verified.body
    assert verified.json["user"]["email_verified"] is True
    assert api.call("GET", "/v1/me", token=user["token"]).json["email_verified"] is True
    again = api.call("POST", "/v1/auth/verify-email", {"token": token}, token=user["token"])
    assert again.status_code == 410 and again.json["error"]["code"] == "invalid_link"


def test_a_verification_link_works_only_signed_in_as_its_account(api):
    """Issue 23: a mail scanner, or the address's owner clicking the link of an account someone
    else signed up with, verifies nothing; the link stays good for the account's holder."""
    user, other = api.signup(verified=False), api.signup()
    _, token = last_link(user["email"], "/verify-email")
    signed_out = api.call("POST", "/v1/auth/verify-email", {"token": token})
    assert signed_out.status_code == 401
    as_other = api.call("POST", "/v1/auth/verify-email", {"token": token}, token=other["token"])
    assert as_other.status_code == 403 and as_other.json["error"]["code"] == "invalid_link"
    assert api.call("GET", "/v1/me", token=user["token"]).json["email_verified"] is False
    mine = api.call("POST", "/v1/auth/verify-email", {"token": token}, token=user["token"])
    assert mine.status_code == 200 and mine.json["user"]["email_verified"] is True


def test_links_are_stored_only_as_hashes(api):
    user = api.signup(verified=False)
    _, token = last_link(user["email"], "/verify-email")
    rows = db.fetch_all("SELECT * FROM account_tokens WHERE user_id = %s", (user["user"]["id"],))
    assert [r["token_hash"] for r in rows] == [hashlib.sha256(token.encode()).hexdigest()]
    assert not any(token in str(value) for row in rows for value in row.values())


@pytest.mark.parametrize("tamper", ["expired", "unknown", "other purpose"])
def test_expired_unknown_or_misused_links_are_refused(api, tamper):
    user = api.signup(verified=False)
    _, token = last_link(user["email"], "/verify-email")
    if tamper == "expired":
        db.execute(
            "UPDATE account_tokens SET expires_at = created_at WHERE user_id = %s", (user["user"]["id"],)
        )
        response = api.call("POST", "/v1/auth/verify-email", {"token": token}, token=user["token"])
    elif tamper == "unknown":
        response = api.call(
            "POST", "/v1/auth/verify-email", {"token": secrets.token_urlsafe(32)}, token=user["token"]
        )
    else:  # a verification token is not a password reset token
        response = api.call(
            "POST", "/v1/auth/password-reset/confirm", {"token": token, "password": "a brand new password"}
        )
    status = 404 if tamper in ("unknown", "other purpose") else 410  # never sent for that / spent
    assert response.status_code == status and response.json["error"]["code"] == "invalid_link"
    assert api.call("GET", "/v1/me", token=user["token"]).json["email_verified"] is False


@pytest.mark.parametrize(
    "path, body",
    [
        ("/v1/auth/verify-email", {}),
        ("/v1/auth/password-reset/confirm", {"password": "a brand new password"}),
    ],
)
def test_a_token_never_sent_is_404_on_both_link_routes(api, path, body):
    """Not 400: the request is well formed, there is just no such link (a spent one is 410)."""
    user = api.signup(verified=False)
    response = api.call("POST", path, {"token": secrets.token_urlsafe(32), **body}, token=user["token"])
    assert response.status_code == 404 and response.json["error"]["code"] == "invalid_link"


def test_resend_is_rate_limited_and_refused_once_verified(api, monkeypatch):
    user = api.signup(verified=False)
    monkeypatch.setattr(get_settings(), "rate_limit_email", "2/hour")
    codes = [
        api.call("POST", "/v1/auth/resend-verification", token=user["token"]).status_code for _ in range(3)
    ]
    assert codes == [202, 202, 429]
    assert len(messages_to(user["email"])) == 3  # the signup's and two resent
    limited = api.call("POST", "/v1/auth/resend-verification", token=user["token"])
    assert limited.json["error"]["code"] == "rate_limited" and int(limited.headers["retry-after"]) >= 1
    api.verify_email(user)  # the newest link works
    done = api.call("POST", "/v1/auth/resend-verification", token=user["token"])
    assert done.status_code == 409 and done.json["error"]["code"] == "already_verified"


def test_signup_succeeds_when_ses_refuses_and_resend_says_so(api, monkeypatch):
    monkeypatch.setattr(get_settings(), "mail_from", f"unverified-{secrets.token_hex(4)}@example.com")
    user = api.signup(verified=False)  # the account works; only the mail is missing
    assert messages_to(user["email"]) == []
    actions = [e["action"] for e in api.call("GET", "/v1/audit-log", token=user["token"]).json["items"]]
    assert "user.verification_not_sent" in actions
    resend = api.call("POST", "/v1/auth/resend-verification", token=user["token"])
    assert resend.status_code == 503 and resend.json["error"]["code"] == "email_unavailable"


def test_unverified_accounts_can_use_the_free_plan(api):
    user = api.signup(verified=False)
    job = api.call("POST", "/v1/jobs", {"prompt": "a paper boat", "duration_s": 5}, token=user["token"])
    assert job.status_code == 202
    assert api.call("GET", "/v1/me", token=user["token"]).json["plan"]["name"] == "free"


# ---- password reset ---------------------------------------------------------------------------
def reset(api, user, new_password: str = "a brand new password"):
    assert api.call("POST", "/v1/auth/password-reset", {"email": user["email"]}).status_code == 202
    _, token = last_link(user["email"], "/reset-password")
    return token, api.call(
        "POST", "/v1/auth/password-reset/confirm", {"token": token, "password": new_password}
    )


def test_reset_sets_the_password_and_ends_every_earlier_session(api, user):
    earlier = api.call("POST", "/v1/auth/login", {"email": user["email"], "password": user["password"]}).json
    token, confirmed = reset(api, user)
    assert confirmed.status_code == 200, confirmed.body
    for old in (user["token"], earlier["access_token"]):
        gone = api.call("GET", "/v1/me", token=old)
        assert gone.status_code == 401 and gone.json["error"]["code"] == "invalid_token"
    assert api.call("GET", "/v1/me", token=confirmed.json["access_token"]).status_code == 200
    assert (
        api.call("POST", "/v1/auth/login", {"email": user["email"], "password": user["password"]}).status_code
        == 401
    )
    fresh = api.call("POST", "/v1/auth/login", {"email": user["email"], "password": "a brand new password"})
    assert fresh.status_code == 200
    assert api.call("GET", "/v1/me", token=fresh.json["access_token"]).status_code == 200
    reused = api.call(
        "POST", "/v1/auth/password-reset/confirm", {"token": token, "password": "yet another one!"}
    )
    assert reused.status_code == 410 and reused.json["error"]["code"] == "invalid_link"
    assert confirmed.json["user"]["email_verified"] is True  # the link proved the address


def test_reset_links_last_thirty_minutes_and_a_newer_reset_retires_older_links(api, user):
    assert api.call("POST", "/v1/auth/password-reset", {"email": user["email"]}).status_code == 202
    _, first = last_link(user["email"], "/reset-password")
    row = db.fetch_one(
        "SELECT TIMESTAMPDIFF(SECOND, created_at, expires_at) AS ttl FROM account_tokens"
        " WHERE token_hash = SHA2(%s, 256)",
        (first,),
    )
    assert row["ttl"] == 30 * 60
    _, confirmed = reset(api, user)
    assert confirmed.status_code == 200
    stale = api.call(
        "POST", "/v1/auth/password-reset/confirm", {"token": first, "password": "one more password"}
    )
    assert stale.status_code == 410  # retired by the newer reset


def test_an_expired_reset_link_changes_nothing(api, user):
    assert api.call("POST", "/v1/auth/password-reset", {"email": user["email"]}).status_code == 202
    _, token = last_link(user["email"], "/reset-password")
    db.execute("UPDATE account_tokens SET expires_at = created_at WHERE token_hash = SHA2(%s, 256)", (token,))
    late = api.call(
        "POST", "/v1/auth/password-reset/confirm", {"token": token, "password": "a brand new password"}
    )
    assert late.status_code == 410  # expired
    assert api.call("GET", "/v1/me", token=user["token"]).status_code == 200
    assert (
        api.call("POST", "/v1/auth/login", {"email": user["email"], "password": user["password"]}).status_code
        == 200
    )


def test_reset_request_does_not_reveal_whether_an_account_exists(api, user):
    nobody = f"nobody-{secrets.token_hex(4)}@example.com"
    known = api.call("POST", "/v1/auth/password-reset", {"email": user["email"]})
    unknown = api.call("POST", "/v1/auth/password-reset", {"email": nobody})
    assert known.status_code == unknown.status_code == 202
    assert known.json == unknown.json
    # one mail either way (the same SES call, so the same time): the address without an
    # account is told so, with no link
    (note,) = messages_to(nobody)
    assert "there is none" in note["body"] and "/reset-password" not in note["body"]
    assert last_link(user["email"], "/reset-password")


def test_reset_requests_are_rate_limited_per_address_known_or_not(api, user, monkeypatch):
    monkeypatch.setattr(get_settings(), "rate_limit_email", "2/hour")
    for email in (user["email"], f"nobody-{secrets.token_hex(4)}@example.com"):
        codes = [api.call("POST", "/v1/auth/password-reset", {"email": email}).status_code for _ in range(3)]
        assert codes == [202, 202, 429]
    assert len([m for m in messages_to(user["email"]) if "/reset-password" in m["body"]]) == 2


def test_reset_validation_names_the_fields(api):
    response = api.call("POST", "/v1/auth/password-reset/confirm", {"token": "x" * 20, "password": "short"})
    assert response.status_code == 422
    assert [d["field"] for d in response.json["error"]["details"]] == ["password"]
    assert api.call("POST", "/v1/auth/password-reset", {"email": "not an email"}).status_code == 422
