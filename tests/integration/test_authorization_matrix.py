"""Authorization matrix (issue 10, proof): every route that takes an id, called by every kind of
caller. The owner gets through; another user gets 404 exactly like a missing resource; no
credentials, a revoked API key, an expired token, a token issued before a password reset, an API
key created before a password reset and one created before the address was verified (issue 23)
all get 401; an unverified account's credential writes get 403 `email_unverified`."""

from __future__ import annotations

import re
import time

import pytest

from chalicelib.infra import db, secret_store
from tests.conftest import Api, grant_plan
from tests.mailbox import last_link

PNG = {"filename": "a.png", "content_type": "image/png", "size_bytes": 100}


def _job(api, token) -> str:
    reply = api.call("POST", "/v1/jobs", {"prompt": "matrix", "duration_s": 5}, token=token)
    assert reply.status_code == 202, reply.body
    return reply.json["id"]


def _api_key(api, token) -> str:
    return api.call("POST", "/v1/api-keys", {"name": "m"}, token=token).json["id"]


def _endpoint(api, token) -> str:
    return api.call("POST", "/v1/webhook-endpoints", {"url": "http://127.0.0.1:9/hook"}, token=token).json[
        "id"
    ]


def _provider_key(api, token) -> str:
    assert (
        api.call("PUT", "/v1/provider-keys/openai", {"api_key": "sk-matrix-0000"}, token=token).status_code
        == 200
    )
    return "openai"


def _canceled_job(api, token) -> str:
    job_id = _job(api, token)
    assert api.call("POST", f"/v1/jobs/{job_id}/cancel", token=token).status_code == 202
    return job_id


# route -> (method, path template, makes a fresh resource of the caller's, the owner's status)
ROUTES = {
    "get job": ("GET", "/v1/jobs/{id}", _job, 200),
    "job events": ("GET", "/v1/jobs/{id}/events?wait=0", _job, 200),
    "job stream token": ("POST", "/v1/jobs/{id}/stream-token", _job, 201),
    "cancel job": ("POST", "/v1/jobs/{id}/cancel", _job, 202),
    "retry job": ("POST", "/v1/jobs/{id}/retry", _canceled_job, 202),
    "get upload": (
        "GET",
        "/v1/uploads/{id}",
        lambda api, t: api.call("POST", "/v1/uploads", PNG, token=t).json["id"],
        200,
    ),
    "delete api key": ("DELETE", "/v1/api-keys/{id}", _api_key, 204),
    "delete provider key": ("DELETE", "/v1/provider-keys/{id}", _provider_key, 204),
    "delete webhook endpoint": ("DELETE", "/v1/webhook-endpoints/{id}", _endpoint, 204),
}
CALLERS = [
    "owner",
    "owner's api key",
    "other user",
    "no auth",
    "revoked api key",
    "expired token",
    "token from before a password reset",
    "api key from before a password reset",
    "api key from before verification",
]


@pytest.fixture(scope="module")
def world(isolated_backends):
    """An owner whose password was reset after one of their tokens was issued, another user,
    and the credentials that must no longer work."""
    import jwt
    from chalice.test import Client

    from app import app
    from chalicelib.accounts import api_keys, auth

    with Client(app) as client:
        api = Api(client.http)
        owner, other = api.signup(verified=False), api.signup()
        grant_plan(owner["user"]["id"], "pro")  # quota for the jobs the matrix makes
        # a key left from before the address was proved (the API refuses to make one now; one
        # made before this rule, or by someone who signed up with the address first)
        unproved_key, prefix, key_hash = auth.new_api_key()
        api_keys.create(owner["user"]["id"], "unproved", prefix, key_hash, limit=100)
        api.verify_email(owner)
        revoked = api.call("POST", "/v1/api-keys", {"name": "soon revoked"}, token=owner["token"]).json
        assert api.call("DELETE", f"/v1/api-keys/{revoked['id']}", token=owner["token"]).status_code == 204
        key_before_reset = api.call("POST", "/v1/api-keys", {"name": "pre-reset"}, token=owner["token"]).json
        assert api.call("GET", "/v1/me", token=key_before_reset["key"]).status_code == 200
        before_reset = owner["token"]
        assert api.call("POST", "/v1/auth/password-reset", {"email": owner["email"]}).status_code == 202
        _, reset_token = last_link(owner["email"], "/reset-password")
        reset = api.call(
            "POST", "/v1/auth/password-reset/confirm", {"token": reset_token, "password": "the new password"}
        )
        assert reset.status_code == 200
        token = reset.json["access_token"]
        now = int(time.time())
        expired = jwt.encode(
            {"sub": owner["user"]["id"], "iat": now - 7200, "exp": now - 3600, "typ": "access", "ep": 1},
            secret_store.jwt_secret(),
            algorithm="HS256",
        )
        key = api.call("POST", "/v1/api-keys", {"name": "live"}, token=token).json["key"]
        yield {
            "api": api,
            "owner": token,
            "owner's api key": key,
            "other user": other["token"],
            "no auth": None,
            "revoked api key": revoked["key"],
            "expired token": expired,
            "token from before a password reset": before_reset,
            "api key from before a password reset": key_before_reset["key"],
            "api key from before verification": unproved_key,
        }


