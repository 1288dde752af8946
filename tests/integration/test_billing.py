"""Whop webhooks, plans and quotas (API.md: Billing; issue: quotas that hold under concurrency)."""

from __future__ import annotations

import base64
import json
import secrets
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from standardwebhooks import Webhook

from chalicelib.billing import quota
from chalicelib.billing.plans import plan_table
from chalicelib.core.settings import get_settings
from chalicelib.infra import db
from chalicelib.jobs import lifecycle
from tests.conftest import signup_over_http

SECRET = "ws_test_" + secrets.token_hex(16)
PRO_PLAN = "plan_pro_monthly"


@pytest.fixture(autouse=True)
def whop_config(monkeypatch):
    settings = get_settings()
    monkeypatch.setattr(settings, "whop_webhook_secret", type(settings.jwt_secret)(SECRET))
    monkeypatch.setattr(settings, "whop_plan_map", {PRO_PLAN: "pro", "plan_biz": "business"})


def iso(dt: datetime) -> str:
    return dt.astimezone(UTC).isoformat().replace("+00:00", "Z")


def deliver(
    api,
    type_: str,
    data: dict,
    *,
    webhook_id: str | None = None,
    at: float | None = None,
    secret: str = SECRET,
    body: bytes | None = None,
):
    """A delivery signed exactly as Whop does: Standard Webhooks with key base64(secret)."""
    webhook_id = webhook_id or f"msg_{secrets.token_hex(8)}"
    at = at or time.time()
    payload = (
        body
        if body is not None
        else json.dumps(
            {
                "id": webhook_id,
                "api_version": "v1",
                "type": type_,
                "timestamp": iso(datetime.fromtimestamp(at, UTC)),
                "data": data,
            }
        ).encode()
    )
    signer = Webhook(base64.b64encode(secret.encode()).decode())
    signature = signer.sign(webhook_id, datetime.fromtimestamp(at, UTC), payload.decode())
    return api.call(
        "POST",
        "/v1/webhooks/whop",
        raw=payload,
        headers={"webhook-id": webhook_id, "webhook-timestamp": str(int(at)), "webhook-signature": signature},
    )


def membership(user=None, *, email=None, plan=PRO_PLAN, status="active", updated_at=None, **extra):
    now = datetime.now(UTC)
    return {
        "id": extra.pop("id", f"mem_{secrets.token_hex(6)}"),
        "status": status,
        "plan": {"id": plan},
        "user": {"id": "user_w1", "email": email or (user and user["email"])},
        "metadata": {"user_id": user["user"]["id"]} if user else {},
        "renewal_period_start": iso(now - timedelta(days=3)),
        "renewal_period_end": iso(now + timedelta(days=27)),
        "cancel_at_period_end": False,
        "updated_at": iso(updated_at or now),
        **extra,
    }


def plan_of(api, user) -> str:
    return api.call("GET", "/v1/me", token=user["token"]).json["plan"]["name"]


def test_activation_moves_the_user_to_the_mapped_plan(api, user):
    data = membership(user)
    response = deliver(api, "membership.activated", data)
    assert response.status_code == 200 and response.json["handled"] is True
    me = api.call("GET", "/v1/me", token=user["token"]).json
    assert me["plan"]["name"] == "pro" and me["plan"]["monthly_jobs"] == 200
    assert me["membership"]["whop_membership_id"] == data["id"] and me["membership"]["status"] == "active"
    assert me["usage"]["period_start"].startswith(data["renewal_period_start"][:19])


def test_user_is_found_by_email_when_metadata_has_no_user_id(api, user):
    api.verify_email(user)
    deliver(api, "membership.activated", membership(email=user["email"].upper()))
    assert plan_of(api, user) == "pro"


