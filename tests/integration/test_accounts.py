"""Signup, login, tokens and API keys (API.md, Accounts)."""

from __future__ import annotations

import secrets
import unicodedata

from chalicelib.infra import db
from tests.mailbox import messages_to


def test_signup_returns_a_working_bearer_token(api):
    user = api.signup(email="New.Person@Example.com")
    assert user["token_type"] == "bearer" and user["expires_in"] > 0
    assert user["user"]["email"] == "new.person@example.com"
    me = api.call("GET", "/v1/me", token=user["token"])
    assert me.status_code == 200
    assert me.json["id"] == user["user"]["id"]
    assert me.json["plan"]["name"] == "free" and me.json["usage"]["jobs_used"] == 0
    assert me.json["membership"] is None


def test_password_is_stored_as_argon2_hash(api, user):
    row = db.fetch_one("SELECT password_hash FROM users WHERE id = %s", (user["user"]["id"],))
    assert row["password_hash"].startswith("$argon2id$")
    assert user["password"] not in row["password_hash"]


def test_a_signup_with_a_taken_address_is_409_and_its_owner_hears_of_it(api, user):
    """The contract's 409 `email_taken` stays (API.md); the owner is mailed a note (no link),
    the existing account keeps its password."""
    taken = api.call(
        "POST", "/v1/auth/signup", {"email": user["email"].upper(), "password": "another password"}
    )
    assert taken.status_code == 409 and taken.json["error"]["code"] == "email_taken"
    note = messages_to(user["email"])[-1]
    assert "already has" in note["body"] and "token=" not in note["body"]
    wrong = api.call("POST", "/v1/auth/login", {"email": user["email"], "password": "another password"})
    assert wrong.status_code == 401  # the existing account kept its password
    assert api.call("GET", "/v1/me", token=user["token"]).status_code == 200


def test_addresses_compare_in_canonical_form_byte_for_byte(api):
    """Issue 23: utf8mb4_unicode_ci made alice@exämple.com equal alice@example.com (squatting
    by 409); the canonical form (NFC, lower case) compared byte for byte keeps them apart, and
    the same address in another case or normalization is still the same account."""
    local = f"alice-{secrets.token_hex(4)}"
    plain = api.signup(email=f"{local}@example.com")
    umlaut = api.signup(email=f"{local}@exämple.com")
    assert umlaut["user"]["id"] != plain["user"]["id"]
    decomposed = unicodedata.normalize("NFD", f"{local.upper()}@EXÄMPLE.COM")
    again = api.call("POST", "/v1/auth/login", {"email": decomposed, "password": umlaut["password"]})
    assert again.status_code == 200 and again.json["user"]["id"] == umlaut["user"]["id"]


def test_signup_validation_names_the_fields(api):
    response = api.call("POST", "/v1/auth/signup", {"email": "not-an-email", "password": "short"})
    assert response.status_code == 422
    fields = {d["field"] for d in response.json["error"]["details"]}
    assert fields == {"email", "password"}


def test_login_with_right_and_wrong_password(api, user):
    ok = api.call("POST", "/v1/auth/login", {"email": user["email"], "password": user["password"]})
    assert ok.status_code == 200 and ok.json["user"]["id"] == user["user"]["id"]
    wrong = api.call("POST", "/v1/auth/login", {"email": user["email"], "password": "wrong password!"})
    assert wrong.status_code == 401
    assert wrong.json["error"]["code"] == "invalid_credentials"
    nobody = api.call("POST", "/v1/auth/login", {"email": "nobody@example.com", "password": "whatever123"})
    assert nobody.status_code == 401 and nobody.json["error"]["code"] == "invalid_credentials"
    failures = db.fetch_one(
        "SELECT COUNT(*) AS n FROM audit_log WHERE user_id = %s AND action = 'user.login_failed'",
        (user["user"]["id"],),
    )
    assert failures["n"] == 1


def test_requests_without_or_with_bad_credentials_are_401(api, user):
    for headers in (
        {},
        {"Authorization": "Basic abc"},
        {"Authorization": "Bearer nonsense"},
        {"Authorization": "Bearer ak_not_a_real_key"},
        {"Authorization": "Bearer " + user["token"][:-3] + "abc"},
    ):
        response = api.call("GET", "/v1/me", headers=headers)
        assert response.status_code == 401, headers
        assert response.json["error"]["code"] in ("unauthorized", "invalid_token")


def test_api_key_life_cycle(api, user):
    created = api.call("POST", "/v1/api-keys", {"name": "ci"}, token=user["token"])
    assert created.status_code == 201
    key = created.json["key"]
    assert key.startswith("ak_") and key.startswith(created.json["prefix"])

    listed = api.call("GET", "/v1/api-keys", token=user["token"])
    assert listed.status_code == 200
    assert [k["id"] for k in listed.json["items"]] == [created.json["id"]]
    assert "key" not in listed.json["items"][0]
    stored = db.fetch_one("SELECT * FROM api_keys WHERE id = %s", (created.json["id"],))
    assert key not in str(stored)

    assert api.call("GET", "/v1/me", token=key).json["id"] == user["user"]["id"]
    assert api.call("GET", "/v1/api-keys", token=key).json["items"][0]["last_used_at"] is not None

    deleted = api.call("DELETE", f"/v1/api-keys/{created.json['id']}", token=user["token"])
    assert deleted.status_code == 204
    assert api.call("GET", "/v1/me", token=key).status_code == 401
    assert api.call("DELETE", f"/v1/api-keys/{created.json['id']}", token=user["token"]).status_code == 404


def test_another_users_api_key_cannot_be_deleted(api, user):
    other = api.signup()
    created = api.call("POST", "/v1/api-keys", {"name": "mine"}, token=other["token"]).json
    response = api.call("DELETE", f"/v1/api-keys/{created['id']}", token=user["token"])
    assert response.status_code == 404
    assert api.call("GET", "/v1/me", token=created["key"]).status_code == 200


def test_api_key_list_pages_with_a_cursor(api, user):
    ids = [
        api.call("POST", "/v1/api-keys", {"name": f"k{i}"}, token=user["token"]).json["id"] for i in range(3)
    ]
    first = api.call("GET", "/v1/api-keys?limit=2", token=user["token"]).json
    assert [k["id"] for k in first["items"]] == ids[::-1][:2] and first["next_cursor"]
    second = api.call("GET", f"/v1/api-keys?limit=2&cursor={first['next_cursor']}", token=user["token"]).json
    assert [k["id"] for k in second["items"]] == [ids[0]] and second["next_cursor"] is None
