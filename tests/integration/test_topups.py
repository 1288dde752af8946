"""Credit packs through Whop (issue 25, point 5): a paid `payment.succeeded` for a pack's Whop plan
adds its credits exactly once per payment, only after the signature holds; checkout sells packs."""

from __future__ import annotations

import base64
import json
import secrets
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

import pytest
from pydantic import SecretStr
from standardwebhooks import Webhook

from chalicelib.billing import packs, whop
from chalicelib.core.settings import get_settings
from chalicelib.infra import db
from tests.fakes.whop_server import FakeWhop
from tests.integration.test_billing import SECRET, deliver

SMALL_PLAN, LARGE_PLAN = "plan_pack_small", "plan_pack_large"
SMALL = 5_000_000  # $5 of credits
PACKS = {
    SMALL_PLAN: {"name": "small", "credits_micros": SMALL, "price_micros": 5_000_000},
    LARGE_PLAN: {"name": "large", "credits_micros": 25_000_000, "price_micros": 20_000_000},
}


@pytest.fixture(autouse=True)
def configured(monkeypatch):
    settings = get_settings()
    monkeypatch.setattr(settings, "whop_webhook_secret", SecretStr(SECRET))
    monkeypatch.setattr(settings, "whop_plan_map", {"plan_pro": "pro"})
    monkeypatch.setattr(settings, "credit_packs", PACKS)


def payment(user=None, *, email=None, plan=SMALL_PLAN, status="paid", **extra) -> dict:
    """A payment as Whop's v1 webhooks carry it (checkout's metadata copied onto it)."""
    return {
        "id": extra.pop("id", f"pay_{secrets.token_hex(6)}"),
        "status": status,
        "substatus": "succeeded" if status == "paid" else status,
        "refunded_at": None,
        "plan": {"id": plan},
        "product": {"id": "prod_credits", "title": "Credits"},
        "user": {"id": "user_w1", "email": email or (user and user["email"])},
        "membership": {"id": f"mem_{secrets.token_hex(4)}", "status": "completed"},
        "metadata": {"user_id": user["user"]["id"]} if user else {},
        "total": 5.0,
        "currency": "usd",
        **extra,
    }


def signed_headers(raw: bytes, *, webhook_id: str | None = None, at: int | None = None, secret: str = SECRET):
    """Standard Webhooks headers for `raw`, signed as Whop signs (key base64(secret))."""
    webhook_id = webhook_id or f"msg_{secrets.token_hex(8)}"
    at = at or int(time.time())
    signer = Webhook(base64.b64encode(secret.encode()).decode())
    signature = signer.sign(webhook_id, datetime.fromtimestamp(at, UTC), raw.decode())
    return {"webhook-id": webhook_id, "webhook-timestamp": str(at), "webhook-signature": signature}


def credits_of(api, user) -> dict:
    return api.call("GET", "/v1/me", token=user["token"]).json["credits"]


def topup_of(api, user) -> int:
    return credits_of(api, user)["topup_micros"]


def test_a_top_up_delivered_twice_adds_its_credits_once(api, user):
    before = credits_of(api, user)
    data = payment(user)
    first = deliver(api, "payment.succeeded", data, webhook_id="msg_topup_" + data["id"])
    again = deliver(api, "payment.succeeded", data, webhook_id="msg_topup_" + data["id"])
    assert first.status_code == again.status_code == 200
    assert again.json["duplicate"] is True
    after = credits_of(api, user)
    assert after["topup_micros"] == before["topup_micros"] + SMALL
    assert after["available_micros"] == before["available_micros"] + SMALL
    [entry] = [
        e
        for e in api.call("GET", "/v1/audit-log", token=user["token"]).json["items"]
        if e["action"] == "whop.payment.succeeded"
    ]
    assert entry["target"] == data["id"]


def test_two_deliveries_of_the_same_payment_add_once(api, user):
    """Whop may send one payment under two webhook ids (a resend, a second endpoint)."""
    data = payment(user, plan=LARGE_PLAN)
    deliver(api, "payment.succeeded", data)
    second = deliver(api, "payment.succeeded", data)
    assert second.status_code == 200 and second.json["duplicate"] is False
    assert topup_of(api, user) == 25_000_000
    assert (
        db.fetch_one("SELECT COUNT(*) AS n FROM credit_topups WHERE payment_id = %s", (data["id"],))["n"] == 1
    )


