"""Whop checkout: the plans and credit packs on offer, and a checkout configuration per purchase.

Whop's API (`POST {WHOP_API_URL}/checkout_configurations`, the app's API key as a bearer token)
creates a checkout for one of our Whop plans with `metadata.user_id`, which Whop copies onto the
membership and the payment, so the webhook that follows finds the buyer (chalicelib.billing.whop).
A plan's Whop plan id comes from WHOP_PLAN_MAP read backwards, a pack's from CREDIT_PACKS.
"""

from __future__ import annotations

import logging

from chalicelib.accounts import auth, users
from chalicelib.billing import packs
from chalicelib.billing.plans import plan_table
from chalicelib.core.errors import ApiError, Conflict, ValidationFailed
from chalicelib.core.settings import get_settings
from chalicelib.http.schemas.billing import (
    CheckoutCreate,
    CheckoutSession,
    PackCatalog,
    PackOffer,
    PlanCatalog,
    PlanOffer,
)
from chalicelib.infra import audit, public_url, secret_store

log = logging.getLogger(__name__)
MAX_REPLY_BYTES = 64 * 1024


class WhopUnavailable(ApiError):
    status, code = 502, "whop_unavailable"


def whop_plan_id(plan: str) -> str | None:
    """The Whop plan that grants `plan` (the first one WHOP_PLAN_MAP maps to it)."""
    return next((whop_id for whop_id, ours in get_settings().whop_plan_map.items() if ours == plan), None)


def catalog() -> PlanCatalog:
    table = plan_table()
    plans = sorted(table.values(), key=lambda p: p.rank)
    return PlanCatalog(
        items=[PlanOffer(**p.public(), purchasable=whop_plan_id(p.name) is not None) for p in plans]
    )


def pack_catalog() -> PackCatalog:
    return PackCatalog(
        items=[
            PackOffer(name=p.name, credits_micros=p.credits_micros, price_micros=p.price_micros)
            for p in packs.pack_table().values()
        ]
    )


def _unknown(field: str, names) -> ValidationFailed:
    return ValidationFailed(
        f"Unknown {field}",
        details=[{"field": field, "message": f"must be one of {sorted(names)}", "type": "enum"}],
    )


def _whop_plan(body: CheckoutCreate) -> tuple[str, dict[str, str]]:
    """The Whop plan to sell, and what it buys ({"plan": ...} or {"pack": ...})."""
    if body.pack is not None:
        pack = packs.pack_named(body.pack)
        if pack is None:
            raise _unknown("pack", packs.pack_table())
        return pack.whop_plan_id, {"pack": pack.name}
    assert body.plan is not None  # CheckoutCreate holds exactly one of the two
    if body.plan not in plan_table():
        raise _unknown("plan", plan_table())
    plan_id = whop_plan_id(body.plan)
    if plan_id is None:
        raise Conflict(f"The {body.plan} plan can't be bought here", code="plan_not_purchasable")
    return plan_id, {"plan": body.plan}


def create(principal: auth.Principal, body: CheckoutCreate, ip: str | None) -> CheckoutSession:
    settings = get_settings()
    plan_id, bought = _whop_plan(body)
    user = users.by_id(principal.user_id)
    if user is None or not user.email_verified_at:
        # Memberships count only for verified addresses (chalicelib.billing.whop): don't take
        # money for a plan the account could not use yet; packs wait for the same proof.
        raise Conflict(
            "Verify your email address first: until then the account stays on free", code="email_not_verified"
        )
    api_key = secret_store.whop_api_key()
    if not api_key:
        raise Conflict(
            "Checkout is not configured on this server (no Whop API key)", code="checkout_not_configured"
        )
    redirect = f"{public_url.base()}/billing?checkout={'pack' if body.pack else 'done'}"
    request = {"plan_id": plan_id, "metadata": {"user_id": principal.user_id}, "redirect_url": redirect}
    created = _post(
        f"{settings.whop_api_url.rstrip('/')}/checkout_configurations",
        request,
        api_key,
        settings.whop_timeout_s,
    )
    audit.record(
        "billing.checkout_created",
        user_id=principal.user_id,
        ip=ip,
        target=created["id"],
        details=bought,
    )
    return CheckoutSession(id=created["id"], url=created["purchase_url"], **bought)


def _post(url: str, body: dict, api_key: str, timeout_s: float) -> dict:
    """One call to Whop, bounded like every outbound call: one total deadline, a capped body."""
    from chalicelib.infra import outbound  # at call time: keeps httpx out of the API's cold start

    try:
        reply = outbound.request(
            "POST",
            url,
            json=body,
            headers={"Authorization": f"Bearer {api_key}"},
            deadline_s=timeout_s,
            max_bytes=MAX_REPLY_BYTES,
        )
    except outbound.OutboundError as exc:
        log.warning("Whop checkout call failed: %s", exc.kind)
        raise WhopUnavailable("Whop could not be reached; try again shortly") from None
    if not reply.is_success:
        log.warning("Whop checkout answered %s", reply.status)
        raise WhopUnavailable(f"Whop refused the checkout (HTTP {reply.status})")
    try:
        data = reply.json()
    except ValueError:
        data = None
    if (
        isinstance(data, dict)
        and isinstance(data.get("purchase_url"), str)
        and isinstance(data.get("id"), str)
    ):
        return data
    raise WhopUnavailable("Whop answered without a purchase URL")