def test_an_unverified_email_never_takes_a_membership(api):
    """Signing up with a buyer's address must not hand over their plan: it waits for the
    address to be proved, and the `metadata.user_id` path stays as it was."""
    squatter = api.signup(verified=False)
    data = membership(email=squatter["email"])
    deliver(api, "membership.activated", data)
    assert plan_of(api, squatter) == "free"
    assert db.fetch_one("SELECT user_id FROM memberships WHERE id = %s", (data["id"],))["user_id"] is None
    api.verify_email(squatter)  # the owner of the address proves it: now it attaches
    assert plan_of(api, squatter) == "pro"
    buyer = api.signup(verified=False)  # unverified, named by metadata.user_id at checkout
    deliver(api, "membership.activated", membership(buyer))
    assert plan_of(api, buyer) == "pro"


@pytest.mark.parametrize("tamper", ["signature", "secret", "stale", "future", "missing", "body"])
def test_bad_deliveries_are_401_and_change_nothing(api, user, tamper):
    data = membership(user)
    before = db.fetch_one("SELECT COUNT(*) AS n FROM webhook_deliveries")["n"]
    if tamper == "signature":
        response = api.call(
            "POST",
            "/v1/webhooks/whop",
            raw=json.dumps({"type": "membership.activated", "data": data}).encode(),
            headers={
                "webhook-id": "msg_x",
                "webhook-timestamp": str(int(time.time())),
                "webhook-signature": "v1,bm90IGEgc2lnbmF0dXJl",
            },
        )
    elif tamper == "secret":
        response = deliver(api, "membership.activated", data, secret="someone else's secret")
    elif tamper == "stale":
        response = deliver(api, "membership.activated", data, at=time.time() - 6 * 60)
    elif tamper == "future":
        response = deliver(api, "membership.activated", data, at=time.time() + 6 * 60)
    elif tamper == "missing":
        response = api.call("POST", "/v1/webhooks/whop", raw=json.dumps({"type": "x"}).encode())
    else:  # signed body, then one byte changed on the way
        good = deliver(api, "ping.unknown", {}, webhook_id="msg_probe_" + secrets.token_hex(4))
        assert good.status_code == 200
        before += 1
        wid = "msg_" + secrets.token_hex(6)
        raw = json.dumps({"type": "membership.activated", "data": data}).encode()
        sig = Webhook(base64.b64encode(SECRET.encode()).decode()).sign(wid, datetime.now(UTC), raw.decode())
        response = api.call(
            "POST",
            "/v1/webhooks/whop",
            raw=raw.replace(b"active", b"ACTIVE"),
            headers={"webhook-id": wid, "webhook-timestamp": str(int(time.time())), "webhook-signature": sig},
        )
    assert response.status_code == 401
    assert response.json["error"]["code"] == "invalid_signature"
    assert db.fetch_one("SELECT COUNT(*) AS n FROM webhook_deliveries")["n"] == before
    assert plan_of(api, user) == "free"


@pytest.mark.parametrize("configured", [None, "", "   ", "not-configured", "Not-Configured", "changeme"])
def test_webhooks_are_refused_while_no_real_secret_is_configured(api, user, monkeypatch, caplog, configured):
    """A deployment without a real secret must not accept a delivery signed with the placeholder."""
    from pydantic import SecretStr

    monkeypatch.setattr(
        get_settings(), "whop_webhook_secret", None if configured is None else SecretStr(configured)
    )
    before = db.fetch_one("SELECT COUNT(*) AS n FROM webhook_deliveries")["n"]
    response = deliver(
        api, "membership.activated", membership(user), secret=(configured or "").strip() or "guess"
    )
    assert response.status_code == 401
    assert response.json["error"]["code"] == "webhook_secret_not_configured"
    assert "not configured" in response.json["error"]["message"]
    assert any("No Whop webhook secret is configured" in r.getMessage() for r in caplog.records)
    assert db.fetch_one("SELECT COUNT(*) AS n FROM webhook_deliveries")["n"] == before
    assert plan_of(api, user) == "free"


def test_a_placeholder_in_secrets_manager_is_refused_too(api, user, monkeypatch):
    """Deployments made before the fix stored the literal `not-configured` as the secret."""
    from chalicelib.infra import aws, secret_store

    sm = aws.client("secretsmanager")
    arn = sm.create_secret(Name=f"test/whop-{secrets.token_hex(4)}", SecretString="not-configured")["ARN"]
    try:
        monkeypatch.setattr(get_settings(), "whop_webhook_secret_arn", arn)
        response = deliver(api, "membership.activated", membership(user), secret="not-configured")
        assert response.status_code == 401 and plan_of(api, user) == "free"
    finally:
        sm.delete_secret(SecretId=arn, ForceDeleteWithoutRecovery=True)
        secret_store._from_secrets_manager.cache_clear()