@pytest.mark.parametrize("caller", CALLERS)
@pytest.mark.parametrize("route", sorted(ROUTES))
def test_authorization_matrix(world, route, caller):
    api = world["api"]
    method, path, make, owner_status = ROUTES[route]
    resource = make(api, world["owner"])  # fresh each time: the owner's deletes don't interfere
    reply = api.call(method, path.format(id=resource), token=world[caller])
    expected = {"owner": owner_status, "owner's api key": owner_status, "other user": 404}.get(caller, 401)
    assert reply.status_code == expected, (route, caller, reply.body)
    if expected == 404:  # exactly like a missing one
        missing = api.call(method, path.format(id=resource[:-4] + "zzzz"), token=world[caller])
        assert missing.status_code == 404 and missing.json["error"]["code"] == reply.json["error"]["code"]
    if expected == 401:
        assert reply.json["error"]["code"] in ("unauthorized", "invalid_token")
        assert reply.headers.get("www-authenticate") == "Bearer"


def test_a_stream_token_ends_with_the_session_it_came_from(world):
    """The console's EventSource token: one job, and not past a password reset."""
    api = world["api"]
    job_id = _job(api, world["owner"])
    token = api.call("POST", f"/v1/jobs/{job_id}/stream-token", token=world["owner"]).json["token"]
    assert api.call("GET", f"/v1/jobs/{job_id}/events?wait=0&stream_token={token}").status_code == 200
    owner_id = api.call("GET", "/v1/me", token=world["owner"]).json["id"]
    with db.transaction() as cur:
        cur.execute("UPDATE users SET session_epoch = session_epoch + 1 WHERE id = %s", (owner_id,))
    try:
        stale = api.call("GET", f"/v1/jobs/{job_id}/events?wait=0&stream_token={token}")
        assert stale.status_code == 401 and stale.json["error"]["code"] == "invalid_token"
    finally:
        with db.transaction() as cur:
            cur.execute("UPDATE users SET session_epoch = session_epoch - 1 WHERE id = %s", (owner_id,))


WRITES = {
    "create api key": ("POST", "/v1/api-keys", {"name": "k"}),
    "create webhook endpoint": ("POST", "/v1/webhook-endpoints", {"url": "http://127.0.0.1:9/hook"}),
    "store provider key": ("PUT", "/v1/provider-keys/openai", {"api_key": "sk-matrix-0000"}),
}


@pytest.mark.parametrize("write", sorted(WRITES))
def test_an_unverified_account_writes_no_credentials(api, write):
    """Issue 23: whoever signs up with someone's address first can leave nothing behind for
    its owner to inherit; a verified account's same write succeeds."""
    method, path, body = WRITES[write]
    unverified = api.signup(verified=False)
    refused = api.call(method, path, body, token=unverified["token"])
    assert refused.status_code == 403, refused.body
    assert refused.json["error"]["code"] == "email_unverified"
    for table in ("api_keys", "webhook_endpoints", "provider_keys"):
        assert (
            db.count(f"SELECT COUNT(*) AS n FROM {table} WHERE user_id = %s", (unverified["user"]["id"],))
            == 0
        )
    api.verify_email(unverified)
    assert api.call(method, path, body, token=unverified["token"]).status_code in (200, 201)


