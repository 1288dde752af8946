"""Whop checkout from the API (issue 11, point 3), against a local fake of Whop's API."""

from __future__ import annotations

import pytest
from pydantic import SecretStr

from chalicelib.billing.plans import plan_table
from chalicelib.core.settings import get_settings
from tests.fakes.whop_server import FakeWhop


@pytest.fixture
def whop(monkeypatch):
    with FakeWhop(api_key="whop_app_key") as fake:
        settings = get_settings()
        monkeypatch.setattr(settings, "whop_api_url", fake.api_url)
        monkeypatch.setattr(settings, "whop_api_key", SecretStr("whop_app_key"))
        monkeypatch.setattr(settings, "whop_plan_map", {"plan_pro": "pro", "plan_business": "business"})
        yield fake


@pytest.fixture
def user(api) -> dict:
    """A user whose address is verified (only those can buy: see the unverified test)."""
    from chalicelib.accounts import users
    from chalicelib.infra import db

    user = api.signup()
    with db.transaction() as cur:
        users.mark_verified(cur, user["user"]["id"])
    return user


def checkout(api, user, plan="pro"):
    return api.call("POST", "/v1/billing/checkout", {"plan": plan}, token=user["token"])


def test_checkout_is_created_at_whop_for_the_user_and_returns_its_url(api, user, whop, monkeypatch):
    monkeypatch.setattr(get_settings(), "public_url", "http://console.test/")
    response = checkout(api, user)

    assert response.status_code == 201, response.body
    [sent] = whop.requests
    assert sent["authorization"] == "Bearer whop_app_key"
    assert sent["json"] == {
        "plan_id": "plan_pro",
        "metadata": {"user_id": user["user"]["id"]},
        "redirect_url": "http://console.test/billing?checkout=done",
    }
    created = whop.checkouts[response.json["id"]]
    assert response.json == {"id": created["id"], "plan": "pro", "pack": None, "url": created["purchase_url"]}
    audit = api.call("GET", "/v1/audit-log", token=user["token"]).json["items"]
    assert audit[0]["action"] == "billing.checkout_created"


def test_an_unverified_address_cannot_buy_yet(api, whop):
    """Memberships count only for verified addresses: no money for a plan it couldn't use."""
    response = checkout(api, api.signup(verified=False))
    assert (response.status_code, response.json["error"]["code"]) == (409, "email_not_verified")
    assert whop.requests == []


def test_without_a_whop_api_key_checkout_is_a_clear_409(api, user, whop, monkeypatch):
    monkeypatch.setattr(get_settings(), "whop_api_key", None)
    response = checkout(api, user)
    assert response.status_code == 409
    assert response.json["error"]["code"] == "checkout_not_configured"
    assert whop.requests == []


@pytest.mark.parametrize(
    "plan, status, code", [("gold", 422, "validation_error"), ("free", 409, "plan_not_purchasable")]
)
def test_plans_that_cannot_be_bought_are_refused(api, user, whop, plan, status, code):
    response = checkout(api, user, plan)
    assert (response.status_code, response.json["error"]["code"]) == (status, code)
    assert whop.requests == []


@pytest.mark.parametrize("whop_status", [401, 500])
def test_whop_refusing_is_a_502_that_names_whop(api, user, whop, whop_status, monkeypatch):
    if whop_status == 401:
        monkeypatch.setattr(get_settings(), "whop_api_key", SecretStr("wrong"))
    else:
        whop.fail_next(500)
    response = checkout(api, user)
    assert response.status_code == 502
    assert response.json["error"]["code"] == "whop_unavailable"
    assert "wrong" not in response.body.decode()


def test_unreachable_whop_is_a_502(api, user, monkeypatch):
    from tests.conftest import free_port

    settings = get_settings()
    monkeypatch.setattr(settings, "whop_api_url", f"http://127.0.0.1:{free_port()}/api/v1")
    monkeypatch.setattr(settings, "whop_api_key", SecretStr("k"))
    monkeypatch.setattr(settings, "whop_plan_map", {"plan_pro": "pro"})
    response = checkout(api, user)
    assert (response.status_code, response.json["error"]["code"]) == (502, "whop_unavailable")


@pytest.mark.parametrize("mode", ["trickle", "endless"])
def test_a_stalling_or_endless_whop_is_cut_off_and_is_a_502(api, user, whop, mode, monkeypatch):
    from tests.fakes.hostile_server import HostileServer

    settings = get_settings()
    monkeypatch.setattr(settings, "whop_timeout_s", 1.0)
    with HostileServer(mode) as hostile:
        monkeypatch.setattr(settings, "whop_api_url", hostile.url)
        response = checkout(api, user)
    assert (response.status_code, response.json["error"]["code"]) == (502, "whop_unavailable")
    if mode == "endless":
        assert hostile.bytes_sent < 10 * 1024 * 1024  # abandoned soon after the 64 KiB cap


def test_plans_say_which_can_be_bought(api, user, whop):
    plans = {p["name"]: p for p in api.call("GET", "/v1/plans", token=user["token"]).json["items"]}
    assert list(plans) == ["free", "pro", "business"]
    assert (plans["free"]["purchasable"], plans["pro"]["purchasable"]) == (False, True)
    assert plans["pro"]["max_duration_s"] == plan_table()["pro"].max_duration_s


def test_checkout_needs_a_caller(api, whop):
    assert api.call("POST", "/v1/billing/checkout", {"plan": "pro"}).status_code == 401
