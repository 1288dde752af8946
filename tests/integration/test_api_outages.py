"""The API while a store is down: 503 `unavailable` with Retry-After on every route (the
authentication path included), one warning per outage, and what needs only the other store
keeps working."""

from __future__ import annotations

import logging
import re

import pytest

from chalicelib.core.settings import get_settings
from chalicelib.infra import db, outage
from chalicelib.infra.outage import Store
from tests.conftest import free_port


@pytest.fixture
def mysql_down(monkeypatch):
    """The app pointed at a port nothing listens on: every connect is refused, as when the
    server crashed (the suite's own MariaDB goes on serving everyone else)."""
    db.close()
    url = get_settings().database_url
    monkeypatch.setattr(get_settings(), "database_url", re.sub(r":\d+/", f":{free_port()}/", url))
    outage.recovered(Store.mysql)
    yield
    monkeypatch.undo()
    db.close()
    outage.recovered(Store.mysql)


def _assert_unavailable(response, dependency: str) -> None:
    assert response.status_code == 503, response.body
    assert response.json["error"]["code"] == "unavailable"
    assert response.json["error"]["details"]["dependency"] == dependency
    assert int(response.headers["retry-after"]) >= 1


def _every_route():
    from app import app

    for path, methods in app.routes.items():
        for method in methods:
            yield method, re.sub(r"\{[^}]+\}", "x_missing", path)


def test_every_route_answers_503_or_its_own_answer_while_mysql_is_down_never_500(
    api, user, mysql_down, caplog
):
    with caplog.at_level(logging.INFO):
        answers = {}
        for method, path in _every_route():
            body = {} if method in ("POST", "PUT") else None
            response = api.call(method, path, body, token=user["token"])
            answers[(method, path)] = response.status_code
            assert response.status_code != 500, (method, path, response.body)
            if response.status_code == 503 and path != "/v1/health":
                _assert_unavailable(response, "mysql")
    # the authenticated path reads the user from MySQL: refused, not crashed
    _assert_unavailable(api.call("GET", "/v1/me", token=user["token"]), "mysql")
    _assert_unavailable(api.call("GET", "/v1/jobs", token=user["token"]), "mysql")
    login = {"email": user["email"], "password": user["password"]}
    _assert_unavailable(api.call("POST", "/v1/auth/login", login), "mysql")
    assert answers[("GET", "/v1/openapi.json")] == 200  # needs no store at all
    warnings = [r for r in caplog.records if r.name == outage.__name__ and r.levelno == logging.WARNING]
    assert len(warnings) == 1, [r.getMessage() for r in warnings]  # one per outage
    assert not [r.getMessage() for r in caplog.records if r.exc_info]  # no stack per request


def test_health_names_mysql_as_the_dependency_that_is_down(api, mysql_down):
    response = api.call("GET", "/v1/health")
    assert response.status_code == 503
    assert response.json["checks"]["mysql"] == "down" and response.json["checks"]["redis"] == "ok"


def test_the_api_is_back_as_soon_as_mysql_is(api, user, mysql_down, monkeypatch):
    _assert_unavailable(api.call("GET", "/v1/me", token=user["token"]), "mysql")
    monkeypatch.undo()  # the server is back
    assert api.call("GET", "/v1/me", token=user["token"]).status_code == 200


def test_while_redis_is_down_reads_from_mysql_work_and_the_events_route_says_503(api, user, doomed_redis):
    job_id = api.submit_ok(user)  # before the outage
    doomed_redis.kill()
    doomed_redis.wait()
    assert api.call("GET", f"/v1/jobs/{job_id}", token=user["token"]).status_code == 200
    assert api.call("GET", "/v1/me", token=user["token"]).status_code == 200
    events = api.call("GET", f"/v1/jobs/{job_id}/events?wait_s=0", token=user["token"])
    _assert_unavailable(events, "redis")


def test_while_mysql_is_down_a_stream_token_still_follows_its_jobs_events_from_redis(api, user, monkeypatch):
    """The events are in Redis: a stream token (signed, minted after an ownership check, for
    one job, short-lived) reads them while MySQL is away; a bearer call needs the user's row."""
    job_id = api.submit_ok(user)
    minted = api.call("POST", f"/v1/jobs/{job_id}/stream-token", token=user["token"])
    assert minted.status_code == 201, minted.body
    stream_token = minted.json["token"]
    other = api.submit_ok(user)
    db.close()
    url = get_settings().database_url
    monkeypatch.setattr(get_settings(), "database_url", re.sub(r":\d+/", f":{free_port()}/", url))
    outage.recovered(Store.mysql)
    try:
        page = api.call("GET", f"/v1/jobs/{job_id}/events?wait_s=0&stream_token={stream_token}")
        assert page.status_code == 200, page.body
        assert page.json["events"] and page.json["status"] == "running"  # no terminal event yet
        assert all(e["id"] for e in page.json["events"])
        # the token reads its own job only, and a bearer call still needs the user's row
        other_page = api.call("GET", f"/v1/jobs/{other}/events?wait_s=0&stream_token={stream_token}")
        assert other_page.status_code == 401, other_page.body
        bearer = api.call("GET", f"/v1/jobs/{job_id}/events?wait_s=0", token=user["token"])
        _assert_unavailable(bearer, "mysql")
    finally:
        monkeypatch.undo()
        db.close()
        outage.recovered(Store.mysql)