# ---- the operator routes (issue 28): the operator gets through; every other caller gets 403
# `forbidden` (401 without valid credentials), whatever the resource.
def _user_id(api, token) -> str:
    return api.signup()["user"]["id"]


def _grant_body(api, token) -> tuple[str, dict]:
    return "", {"email": api.signup()["email"]}


def _operator_to_revoke(api, token) -> str:
    from chalicelib.accounts import roles

    return roles.grant(api.signup()["email"], None).id


# route -> (method, path template, makes the path's id (or an id and a body), the operator's status)
ADMIN_ROUTES = {
    "admin overview": ("GET", "/v1/admin/overview", None, 200),
    "admin customers": ("GET", "/v1/admin/customers?email=user-", None, 200),
    "admin customer": ("GET", "/v1/admin/customers/{id}", _user_id, 200),
    "admin suspend": ("POST", "/v1/admin/customers/{id}/suspend", _user_id, 200),
    "admin reinstate": ("POST", "/v1/admin/customers/{id}/reinstate", _user_id, 200),
    "admin job": ("GET", "/v1/admin/jobs/{id}", _job, 200),
    "admin dead letters": ("GET", "/v1/admin/dead-letters", None, 200),
    "admin redrive": (
        "POST",
        "/v1/admin/dead-letters/redrive",
        lambda api, t: ("", {"job_ids": [_job(api, t)]}),
        200,
    ),
    "admin spend": ("GET", "/v1/admin/spend", None, 200),
    "admin operators": ("GET", "/v1/admin/operators", None, 200),
    "admin grant operator": ("POST", "/v1/admin/operators", _grant_body, 201),
    "admin revoke operator": ("DELETE", "/v1/admin/operators/{id}", _operator_to_revoke, 204),
}


def test_the_matrix_holds_every_operator_route():
    from app import app

    def shape(path: str) -> str:
        return re.sub(r"\{[^}]*\}", "{}", path.split("?")[0])

    served = {
        (m, shape(path)) for path, entry in app.routes.items() if path.startswith("/v1/admin") for m in entry
    }
    assert served == {(method, shape(path)) for method, path, _, _ in ADMIN_ROUTES.values()}


OPERATOR_CALLERS = ["operator", "operator's api key", "token from before the role was revoked"]


@pytest.fixture(scope="module")
def operators(world):
    """An operator (role granted by the ops command, then a login), their API key, and the
    token of an operator whose role was revoked since."""
    from chalicelib.accounts import roles
    from chalicelib.runtime import ops

    api = world["api"]

    def operator_token() -> tuple[str, str]:
        who = api.signup()
        assert ops.main(["grant-operator", who["email"]]) == 0
        login = api.call("POST", "/v1/auth/login", {"email": who["email"], "password": who["password"]})
        assert login.status_code == 200, login.body
        return who["user"]["id"], login.json["access_token"]

    _, token = operator_token()
    revoked_id, revoked_token = operator_token()
    roles.revoke(revoked_id, None)
    key = api.call("POST", "/v1/api-keys", {"name": "ops"}, token=token).json["key"]
    return {
        "operator": token,
        "operator's api key": key,
        "token from before the role was revoked": revoked_token,
    }


@pytest.mark.parametrize("caller", CALLERS + OPERATOR_CALLERS)
@pytest.mark.parametrize("route", sorted(ADMIN_ROUTES))
def test_operator_routes_answer_only_the_operator(world, operators, route, caller):
    api = world["api"]
    method, path, make, operator_status = ADMIN_ROUTES[route]
    made = make(api, world["owner"]) if make else ""
    resource, body = made if isinstance(made, tuple) else (made, None)
    reply = api.call(method, path.format(id=resource), body, token={**world, **operators}[caller])
    unauthenticated = caller in (
        "no auth",
        "revoked api key",
        "expired token",
        "token from before a password reset",
        "api key from before a password reset",
        "api key from before verification",
    )
    expected = operator_status if caller == "operator" else 401 if unauthenticated else 403
    assert reply.status_code == expected, (route, caller, reply.body)
    if expected == 403:
        assert reply.json["error"]["code"] == "forbidden"
