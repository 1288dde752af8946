"""Whop webhooks: verified per Standard Webhooks on the raw body, applied once per `webhook-id`,
never letting an older membership state overwrite a newer one. A paid `payment.succeeded` for a
credit pack's Whop plan adds its credits once per payment id (chalicelib.billing.packs); the
membership Whop makes for a one-time pack is recorded only (it is not a plan).

`WHOP_WEBHOOK_SECRET` is the secret as Whop's dashboard shows it; as in Whop's own examples the
key handed to the library is base64(secret).
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
from datetime import UTC, datetime
from typing import Any

from pydantic import ConfigDict, ValidationError

from chalicelib.accounts import users
from chalicelib.billing import packs, plans
from chalicelib.billing import repository as billing_db
from chalicelib.core.errors import BadRequest, Unauthorized
from chalicelib.core.model_base import Model
from chalicelib.http.plumbing import field_errors
from chalicelib.http.schemas.billing import WebhookAck
from chalicelib.infra import audit, db, secret_store

log = logging.getLogger(__name__)

MEMBERSHIP_EVENTS = {
    "membership.activated",
    "membership.deactivated",
    "membership.cancel_at_period_end_changed",
    "membership.updated",
}
PAYMENT_EVENTS = {"payment.succeeded", "payment.failed"}
VALID_STATUSES = {"active", "trialing", "completed"}


class _Loose(Model):
    model_config = ConfigDict(extra="allow")


class WhopRef(_Loose):
    id: str | None = None
    email: str | None = None


class WhopMembership(_Loose):
    id: str
    status: str = "unknown"
    valid: bool | None = None
    plan: WhopRef | None = None
    user: WhopRef | None = None
    metadata: dict[str, Any] | None = None
    renewal_period_start: datetime | None = None
    renewal_period_end: datetime | None = None
    cancel_at_period_end: bool = False
    updated_at: datetime | None = None


class WhopPayment(_Loose):
    id: str
    status: str = "unknown"
    substatus: str | None = None
    refunded_at: datetime | None = None
    plan: WhopRef | None = None
    membership: WhopRef | None = None
    user: WhopRef | None = None
    metadata: dict[str, Any] | None = None
    total: float | None = None
    currency: str | None = None
    updated_at: datetime | None = None


def _naive_utc(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    return value.astimezone(UTC).replace(tzinfo=None) if value.tzinfo else value


def _verify(raw_body: bytes, headers: dict[str, str]) -> dict:
    from standardwebhooks import Webhook
    from standardwebhooks.webhooks import WebhookVerificationError

    secret = secret_store.whop_webhook_secret()
    if not secret_store.is_configured(secret):
        # An empty or placeholder secret is public knowledge: anyone could sign with it.
        log.error(
            "No Whop webhook secret is configured (WHOP_WEBHOOK_SECRET or its ARN is unset,"
            " empty or a placeholder): rejecting a Whop webhook"
        )
        raise Unauthorized(
            "Whop webhooks are not configured on this deployment", code="webhook_secret_not_configured"
        )
    verifier = Webhook(base64.b64encode(secret.encode()).decode())
    try:
        verifier.verify(raw_body, headers, json_parse=False)
    except (WebhookVerificationError, ValueError, binascii.Error, UnicodeDecodeError):
        raise Unauthorized(
            "Bad or missing webhook signature, or a stale timestamp", code="invalid_signature"
        ) from None
    try:
        payload = json.loads(raw_body)
    except ValueError:
        raise BadRequest("Malformed JSON", code="malformed_json") from None
    if not isinstance(payload, dict) or not isinstance(payload.get("type"), str):
        raise BadRequest("A webhook needs a `type`", code="invalid_payload")
    return payload


def _find_user(metadata: dict | None, user: WhopRef | None) -> str | None:
    candidate = (metadata or {}).get("user_id")
    if isinstance(candidate, str) and users.by_id(candidate):
        return candidate
    if user and user.email:  # only an address its owner proved (else: attached on verification)
        row = users.by_verified_email(users.canonical_email(user.email))
        return row.id if row else None
    return None


def _apply_membership(cur, type_: str, m: WhopMembership, sent_at: datetime) -> dict:
    whop_plan = m.plan.id if m.plan else None
    plan = plans.plan_for_whop(whop_plan)
    active = type_ != "membership.deactivated" and (
        m.valid if m.valid is not None else m.status in VALID_STATUSES
    )
    before = billing_db.membership(cur, m.id)
    source_updated_at = _naive_utc(m.updated_at) or sent_at
    row = {
        "id": m.id,
        "user_id": _find_user(m.metadata, m.user),
        "email": users.canonical_email(m.user.email) if m.user and m.user.email else None,
        "whop_user_id": m.user.id if m.user else None,
        "whop_plan_id": whop_plan,
        "plan": plan,
        "status": m.status,
        "active": active,
        "cancel_at_period_end": m.cancel_at_period_end,
        "renewal_period_start": _naive_utc(m.renewal_period_start),
        "renewal_period_end": _naive_utc(m.renewal_period_end),
        "source_updated_at": source_updated_at,
    }
    billing_db.upsert_membership(cur, row)
    after = billing_db.membership(cur, m.id)
    assert after is not None  # upserted just above, in this transaction
    return {
        "user_id": after.user_id,
        "membership": m.id,
        "stale": after.source_updated_at > source_updated_at,
        "plan": after.plan,
        "active": after.active,
        "previous": {"plan": before.plan, "active": before.active} if before else None,
    }


def _apply_payment(cur, type_: str, p: WhopPayment, sent_at: datetime) -> dict:
    user_id = _find_user(p.metadata, p.user)
    billing_db.upsert_payment(
        cur,
        {
            "id": p.id,
            "membership_id": p.membership.id if p.membership else None,
            "user_id": user_id,
            "status": p.status,
            "amount": p.total,
            "currency": p.currency,
            "source_updated_at": _naive_utc(p.updated_at) or sent_at,
        },
    )
    outcome: dict[str, Any] = {"user_id": user_id, "payment": p.id, "status": p.status}
    pack = packs.pack_for_whop(p.plan.id if p.plan else None)
    if pack is not None:
        paid = type_ == "payment.succeeded" and packs.pays_for_credits(
            p.status, p.substatus, p.refunded_at is not None
        )
        email = users.canonical_email(p.user.email) if p.user and p.user.email else None
        outcome["topup"] = {
            "pack": pack.name,
            "credits_micros": pack.credits_micros,
            "credited": packs.credit(cur, p.id, pack, user_id, email) if paid else "not_paid",
        }
    return outcome


def _is_pack_membership(m: WhopMembership | None) -> bool:
    return m is not None and m.plan is not None and packs.pack_for_whop(m.plan.id) is not None


@db.retries_conflicts
def _apply(
    webhook_id: str,
    type_: str,
    handled: bool,
    payload: dict,
    membership: WhopMembership | None,
    payment: WhopPayment | None,
    sent_at: datetime,
) -> dict:
    """One transaction: the delivery recorded (AlreadyProcessed when it was) and applied; run
    again whole if it deadlocked with a parallel delivery of the same payment."""
    with db.transaction() as cur:
        billing_db.record_delivery(cur, webhook_id, "whop", type_, handled, payload)
        if membership is not None:
            return _apply_membership(cur, type_, membership, sent_at)
        if payment is not None:
            return _apply_payment(cur, type_, payment, sent_at)
        return {"user_id": None}


def receive(raw_body: bytes, headers: dict[str, str]) -> WebhookAck:
    headers = {k.lower(): v for k, v in headers.items()}
    payload = _verify(raw_body, headers)
    type_ = payload["type"]
    sent_at = datetime.fromtimestamp(int(headers["webhook-timestamp"]), UTC).replace(tzinfo=None)
    data = payload.get("data") or {}
    handled = type_ in MEMBERSHIP_EVENTS | PAYMENT_EVENTS
    try:
        membership = WhopMembership.model_validate(data) if type_ in MEMBERSHIP_EVENTS else None
        payment = WhopPayment.model_validate(data) if type_ in PAYMENT_EVENTS else None
    except ValidationError as exc:
        raise BadRequest(
            "Unexpected webhook data", code="invalid_payload", details=field_errors(exc)
        ) from None
    if _is_pack_membership(membership):
        membership, handled = None, False
    try:
        outcome = _apply(headers["webhook-id"], type_, handled, payload, membership, payment, sent_at)
    except billing_db.AlreadyProcessed:
        return WebhookAck(received=True, duplicate=True, handled=handled)
    if handled:
        audit.record(
            f"whop.{type_}",
            user_id=outcome.pop("user_id"),
            target=data.get("id"),
            details={**outcome, "webhook_id": headers["webhook-id"]},
        )
    return WebhookAck(received=True, handled=handled)
