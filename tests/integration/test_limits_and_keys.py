"""Rate limits, failed-login slow-down, BYOK provider keys at rest, and the audit log."""

from __future__ import annotations

import logging
import secrets

import pytest

from chalicelib.accounts import byok
from chalicelib.core.settings import get_settings
from chalicelib.infra import db, ratelimit
from tests.conftest import signup_over_http


@pytest.mark.usefixtures("redis_mode")
def test_job_submissions_are_rate_limited_per_user(api, user, monkeypatch):
    monkeypatch.setattr(get_settings(), "rate_limit_jobs", "3/minute")
    codes = [
        api.call("POST", "/v1/jobs", {"prompt": f"p{i}", "duration_s": 5}, token=user["token"]).status_code
        for i in range(4)
    ]
    assert codes == [202, 202, 202, 429]
    limited = api.call("POST", "/v1/jobs", {"prompt": "p", "duration_s": 5}, token=user["token"])
    assert limited.json["error"]["code"] == "rate_limited"
    assert 1 <= int(limited.headers["retry-after"]) <= 60
    other = api.signup()  # another user's budget is their own
    assert (
        api.call("POST", "/v1/jobs", {"prompt": "p", "duration_s": 5}, token=other["token"]).status_code
        == 202
    )


def test_default_limits_let_a_burst_of_twenty_through_to_the_quota():
    from limits import parse

    assert parse(type(get_settings()).model_fields["rate_limit_jobs"].default).amount >= 30


@pytest.mark.usefixtures("redis_mode")
def test_signup_and_login_are_rate_limited_per_ip(monkeypatch):
    """Per source address. A made-up address of this test's own: the test Redis db is shared by
    every session on the machine, and the in-process client's address (127.0.0.1) is everyone's."""
    from chalicelib.accounts import service as accounts
    from chalicelib.core.errors import RateLimited
    from chalicelib.http.schemas.accounts import Credentials

    monkeypatch.setattr(get_settings(), "rate_limit_auth", "2/minute")
    source = f"198.18.{secrets.randbelow(256)}.{secrets.randbelow(256)}"
    for _ in range(2):
        accounts.signup(
            Credentials(email=f"rl-{secrets.token_hex(4)}@example.com", password="long enough pw"), source
        )
    with pytest.raises(RateLimited) as limited:
        accounts.signup(
            Credentials(email=f"rl-{secrets.token_hex(4)}@example.com", password="long enough pw"), source
        )
    assert 1 <= int(limited.value.headers["Retry-After"]) <= 60
    with pytest.raises(RateLimited):
        accounts.login(Credentials(email="a@example.com", password="whatever12"), source)
    accounts.signup(
        Credentials(
            email=f"rl-{secrets.token_hex(4)}@example.com",  # elsewhere: fine
            password="long enough pw",
        ),
        source + "0",
    )


@pytest.mark.usefixtures("redis_mode")
def test_repeated_failed_logins_slow_the_account_down(api, user, monkeypatch):
    monkeypatch.setattr(get_settings(), "login_failures_allowed", 3)
    wrong = {"email": user["email"], "password": "not the password"}
    codes = [api.call("POST", "/v1/auth/login", wrong).status_code for _ in range(4)]
    assert codes == [401, 401, 401, 401]  # the 4th fails and starts the wait (1 s)
    for _ in range(3):  # three more from the same source (the in-process client's): 8 s, so a
        ratelimit.login_failed(user["email"], "127.0.0.1")  # slow machine can't outwait it
    blocked = api.call("POST", "/v1/auth/login", {"email": user["email"], "password": user["password"]})
    assert blocked.status_code == 429 and blocked.json["error"]["code"] == "login_throttled"
    assert int(blocked.headers["retry-after"]) >= 1
    other = api.signup()  # other accounts are not affected
    assert (
        api.call(
            "POST", "/v1/auth/login", {"email": other["email"], "password": other["password"]}
        ).status_code
        == 200
    )


@pytest.mark.usefixtures("redis_mode")
def test_a_locked_out_source_does_not_lock_the_owner_out_elsewhere(api, user, monkeypatch):
    """An attacker failing on purpose every few minutes must not keep the victim out."""
    from chalicelib.accounts import service as accounts
    from chalicelib.core.errors import RateLimited, Unauthorized
    from chalicelib.http.schemas.accounts import Credentials

    monkeypatch.setattr(get_settings(), "login_failures_allowed", 2)
    wrong = Credentials(email=user["email"], password="not the password")
    right = Credentials(email=user["email"], password=user["password"])
    attacker, owner = "203.0.113.7", "198.51.100.23"
    for _ in range(3):
        with pytest.raises(Unauthorized):
            accounts.login(wrong, attacker)
    with pytest.raises(RateLimited):  # the attacker's source waits, even with the right password
        accounts.login(right, attacker)
    assert accounts.login(right, owner).access_token  # the owner, from their own address, gets in
    with pytest.raises(Unauthorized):  # and their source starts with a clean count
        accounts.login(wrong, owner)


