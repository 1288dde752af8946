"""The operator's console API (issue 28): the role, the overview, customers and suspension, the
job inspector, the dead letter's redrive and spend, each as an operator would use it."""

from __future__ import annotations

from datetime import timedelta

import pytest

from chalicelib.accounts import roles
from chalicelib.billing import usage
from chalicelib.core.ids import utcnow
from chalicelib.infra import db
from chalicelib.jobs import lifecycle
from chalicelib.runtime import ops


def _login(api, who: dict) -> str:
    reply = api.call("POST", "/v1/auth/login", {"email": who["email"], "password": who["password"]})
    assert reply.status_code == 200, reply.body
    return reply.json["access_token"]


@pytest.fixture
def operator(api) -> dict:
    who = api.signup()
    assert ops.main(["grant-operator", who["email"]]) == 0
    return {**who, "token": _login(api, who)}


def _audit(action: str, target: str) -> list[dict]:
    return db.fetch_all("SELECT * FROM audit_log WHERE action = %s AND target = %s", (action, target))


DETAIL = "HTTP 500 from the upstream: {'error': 'model overloaded'}"


def _failed_job(api, user: dict, code: str = "provider_error") -> str:
    """A job whose image step failed as the engine records it: the step run keeps the
    provider's answer (the detail), the job the code and our words."""
    job_id = api.submit_ok(user)
    assert lifecycle.start(job_id, user["user"]["id"], 10, "test-worker:1", 60).value == "started"
    assert lifecycle.step_started(job_id, "image", "test-worker:1", 10)
    assert lifecycle.step_failed(job_id, "image", "test-worker:1", code, "the image provider failed", DETAIL)
    assert lifecycle.fail(job_id, code, "the image provider failed", "image")
    return job_id


def test_the_role_comes_with_the_next_login_and_is_audited(api):
    who = api.signup()
    before = who["token"]
    assert ops.main(["grant-operator", who["email"]]) == 0
    assert _audit("operator.granted", who["user"]["id"])
    assert api.call("GET", "/v1/admin/overview", token=before).status_code == 403
    assert api.call("GET", "/v1/me", token=before).json["operator"] is False
    token = _login(api, who)
    assert api.call("GET", "/v1/me", token=token).json["operator"] is True
    assert api.call("GET", "/v1/admin/overview", token=token).status_code == 200


def test_an_operator_grants_and_revokes_another_at_once(api, operator):
    other = api.signup()
    granted = api.call("POST", "/v1/admin/operators", {"email": other["email"]}, token=operator["token"])
    assert granted.status_code == 201 and granted.json["id"] == other["user"]["id"]
    entry = _audit("operator.granted", other["user"]["id"])[-1]
    assert entry["user_id"] == operator["user"]["id"]  # who did it
    token = _login(api, other)
    listed = api.call("GET", "/v1/admin/operators", token=operator["token"]).json["items"]
    assert other["user"]["id"] in [o["id"] for o in listed]
    revoked = api.call("DELETE", f"/v1/admin/operators/{other['user']['id']}", token=operator["token"])
    assert revoked.status_code == 204
    assert api.call("GET", "/v1/admin/overview", token=token).status_code == 403  # the same token
    assert _audit("operator.revoked", other["user"]["id"])


def test_an_operator_cannot_revoke_their_own_role(api, operator):
    reply = api.call("DELETE", f"/v1/admin/operators/{operator['user']['id']}", token=operator["token"])
    assert reply.status_code == 409 and reply.json["error"]["code"] == "cannot_revoke_self"