def test_a_redelivery_changes_nothing_twice(api, user):
    data = membership(user)
    first = deliver(api, "membership.activated", data, webhook_id="msg_dup_" + user["user"]["id"])
    deliver(
        api,
        "membership.deactivated",
        {**data, "status": "canceled", "updated_at": iso(datetime.now(UTC) + timedelta(seconds=5))},
    )
    again = deliver(api, "membership.activated", data, webhook_id="msg_dup_" + user["user"]["id"])
    assert first.status_code == again.status_code == 200
    assert again.json["duplicate"] is True
    assert plan_of(api, user) == "free"  # the redelivered activation was not applied again
    audits = db.fetch_one(
        "SELECT COUNT(*) AS n FROM audit_log WHERE user_id = %s AND action = 'whop.membership.activated'",
        (user["user"]["id"],),
    )["n"]
    assert audits == 1


def test_an_older_state_never_overwrites_a_newer_one(api, user):
    now = datetime.now(UTC)
    data = membership(user)
    deliver(api, "membership.deactivated", {**data, "status": "canceled", "updated_at": iso(now)})
    late = deliver(api, "membership.activated", {**data, "updated_at": iso(now - timedelta(minutes=2))})
    assert late.status_code == 200
    assert plan_of(api, user) == "free"
    row = db.fetch_one("SELECT status, active FROM memberships WHERE id = %s", (data["id"],))
    assert row == {"status": "canceled", "active": 0}


def test_membership_bought_before_signup_is_attached_once_the_email_is_verified(api):
    email = f"early-{secrets.token_hex(4)}@example.com"
    deliver(api, "membership.activated", membership(email=email, plan="plan_biz"))
    user = api.signup(email=email, verified=False)
    assert plan_of(api, user) == "free"  # signing up with an address proves nothing
    api.verify_email(user)
    assert plan_of(api, user) == "business"
    actions = [e["action"] for e in api.call("GET", "/v1/audit-log", token=user["token"]).json["items"]]
    assert "membership.attached" in actions


def test_cancel_at_period_end_keeps_access_until_deactivation(api, user):
    data = membership(user)
    deliver(api, "membership.activated", data)
    later = iso(datetime.now(UTC) + timedelta(seconds=1))
    deliver(
        api,
        "membership.cancel_at_period_end_changed",
        {**data, "cancel_at_period_end": True, "updated_at": later},
    )
    me = api.call("GET", "/v1/me", token=user["token"]).json
    assert me["plan"]["name"] == "pro" and me["membership"]["cancel_at_period_end"] is True


def test_payments_are_recorded_and_unknown_types_acknowledged(api, user):
    api.verify_email(user)  # payments, like memberships, match by email only a verified address
    ok = deliver(
        api,
        "payment.succeeded",
        {
            "id": "pay_" + secrets.token_hex(4),
            "status": "paid",
            "total": 29.0,
            "currency": "usd",
            "user": {"email": user["email"]},
            "membership": {"id": "mem_x"},
        },
    )
    failed = deliver(
        api,
        "payment.failed",
        {"id": "pay_" + secrets.token_hex(4), "status": "failed", "user": {"email": user["email"]}},
    )
    unknown = deliver(api, "dispute.created", {"id": "dis_1"})
    assert ok.status_code == failed.status_code == unknown.status_code == 200
    assert unknown.json["handled"] is False
    payments = db.fetch_all(
        "SELECT status FROM payments WHERE user_id = %s ORDER BY status", (user["user"]["id"],)
    )
    assert [p["status"] for p in payments] == ["failed", "paid"]
    assert (
        db.fetch_one(
            "SELECT handled FROM webhook_deliveries WHERE type = 'dispute.created'"
            " ORDER BY received_at DESC LIMIT 1"
        )["handled"]
        == 0
    )


