"""Whop checkout: the plans on offer, and a checkout configuration per purchase.

Whop's API (`POST {WHOP_API_URL}/checkout_configurations`, the app's API key as a bearer token)
creates a checkout for one of our Whop plans with `metadata.user_id`, which Whop copies onto the
membership, so the webhook that follows finds the buyer (chalicelib.billing.whop). The Whop plan
id comes from WHOP_PLAN_MAP read backwards.
"""

from __future__ import annotations

import logging

from chalicelib.accounts import auth, users
from chalicelib.billing.plans import plan_table
from chalicelib.core.errors import ApiError, Conflict, ValidationFailed
from chalicelib.core.settings import get_settings
from chalicelib.http.schemas.billing import CheckoutCreate, CheckoutSession, PlanCatalog, PlanOffer
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


def create(principal: auth.Principal, body: CheckoutCreate, ip: str | None) -> CheckoutSession:
    settings = get_settings()
    if body.plan not in plan_table():
        raise ValidationFailed(
            "Unknown plan",
            details=[{"field": "plan", "message": f"must be one of {sorted(plan_table())}", "type": "enum"}],
        )
    plan_id = whop_plan_id(body.plan)
    if plan_id is None:
        raise Conflict(f"The {body.plan} plan can't be bought here", code="plan_not_purchasable")
    user = users.by_id(principal.user_id)
    if user is None or not user.email_verified_at:
        # Memberships count only for verified addresses (chalicelib.billing.whop): don't take
        # money for a plan the account could not use yet.
        raise Conflict(
            "Verify your email address first: until then the account stays on free", code="email_not_verified"
        )
    api_key = secret_store.whop_api_key()
    if not api_key:
        raise Conflict(
            "Checkout is not configured on this server (no Whop API key)", code="checkout_not_configured"
        )
    redirect = f"{public_url.base()}/billing?checkout=done"
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
        details={"plan": body.plan},
    )
    return CheckoutSession(id=created["id"], plan=body.plan, url=created["purchase_url"])


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