def test_the_overview_counts_todays_jobs_the_wait_and_failures_by_code_and_step(api, operator, user):
    from tests.conftest import grant_plan

    grant_plan(user["user"]["id"], "pro")
    first = api.call("GET", "/v1/admin/overview", token=operator["token"]).json
    queued = api.submit_ok(user)
    failed = _failed_job(api, user, code="overview_probe")
    view = api.call("GET", "/v1/admin/overview?days=3", token=operator["token"])
    assert view.status_code == 200, view.body
    now = view.json
    assert len(now["per_day"]) == 3 and now["per_day"][-1]["day"] == utcnow().date().isoformat()
    assert now["per_day"][-1]["total"] >= first["per_day"][-1]["total"] + 2
    assert now["by_status"]["queued"] >= 1 and now["by_status"]["failed"] >= 1
    assert now["queue"]["depth"] >= 1  # the queued job waits in BullMQ
    assert now["wait"]["samples"] >= 1 and now["wait"]["p95_s"] >= now["wait"]["p50_s"] >= 0
    assert {"code": "overview_probe", "step": "image", "count": 1} in now["failures"]
    assert queued and failed


def test_a_failed_job_is_found_by_its_customers_email_inspected_and_redriven(api, operator, user):
    job_id = _failed_job(api, user)
    found = api.call(
        "GET", f"/v1/admin/customers?email={user['email'][:12].upper()}", token=operator["token"]
    )
    assert [c["id"] for c in found.json["items"]] == [user["user"]["id"]]
    detail = api.call(
        "GET", f"/v1/admin/customers/{user['user']['id']}?status=failed", token=operator["token"]
    ).json
    assert [j["id"] for j in detail["recent_jobs"]] == [job_id]
    assert detail["plan"]["name"] == "free"
    me = api.call("GET", "/v1/me", token=user["token"]).json
    assert detail["credits"] == me["credits"]  # what the customer sees of their credits
    used = detail["usage"]["jobs_used"]
    page = api.call("GET", f"/v1/admin/jobs/{job_id}", token=operator["token"]).json
    assert page["owner"]["email"] == user["email"] and page["job"]["status"] == "failed"
    assert page["internal"]["error_message"] == "the image provider failed"
    assert page["internal"]["error_detail"] == DETAIL
    assert [(r["step"], r["owner"], r["error_detail"]) for r in page["internal"]["runs"]] == [
        ("image", "test-worker:1", DETAIL)
    ]
    owners = api.call("GET", f"/v1/jobs/{job_id}", token=user["token"])
    assert "model overloaded" not in owners.body.decode()  # kept from the owner
    dead = api.call(
        "GET", "/v1/admin/dead-letters?code=provider_error&limit=100", token=operator["token"]
    ).json
    assert job_id in [d["id"] for d in dead["items"]]
    again = api.call(
        "POST", "/v1/admin/dead-letters/redrive", {"job_ids": [job_id, job_id]}, token=operator["token"]
    )
    assert again.status_code == 200 and again.json == {"redriven": [job_id], "skipped": []}
    job = api.call("GET", f"/v1/jobs/{job_id}", token=user["token"]).json
    assert job["status"] == "queued" and job["attempt"] == 2
    assert api.call("GET", "/v1/me", token=user["token"]).json["usage"]["jobs_used"] == used  # not charged
    assert _audit("admin.job_redriven", job_id)[0]["user_id"] == operator["user"]["id"]
    twice = api.call("POST", "/v1/admin/dead-letters/redrive", {"job_ids": [job_id]}, token=operator["token"])
    assert twice.json == {"redriven": [], "skipped": [job_id]}


def test_dead_letters_page_newest_first(api, operator, user):
    from tests.conftest import grant_plan

    grant_plan(user["user"]["id"], "pro")
    ids = [_failed_job(api, user, code="paging_probe") for _ in range(3)]
    first = api.call("GET", "/v1/admin/dead-letters?code=paging_probe&limit=2", token=operator["token"]).json
    rest = api.call(
        "GET",
        f"/v1/admin/dead-letters?code=paging_probe&limit=2&cursor={first['next_cursor']}",
        token=operator["token"],
    ).json
    assert [d["id"] for d in first["items"] + rest["items"]] == ids[::-1] and rest["next_cursor"] is None