def test_signed_but_malformed_delivery_is_400(api):
    response = deliver(api, "membership.activated", {}, body=b"{not json")
    assert response.status_code == 400


# ---- quotas -------------------------------------------------------------------------------
def test_twenty_parallel_submissions_accept_exactly_the_free_quota(live_api):
    with httpx.Client(base_url=live_api, timeout=30) as client:
        token = signup_over_http(live_api, verified=False)
        headers = {"Authorization": f"Bearer {token}"}

        def submit(i: int):
            return client.post("/v1/jobs", json={"prompt": f"race {i}", "duration_s": 5}, headers=headers)

        with ThreadPoolExecutor(max_workers=20) as pool:
            responses = list(pool.map(submit, range(20)))
        statuses = sorted(r.status_code for r in responses)
        assert statuses == [202] * 5 + [402] * 15
        refused = next(r for r in responses if r.status_code == 402).json()["error"]
        assert refused["code"] == "quota_exceeded"
        assert refused["details"]["limit"] == 5 and refused["details"]["used"] == 5
        assert refused["details"]["resets_at"]
        me = client.get("/v1/me", headers=headers).json()
        assert me["usage"]["jobs_used"] == 5
        assert len(client.get("/v1/jobs", headers=headers).json()["items"]) == 5


def test_system_failure_and_cancel_give_the_reservation_back(api, user):
    job_ids = [
        api.call("POST", "/v1/jobs", {"prompt": f"j{i}", "duration_s": 5}, token=user["token"]).json["id"]
        for i in range(5)
    ]
    assert (
        api.call(
            "POST", "/v1/jobs", {"prompt": "one too many", "duration_s": 5}, token=user["token"]
        ).status_code
        == 402
    )

    assert lifecycle.fail(job_ids[0], "video_failed", "ffmpeg crashed", "video")
    assert api.call("GET", "/v1/me", token=user["token"]).json["usage"]["jobs_used"] == 4
    assert not lifecycle.fail(job_ids[0], "video_failed", "again", "video")  # refunds once
    assert api.call("GET", "/v1/me", token=user["token"]).json["usage"]["jobs_used"] == 4

    canceled = api.call("POST", f"/v1/jobs/{job_ids[1]}/cancel", token=user["token"])
    assert canceled.status_code == 202 and canceled.json["status"] == "canceled"
    assert all(s["status"] == "canceled" for s in canceled.json["steps"])
    assert api.call("GET", "/v1/me", token=user["token"]).json["usage"]["jobs_used"] == 3
    assert api.call("POST", f"/v1/jobs/{job_ids[1]}/cancel", token=user["token"]).status_code == 409

    assert lifecycle.fail(job_ids[2], "provider_key_rejected", "bad key", "concept")  # user's fault
    assert api.call("GET", "/v1/me", token=user["token"]).json["usage"]["jobs_used"] == 3


def test_retry_takes_quota_again_and_requeues(api, user):
    job_id = api.call("POST", "/v1/jobs", {"prompt": "again", "duration_s": 5}, token=user["token"]).json[
        "id"
    ]
    api.call("POST", f"/v1/jobs/{job_id}/cancel", token=user["token"])
    assert api.call("GET", "/v1/me", token=user["token"]).json["usage"]["jobs_used"] == 0
    retried = api.call("POST", f"/v1/jobs/{job_id}/retry", token=user["token"])
    assert retried.status_code == 202
    assert retried.json["status"] == "queued" and retried.json["attempt"] == 2
    assert api.call("GET", "/v1/me", token=user["token"]).json["usage"]["jobs_used"] == 1
    assert api.call("POST", f"/v1/jobs/{job_id}/retry", token=user["token"]).status_code == 409
    other = api.signup()
    assert api.call("POST", f"/v1/jobs/{job_id}/cancel", token=other["token"]).status_code == 404


def test_plan_decides_the_duration_cap(api, user):
    assert (
        api.call("POST", "/v1/jobs", {"prompt": "long", "duration_s": 60}, token=user["token"]).status_code
        == 422
    )
    deliver(api, "membership.activated", membership(user))
    assert (
        api.call("POST", "/v1/jobs", {"prompt": "long", "duration_s": 60}, token=user["token"]).status_code
        == 202
    )