def test_provider_key_is_encrypted_at_rest_and_never_returned_or_logged(api, user, caplog, capsys):
    plaintext = "sk-live-" + secrets.token_hex(20)
    caplog.set_level(logging.DEBUG)  # libraries (boto, urllib3) at their most verbose
    logging.getLogger("chalicelib").setLevel(logging.DEBUG)
    put = api.call("PUT", "/v1/provider-keys/openai", {"api_key": plaintext}, token=user["token"])
    assert put.status_code == 200
    assert put.json["provider"] == "openai" and put.json["last4"] == plaintext[-4:]
    listed = api.call("GET", "/v1/provider-keys", token=user["token"])
    assert [k["provider"] for k in listed.json["items"]] == ["openai"]
    assert plaintext not in put.body.decode() + listed.body.decode()

    # the worker's view: the key opens only for its owner
    assert byok.open_key(user["user"]["id"], "openai") == (plaintext, None)
    other = api.signup()
    db.execute(
        "INSERT INTO provider_keys (user_id, provider, encrypted_key, wrapped_dek, kms_key_id,"
        " last4, created_at, updated_at, credential_epoch) SELECT %s, provider, encrypted_key,"
        " wrapped_dek, kms_key_id, last4, created_at, updated_at,"
        " (SELECT credential_epoch FROM users WHERE id = %s) FROM provider_keys WHERE user_id = %s",
        (other["user"]["id"], other["user"]["id"], user["user"]["id"]),  # current: only AAD stops it
    )
    with pytest.raises(Exception):
        byok.open_key(other["user"]["id"], "openai")

    dump = repr(db.fetch_all("SELECT * FROM provider_keys"))
    assert plaintext not in dump and plaintext.encode().hex() not in dump
    logged = caplog.text + capsys.readouterr().out  # our JSON log lines go to stdout
    assert '"method":"PUT","path":"/v1/provider-keys/' in logged.replace(" ", "")  # capture works
    assert plaintext not in logged

    assert api.call("DELETE", "/v1/provider-keys/openai", token=user["token"]).status_code == 204
    assert api.call("DELETE", "/v1/provider-keys/openai", token=user["token"]).status_code == 404
    assert byok.open_key(user["user"]["id"], "openai") is None


@pytest.mark.parametrize(
    "body, field",
    [
        ({"api_key": "short"}, "api_key"),
        ({"api_key": "has spaces in it"}, "api_key"),
        ({"api_key": "sk-123456789", "base_url": "http://169.254.169.254/latest"}, "base_url"),
        ({"api_key": "sk-123456789", "base_url": "http://api.example.com/v1"}, "base_url"),
    ],
)
def test_bad_provider_keys_are_422(api, user, body, field):
    response = api.call("PUT", "/v1/provider-keys/openai", body, token=user["token"])
    assert response.status_code == 422
    assert response.json["error"]["details"][0]["field"] == field


def test_unknown_provider_is_422_and_local_base_url_is_allowed_locally(api, user):
    assert (
        api.call(
            "PUT", "/v1/provider-keys/nope", {"api_key": "sk-123456789"}, token=user["token"]
        ).status_code
        == 422
    )
    ollama = api.call(
        "PUT",
        "/v1/provider-keys/openai",
        {"api_key": "ollama-key", "base_url": "http://127.0.0.1:11434/v1"},
        token=user["token"],
    )
    assert ollama.status_code == 200 and ollama.json["base_url"] == "http://127.0.0.1:11434/v1"


def test_audit_log_lists_the_users_own_actions_newest_first(api, user):
    key = api.call("POST", "/v1/api-keys", {"name": "a"}, token=user["token"]).json
    api.call("DELETE", f"/v1/api-keys/{key['id']}", token=user["token"])
    api.call("PUT", "/v1/provider-keys/openai", {"api_key": "sk-abcdefgh1234"}, token=user["token"])
    job = api.call("POST", "/v1/jobs", {"prompt": "audit me", "duration_s": 5}, token=user["token"]).json
    api.call("POST", f"/v1/jobs/{job['id']}/cancel", token=user["token"])
    api.call("POST", "/v1/auth/login", {"email": user["email"], "password": "wrong password"})

    first = api.call("GET", "/v1/audit-log?limit=3", token=user["token"]).json
    rest = api.call("GET", f"/v1/audit-log?cursor={first['next_cursor']}", token=user["token"]).json
    actions = [e["action"] for e in first["items"] + rest["items"]]
    assert actions == [
        "user.login_failed",
        "job.canceled",
        "job.created",
        "provider_key.set",
        "api_key.revoked",
        "api_key.created",
        "user.email_verified",
        "user.signup",
    ]
    assert rest["next_cursor"] is None
    other = api.signup()
    assert [e["action"] for e in api.call("GET", "/v1/audit-log", token=other["token"]).json["items"]] == [
        "user.email_verified",
        "user.signup",
    ]