def test_a_suspended_account_stops_and_its_queued_jobs_are_refunded(api, operator, user):
    key = api.call("POST", "/v1/api-keys", {"name": "k"}, token=user["token"]).json["key"]
    job_id = api.submit_ok(user)
    assert api.call("GET", "/v1/me", token=user["token"]).json["usage"]["jobs_used"] == 1
    reply = api.call("POST", f"/v1/admin/customers/{user['user']['id']}/suspend", token=operator["token"])
    assert reply.status_code == 200, reply.body
    assert reply.json["canceled_jobs"] == [job_id] and reply.json["customer"]["suspended_at"]
    for credential in (user["token"], key):
        refused = api.call("GET", "/v1/jobs", token=credential)
        assert refused.status_code == 403 and refused.json["error"]["code"] == "account_suspended"
    login = api.call("POST", "/v1/auth/login", {"email": user["email"], "password": user["password"]})
    assert login.status_code == 403
    detail = api.call("GET", f"/v1/admin/customers/{user['user']['id']}", token=operator["token"]).json
    assert detail["usage"]["jobs_used"] == 0 and detail["recent_jobs"][0]["status"] == "canceled"
    assert _audit("admin.customer_suspended", user["user"]["id"])[0]["user_id"] == operator["user"]["id"]

    back = api.call("POST", f"/v1/admin/customers/{user['user']['id']}/reinstate", token=operator["token"])
    assert back.status_code == 200 and back.json["suspended_at"] is None
    assert api.call("GET", "/v1/jobs", token=key).status_code == 200
    assert api.call("GET", "/v1/jobs", token=user["token"]).status_code == 401  # log in again
    assert api.call("GET", "/v1/jobs", token=_login(api, user)).status_code == 200


def test_an_operator_cannot_be_suspended(api, operator):
    other = api.signup()
    roles.grant(other["email"], None)
    reply = api.call("POST", f"/v1/admin/customers/{other['user']['id']}/suspend", token=operator["token"])
    assert reply.status_code == 409 and reply.json["error"]["code"] == "is_operator"


def test_spend_sums_provider_usage_per_day_and_names_the_top_customers(api, operator, user):
    job_id = api.submit_ok(user)
    record = {
        "purpose": "image",
        "provider": "spend-probe",
        "model": "m",
        "tokens_in": 0,
        "tokens_out": 0,
        "characters": 0,
        "images": 2,
        "audio_s": 0.0,
        "bytes": 10,
        "wall_s": 1.5,
    }
    db.execute("DELETE FROM provider_usage WHERE provider = %s", ("spend-probe",))  # an interrupted run's
    # More platform spend than today's costliest customer (other tests and earlier runs share
    # the database), so the top ten, ranked by it, must name this user.
    costliest = db.fetch_one(
        "SELECT SUM(IF(account = 'platform', cost_micros, 0)) AS n FROM provider_usage WHERE created_at >= %s"
        " GROUP BY user_id ORDER BY n DESC LIMIT 1",
        (utcnow() - timedelta(days=1),),
    )
    calls = 2
    record |= {"account": "platform", "cost_micros": int(costliest["n"] if costliest else 0) // calls + 1}
    try:
        with db.transaction() as cur:
            usage.record(cur, job_id, "image", [record] * calls, utcnow())
        spend = api.call("GET", "/v1/admin/spend?days=1", token=operator["token"]).json
        mine = [d for d in spend["per_day"] if d["provider"] == "spend-probe"]
        assert (
            len(mine) == 1
            and mine[0]["calls"] == calls
            and mine[0]["images"] == 2 * calls
            and mine[0]["wall_s"] == 1.5 * calls
            and mine[0]["platform_micros"] == mine[0]["cost_micros"] == record["cost_micros"] * calls
            and mine[0]["plan"] == "free"  # the plan the job ran on
        )
        assert user["user"]["id"] in [t["user_id"] for t in spend["top_customers"]]
    finally:
        db.execute("DELETE FROM provider_usage WHERE provider = %s", ("spend-probe",))
