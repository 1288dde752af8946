"""Account pre-hijack (issue 23, High): nothing set up in an account before its owner proved the
address or the password outlives that moment, and a stale credential fails where it is used even
if its delete was missed. Also: the owner is mailed about every new credential, and a `jobs`
scoped API key cannot mint another credential."""

from __future__ import annotations

from chalicelib.accounts import api_keys, auth, byok
from chalicelib.infra import db
from chalicelib.webhooks import repository as webhooks_db
from tests.mailbox import last_link, messages_to

HOOK = "http://127.0.0.1:9/hook"


def _credentials(api, user) -> dict:
    token = user["token"]
    key = api.call("POST", "/v1/api-keys", {"name": "ci"}, token=token)
    hook = api.call("POST", "/v1/webhook-endpoints", {"url": HOOK}, token=token)
    stored = api.call(
        "PUT",
        "/v1/provider-keys/openai",
        {"api_key": "sk-attacker-0000", "base_url": "http://127.0.0.1:9/v1"},
        token=token,
    )
    assert (key.status_code, hook.status_code, stored.status_code) == (201, 201, 200)
    return {"key": key.json["key"], "endpoint": hook.json["id"]}


def _held(user_id: str) -> dict[str, int]:
    return {
        table: db.count(f"SELECT COUNT(*) AS n FROM {table} WHERE user_id = %s", (user_id,))  # nosec B608
        for table in ("api_keys", "webhook_endpoints", "provider_keys")
    }


def _reset(api, email: str) -> str:
    assert api.call("POST", "/v1/auth/password-reset", {"email": email}).status_code == 202
    _, token = last_link(email, "/reset-password")
    confirmed = api.call(
        "POST", "/v1/auth/password-reset/confirm", {"token": token, "password": "the owner's own one"}
    )
    assert confirmed.status_code == 200, confirmed.body
    return confirmed.json["access_token"]


def test_a_password_reset_removes_every_credential_made_before_it(api, user):
    """The issue's path: credentials set up by whoever held the account before the owner reset
    the password. After the reset the API key is 401, no event goes to the endpoint, no prompt
    to the provider key's server."""
    made = _credentials(api, user)
    uid = user["user"]["id"]
    assert api.call("GET", "/v1/jobs", token=made["key"]).status_code == 200
    token = _reset(api, user["email"])
    assert _held(uid) == {"api_keys": 0, "webhook_endpoints": 0, "provider_keys": 0}
    stale = api.call("GET", "/v1/jobs", token=made["key"])
    assert stale.status_code == 401 and stale.json["error"]["code"] == "invalid_token"
    assert byok.open_key(uid, "openai") is None
    assert webhooks_db.sealed(made["endpoint"]) is None
    actions = [e["action"] for e in api.call("GET", "/v1/audit-log", token=token).json["items"]]
    assert "user.credentials_retired" in actions


def test_the_first_verification_removes_credentials_made_before_it(api):
    """Credentials an unverified account holds (made before this rule, or by whoever signed up
    with the address first) are gone once the address is proved; later ones stay."""
    user = api.signup(verified=False)
    uid = user["user"]["id"]
    key, prefix, key_hash = auth.new_api_key()
    api_keys.create(uid, "left behind", prefix, key_hash, limit=100)
    webhooks_db.create(uid, HOOK, None, b"sealed", b"wrapped")
    assert api.call("GET", "/v1/me", token=key).status_code == 200
    api.verify_email(user)
    assert _held(uid) == {"api_keys": 0, "webhook_endpoints": 0, "provider_keys": 0}
    assert api.call("GET", "/v1/me", token=key).status_code == 401
    _credentials(api, user)
    assert _held(uid) == {"api_keys": 1, "webhook_endpoints": 1, "provider_keys": 1}


def test_a_credential_from_an_older_epoch_fails_where_it_is_used_even_if_not_deleted(api, user):
    """Defence in depth: the epoch is checked at every use, so a missed delete is no way in."""
    made = _credentials(api, user)
    uid = user["user"]["id"]
    db.execute("UPDATE users SET credential_epoch = credential_epoch + 1 WHERE id = %s", (uid,))
    assert _held(uid) == {"api_keys": 1, "webhook_endpoints": 1, "provider_keys": 1}  # not deleted
    assert api.call("GET", "/v1/me", token=made["key"]).status_code == 401
    assert byok.open_key(uid, "openai") is None  # the worker opens no stale provider key
    assert webhooks_db.sealed(made["endpoint"]) is None  # a queued delivery finds nothing
    assert webhooks_db.of_user(uid) == []  # and no event fans out to it
    assert api.call("GET", "/v1/webhook-endpoints", token=user["token"]).json["items"] == []
    assert api.call("GET", "/v1/provider-keys", token=user["token"]).json["items"] == []
    job = api.call(
        "POST", "/v1/jobs", {"prompt": "p", "duration_s": 5, "webhook_url": HOOK}, token=user["token"]
    )
    assert job.status_code == 422  # no longer a registered endpoint


def test_the_owner_is_mailed_about_every_new_credential(api, user):
    before = len(messages_to(user["email"]))
    _credentials(api, user)
    subjects = [m["subject"] for m in messages_to(user["email"])[before:]]
    assert subjects == [
        "A new API key was added to your account",
        "A new webhook endpoint was added to your account",
        "A new provider key was added to your account",
    ]
    assert all("sk-attacker" not in m["body"] for m in messages_to(user["email"]))  # never the key


def test_a_jobs_scoped_api_key_cannot_mint_credentials(api, user):
    created = api.call("POST", "/v1/api-keys", {"name": "ci", "scope": "jobs"}, token=user["token"])
    assert created.status_code == 201 and created.json["scope"] == "jobs"
    key = created.json["key"]
    assert api.call("POST", "/v1/jobs", {"prompt": "p", "duration_s": 5}, token=key).status_code == 202
    for method, path, body in (
        ("POST", "/v1/api-keys", {"name": "more"}),
        ("POST", "/v1/webhook-endpoints", {"url": HOOK}),
        ("PUT", "/v1/provider-keys/openai", {"api_key": "sk-scoped-0000"}),
    ):
        refused = api.call(method, path, body, token=key)
        assert refused.status_code == 403 and refused.json["error"]["code"] == "insufficient_scope", path
    full = api.call("POST", "/v1/api-keys", {"name": "admin"}, token=user["token"]).json["key"]
    assert api.call("POST", "/v1/api-keys", {"name": "minted"}, token=full).status_code == 201
    listed = api.call("GET", "/v1/api-keys", token=user["token"]).json["items"]
    assert sorted(k["scope"] for k in listed) == ["full", "full", "jobs"]