@pytest.mark.parametrize(
    "kind, data",
    [
        ("a subscription payment", lambda u: payment(u, plan="plan_pro")),
        ("an unknown plan", lambda u: payment(u, plan="plan_nobody_sells")),
        ("a refunded pack", lambda u: payment(u, substatus="refunded", refunded_at="2026-01-01T00:00:00Z")),
        ("a partly refunded pack", lambda u: payment(u, substatus="partially_refunded")),
        ("an unpaid pack", lambda u: payment(u, status="open")),
    ],
)
def test_payments_that_are_not_a_paid_pack_add_nothing(api, user, kind, data):
    response = deliver(api, "payment.succeeded", data(user))
    assert response.status_code == 200
    assert topup_of(api, user) == 0, kind


def test_a_failed_pack_payment_adds_nothing_and_its_later_success_does(api, user):
    data = payment(user, status="open")
    deliver(api, "payment.failed", {**data, "substatus": "failed"})
    assert topup_of(api, user) == 0
    deliver(api, "payment.succeeded", {**data, "status": "paid", "substatus": "succeeded"})
    assert topup_of(api, user) == SMALL


@pytest.mark.parametrize("tamper", ["unsigned", "bad_signature", "other_secret", "body_changed"])
def test_a_badly_signed_top_up_is_401_and_adds_nothing(api, user, tamper):
    data = payment(user)
    raw = json.dumps({"type": "payment.succeeded", "data": data}).encode()
    headers = signed_headers(raw, secret="whsec_someone_else" if tamper == "other_secret" else SECRET)
    if tamper == "unsigned":
        del headers["webhook-signature"]
    elif tamper == "bad_signature":
        headers["webhook-signature"] = "v1,bm90IGEgc2lnbmF0dXJl"
    elif tamper == "body_changed":  # signed for 5 dollars, sent for the large pack
        raw = raw.replace(SMALL_PLAN.encode(), LARGE_PLAN.encode())
    response = api.call("POST", "/v1/webhooks/whop", raw=raw, headers=headers)
    assert response.status_code == 401
    assert topup_of(api, user) == 0
    assert (
        db.fetch_one("SELECT COUNT(*) AS n FROM credit_topups WHERE payment_id = %s", (data["id"],))["n"] == 0
    )


def test_parallel_duplicate_deliveries_add_once(api, user):
    """Eight threads deliver one payment at once: four with the same webhook id, four with ids
    of their own. Exactly one adds the pack."""
    data = payment(user)
    raw = json.dumps({"type": "payment.succeeded", "data": data}).encode()
    now = int(time.time())
    deliveries = [signed_headers(raw, webhook_id="msg_same", at=now) for _ in range(4)]
    deliveries += [signed_headers(raw, at=now) for _ in range(4)]

    def send(headers: dict) -> bool:
        db.close()  # a connection per thread, as the API's concurrent requests have
        try:
            return whop.receive(raw, headers).duplicate
        finally:
            db.close()

    with ThreadPoolExecutor(max_workers=len(deliveries)) as pool:
        duplicates = list(pool.map(send, deliveries))
    assert duplicates.count(True) == 3  # the same webhook id, after the first
    assert topup_of(api, user) == SMALL


def test_a_buyer_found_by_a_verified_email_gets_the_credits(api, user):
    data = payment(email=user["email"].upper())  # no metadata: bought outside our checkout
    deliver(api, "payment.succeeded", data)
    assert topup_of(api, user) == SMALL


def test_a_buyer_without_a_proved_address_is_credited_when_it_is_proved(api):
    """Like memberships: an address nobody proved takes nothing; its owner's verification does."""
    buyer = api.signup(verified=False)
    data = payment(email=buyer["email"])
    deliver(api, "payment.succeeded", data)
    deliver(api, "payment.succeeded", data)  # resent before the buyer verifies: still one pack
    assert topup_of(api, buyer) == 0
    row = db.fetch_one("SELECT user_id, email FROM credit_topups WHERE payment_id = %s", (data["id"],))
    assert row == {"user_id": None, "email": buyer["email"]}

    api.verify_email(buyer)
    assert topup_of(api, buyer) == SMALL
    actions = [e["action"] for e in api.call("GET", "/v1/audit-log", token=buyer["token"]).json["items"]]
    assert "credits.topup_attached" in actions
    deliver(api, "payment.succeeded", data)  # and a delivery after the attach adds nothing
    assert topup_of(api, buyer) == SMALL