# ---- caps and write limits on credentials (issue 10, finding 7) -------------------------------
def test_api_keys_are_capped_per_user(api, user, monkeypatch):
    monkeypatch.setattr(get_settings(), "max_api_keys_per_user", 2)
    made = [api.call("POST", "/v1/api-keys", {"name": f"k{i}"}, token=user["token"]) for i in range(3)]
    assert [r.status_code for r in made] == [201, 201, 409]
    assert made[2].json["error"]["code"] == "api_key_limit_reached"
    assert made[2].json["error"]["details"] == {"limit": 2}
    assert api.call("DELETE", f"/v1/api-keys/{made[0].json['id']}", token=user["token"]).status_code == 204
    assert api.call("POST", "/v1/api-keys", {"name": "again"}, token=user["token"]).status_code == 201


def test_the_api_key_cap_holds_under_parallel_requests(live_api, monkeypatch):
    from concurrent.futures import ThreadPoolExecutor

    import httpx

    token = signup_over_http(live_api)
    limit = get_settings().max_api_keys_per_user  # the live API's own settings: the default
    with ThreadPoolExecutor(8) as pool:
        codes = list(
            pool.map(
                lambda i: (
                    httpx.post(
                        f"{live_api}/v1/api-keys",
                        json={"name": f"k{i}"},
                        timeout=30,
                        headers={"Authorization": f"Bearer {token}"},
                    ).status_code
                ),
                range(limit + 5),
            )
        )
    assert codes.count(201) == limit and codes.count(409) == 5


def test_webhook_endpoints_are_capped_per_user(api, user, monkeypatch):
    monkeypatch.setattr(get_settings(), "max_webhook_endpoints_per_user", 2)
    made = [
        api.call("POST", "/v1/webhook-endpoints", {"url": f"http://127.0.0.1:9/{i}"}, token=user["token"])
        for i in range(3)
    ]
    assert [r.status_code for r in made] == [201, 201, 409]
    assert made[2].json["error"]["code"] == "webhook_endpoint_limit_reached"
    assert (
        db.fetch_one("SELECT COUNT(*) AS n FROM webhook_endpoints WHERE user_id = %s", (user["user"]["id"],))[
            "n"
        ]
        == 2
    )


@pytest.mark.usefixtures("redis_mode")
@pytest.mark.parametrize("write", ["api_key", "provider_key", "webhook_endpoint", "mixed"])
def test_credential_writes_are_rate_limited_per_user(api, user, monkeypatch, write):
    monkeypatch.setattr(get_settings(), "rate_limit_credential_writes", "3/minute")
    calls = {
        "api_key": lambda i: api.call("POST", "/v1/api-keys", {"name": f"k{i}"}, token=user["token"]),
        "provider_key": lambda i: api.call(
            "PUT", "/v1/provider-keys/openai", {"api_key": f"sk-test-{i:08d}"}, token=user["token"]
        ),
        "webhook_endpoint": lambda i: api.call(
            "POST", "/v1/webhook-endpoints", {"url": f"http://127.0.0.1:9/{i}"}, token=user["token"]
        ),
    }
    kinds = list(calls) + ["api_key"] if write == "mixed" else [write] * 4
    replies = [calls[kind](i) for i, kind in enumerate(kinds)]
    assert [r.status_code for r in replies[:3]] in ([201] * 3, [200] * 3, [201, 200, 201])
    assert replies[3].status_code == 429 and replies[3].json["error"]["code"] == "rate_limited"
    assert 1 <= int(replies[3].headers["retry-after"]) <= 60
    other = api.signup()  # another user's budget is their own
    assert api.call("POST", "/v1/api-keys", {"name": "mine"}, token=other["token"]).status_code == 201


def test_one_event_fans_out_to_a_bounded_number_of_endpoints(api, user, monkeypatch):
    from chalicelib.http.schemas.jobs import Event
    from chalicelib.jobs.states import EventType
    from chalicelib.webhooks import repository as webhooks_db
    from chalicelib.webhooks import service as webhooks
    from tests.workers import private_queue

    for i in range(5):  # more than the fan-out bound, as rows made before the cap could be
        webhooks_db.create(user["user"]["id"], f"http://127.0.0.1:9/{i}", None, b"x", b"y")
    monkeypatch.setattr(get_settings(), "webhook_fanout_max", 3)
    with private_queue(monkeypatch):
        job = api.call("POST", "/v1/jobs", {"prompt": "fan", "duration_s": 5}, token=user["token"]).json
        event = Event(
            id="1-0",
            type=EventType.job_succeeded,
            step=None,
            progress=100,
            message=None,
            at="2026-01-01T00:00:00Z",
        )
        assert webhooks.fan_out(job["id"], user["user"]["id"], None, event) == 3