def test_downgrade_mid_period_applies_free_limits_at_once(api, user):
    data = membership(user)
    deliver(api, "membership.activated", data)
    for i in range(6):
        assert (
            api.call(
                "POST", "/v1/jobs", {"prompt": f"pro {i}", "duration_s": 5}, token=user["token"]
            ).status_code
            == 202
        )
    later = iso(datetime.now(UTC) + timedelta(seconds=1))
    deliver(api, "membership.deactivated", {**data, "status": "expired", "updated_at": later})
    me = api.call("GET", "/v1/me", token=user["token"]).json
    assert me["plan"]["name"] == "free"
    assert me["usage"]["jobs_used"] == 6  # the month's jobs still count
    refused = api.call("POST", "/v1/jobs", {"prompt": "free now", "duration_s": 5}, token=user["token"])
    assert refused.status_code == 402
    audit = [e["action"] for e in api.call("GET", "/v1/audit-log", token=user["token"]).json["items"]]
    assert "whop.membership.deactivated" in audit


def test_business_jobs_get_a_higher_queue_priority(api, user):
    from chalicelib.infra import queue

    deliver(api, "membership.activated", membership(user, plan="plan_biz"))
    job_id = api.call("POST", "/v1/jobs", {"prompt": "vip", "duration_s": 5}, token=user["token"]).json["id"]

    async def priority():
        job = await (await queue.get_queue()).getJob(job_id)
        return job.opts.get("priority") if job else None

    assert queue.run(priority()) == plan_table()["business"].priority


def test_usage_counter_is_seeded_when_a_new_period_begins(api, user):
    from chalicelib.core.ids import utcnow

    for i in range(2):
        assert (
            api.call(
                "POST", "/v1/jobs", {"prompt": f"s{i}", "duration_s": 5}, token=user["token"]
            ).status_code
            == 202
        )
    now = utcnow()
    # a period the user has no counter for yet (as after a plan change) starts from the jobs in it
    assert quota.period_usage(user["user"]["id"], now - timedelta(hours=1), now + timedelta(hours=1)) == 2
    assert quota.period_usage(user["user"]["id"], datetime(2030, 1, 1), datetime(2030, 2, 1)) == 0


def test_plan_concurrency_is_enforced_where_jobs_start(api, user):

    deliver(api, "membership.activated", membership(user))  # pro: 3 at once
    ids = [
        api.call("POST", "/v1/jobs", {"prompt": f"c{i}", "duration_s": 5}, token=user["token"]).json["id"]
        for i in range(8)
    ]
    uid = user["user"]["id"]

    def start(job_id):
        db.close()  # a connection per thread, as the worker's threads have
        try:
            return lifecycle.start(job_id, uid, 3, owner=f"w-{job_id}", lease_s=30)
        finally:
            db.close()

    with ThreadPoolExecutor(max_workers=8) as pool:
        outcomes = list(pool.map(start, ids))
    assert sorted(outcomes) == ["busy"] * 5 + ["started"] * 3
    assert api.call("GET", "/v1/me", token=user["token"]).json["usage"]["running"] == 3

    running = [i for i, o in zip(ids, outcomes) if o == "started"]
    waiting = [i for i, o in zip(ids, outcomes) if o == "busy"]
    # another worker can't take a job whose lease is live; its own worker (same owner) can
    assert lifecycle.start(running[0], uid, 3, owner="intruder", lease_s=30) == "busy"
    assert lifecycle.start(running[0], uid, 3, owner=f"w-{running[0]}", lease_s=30) == "started"
    lifecycle.fail(running[0], "video_failed", "boom", "video")
    assert lifecycle.start(waiting[0], uid, 3, owner="w2", lease_s=30) == "started"
    assert lifecycle.start(waiting[1], uid, 3, owner="w3", lease_s=30) == "busy"
    assert lifecycle.start(running[0], uid, 3, owner="w4", lease_s=30) == "gone"