def test_the_membership_of_a_one_time_pack_is_not_a_plan(api, user):
    from tests.integration.test_billing import membership

    response = deliver(api, "membership.activated", membership(user, plan=SMALL_PLAN, status="completed"))
    assert response.status_code == 200 and response.json["handled"] is False
    me = api.call("GET", "/v1/me", token=user["token"]).json
    assert me["plan"]["name"] == "free" and me["membership"] is None


# ---- the packs on sale, and checkout ------------------------------------------------------------
@pytest.fixture
def fake_whop(monkeypatch):
    with FakeWhop(api_key="whop_app_key", plans=("plan_pro", SMALL_PLAN, LARGE_PLAN)) as fake:
        settings = get_settings()
        monkeypatch.setattr(settings, "whop_api_url", fake.api_url)
        monkeypatch.setattr(settings, "whop_api_key", SecretStr("whop_app_key"))
        yield fake


def test_the_packs_on_sale_list_their_credits_and_price(api, user):
    reply = api.call("GET", "/v1/billing/packs", token=user["token"])
    assert reply.status_code == 200
    assert reply.json["items"] == [
        {"name": "small", "credits_micros": SMALL, "price_micros": 5_000_000},
        {"name": "large", "credits_micros": 25_000_000, "price_micros": 20_000_000},
    ]
    assert api.call("GET", "/v1/billing/packs").status_code == 401


def test_checkout_for_a_pack_sends_its_whop_plan_and_the_buyer(api, user, fake_whop, monkeypatch):
    monkeypatch.setattr(get_settings(), "public_url", "http://console.test")
    response = api.call("POST", "/v1/billing/checkout", {"pack": "large"}, token=user["token"])

    assert response.status_code == 201, response.body
    [sent] = fake_whop.requests
    assert sent["json"] == {
        "plan_id": LARGE_PLAN,
        "metadata": {"user_id": user["user"]["id"]},
        "redirect_url": "http://console.test/billing?checkout=pack",
    }
    created = fake_whop.checkouts[response.json["id"]]
    assert response.json == {
        "id": created["id"],
        "plan": None,
        "pack": "large",
        "url": created["purchase_url"],
    }
    [entry] = [
        e
        for e in api.call("GET", "/v1/audit-log", token=user["token"]).json["items"]
        if e["action"] == "billing.checkout_created"
    ]
    assert entry["details"] == {"pack": "large"}


@pytest.mark.parametrize(
    "body, field",
    [
        ({}, "body"),
        ({"plan": "pro", "pack": "small"}, "body"),
        ({"pack": "huge"}, "pack"),
        ({"pack": ""}, "pack"),
    ],
)
def test_checkout_takes_exactly_one_known_plan_or_pack(api, user, fake_whop, body, field):
    response = api.call("POST", "/v1/billing/checkout", body, token=user["token"])
    assert (response.status_code, response.json["error"]["code"]) == (422, "validation_error")
    assert [d["field"] for d in response.json["error"]["details"]] == [field]
    assert fake_whop.requests == []


def test_bad_pack_settings_fail_loudly(monkeypatch):
    settings = get_settings()
    for bad in (
        {SMALL_PLAN: {"name": "small", "credit_micros": 1, "price_micros": 1}},  # misspelt field
        {SMALL_PLAN: {"name": "small", "credits_micros": 0, "price_micros": 1}},
        {SMALL_PLAN: PACKS[SMALL_PLAN], LARGE_PLAN: PACKS[SMALL_PLAN]},  # one name twice
        {"plan_pro": PACKS[SMALL_PLAN]},  # a subscription plan's id
    ):
        monkeypatch.setattr(settings, "credit_packs", bad)
        with pytest.raises(ValueError):
            packs.pack_table()
