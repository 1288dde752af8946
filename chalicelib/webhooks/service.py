"""Outgoing webhooks: users register endpoints, and their jobs' events are delivered to them,
signed per Standard Webhooks (`webhook-id`, `webhook-timestamp`, `webhook-signature`).

Deliveries ride a BullMQ queue of their own (a slow receiver never delays a render), are retried
with jittered backoff, and the ones that never got through stay in its failed set. The message id
is stable per event, so a receiver can drop the duplicates at-least-once delivery brings.
"""

from __future__ import annotations

import base64
import json
import logging
import os
from datetime import UTC, datetime

from chalicelib.accounts import notices
from chalicelib.accounts.auth import Principal, require_credential_writer
from chalicelib.core.errors import Conflict, NotFound, ValidationFailed
from chalicelib.core.ids import iso, new_id
from chalicelib.core.settings import get_settings
from chalicelib.http.schemas.jobs import Event
from chalicelib.http.schemas.webhooks import (
    DEFAULT_WEBHOOK_EVENTS,
    WebhookEndpoint,
    WebhookEndpointCreate,
    WebhookEndpointCreated,
    WebhookEndpointList,
)
from chalicelib.infra import audit, crypto, queue, ratelimit, url_guard
from chalicelib.jobs.states import EventType
from chalicelib.webhooks import repository as webhooks_db

log = logging.getLogger(__name__)


class DeliveryFailed(Exception):
    """The receiver did not answer 2xx: BullMQ tries again later."""


def _owner(user_id: str, endpoint_id: str) -> dict[str, str]:
    return {"user_id": user_id, "webhook_endpoint": endpoint_id}


def _public(row: webhooks_db.WebhookEndpointRow) -> WebhookEndpoint:
    return WebhookEndpoint(
        id=row.id,
        url=row.url,
        events=row.events or DEFAULT_WEBHOOK_EVENTS,
        created_at=iso(row.created_at),
        last_delivery_at=iso(row.last_delivery_at),
        last_status=row.last_status,
    )


def _limit_reached(limit: int) -> Conflict:
    return Conflict(
        f"You already have {limit} webhook endpoints; delete one first",
        code="webhook_endpoint_limit_reached",
        details={"limit": limit},
    )


def register(principal: Principal, body: WebhookEndpointCreate, ip: str | None) -> WebhookEndpointCreated:
    require_credential_writer(principal)
    url = str(body.url)
    url_guard.check_outbound(url, "url")
    limit = get_settings().max_webhook_endpoints_per_user
    ratelimit.credential_write(principal.user_id)
    if webhooks_db.count(principal.user_id) >= limit:  # before the KMS call; rechecked in SQL
        raise _limit_reached(limit)
    events = sorted({e.value for e in body.events}) if body.events else None
    secret = "whsec_" + base64.b64encode(os.urandom(24)).decode()
    endpoint_id = new_id("whe")
    sealed = crypto.seal(secret, _owner(principal.user_id, endpoint_id))
    try:
        row = webhooks_db.create(
            principal.user_id, url, events, sealed.ciphertext, sealed.wrapped_key, endpoint_id, limit=limit
        )
    except webhooks_db.LimitReached:
        raise _limit_reached(limit) from None
    audit.record("webhook_endpoint.created", user_id=principal.user_id, ip=ip, target=endpoint_id)
    notices.credential_created(principal.user_id, "webhook endpoint", url, ip)
    return WebhookEndpointCreated(
        id=endpoint_id,
        url=url,
        events=events or DEFAULT_WEBHOOK_EVENTS,
        secret=secret,
        created_at=iso(row.created_at),
    )


def list_endpoints(principal: Principal, limit: int, cursor: str | None) -> WebhookEndpointList:
    rows = webhooks_db.page(principal.user_id, limit, cursor)
    items = [_public(r) for r in rows[:limit]]
    return WebhookEndpointList(items=items, next_cursor=items[-1].id if len(rows) > limit else None)


def delete(principal: Principal, endpoint_id: str, ip: str | None) -> None:
    ratelimit.credential_write(principal.user_id)
    if not webhooks_db.delete(principal.user_id, endpoint_id):
        raise NotFound("Webhook endpoint not found")
    audit.record("webhook_endpoint.deleted", user_id=principal.user_id, ip=ip, target=endpoint_id)


def require_registered(user_id: str, url: str) -> None:
    """A job's `webhook_url` must be one of the user's endpoints: it then has a secret to sign
    with and passed the outbound URL checks."""
    if webhooks_db.by_url(user_id, url) is None:
        raise ValidationFailed(
            "webhook_url is not a registered webhook endpoint",
            details=[
                {
                    "field": "webhook_url",
                    "type": "not_registered",
                    "message": "register it first with POST /v1/webhook-endpoints (you get its signing secret)",
                }
            ],
        )


def fan_out(job_id: str, user_id: str, job_url: str | None, event: Event) -> int:
    """Queue one delivery of `event` per endpoint of the job's owner (`user_id`) that wants it;
    `job_url` (the job's webhook_url) gets the default events even if it asked for others."""
    if event.type is EventType.step_progress:
        return 0
    # Bounded: one event never queues more than WEBHOOK_FANOUT_MAX deliveries.
    fanout_max = get_settings().webhook_fanout_max
    targets = [
        e
        for e in webhooks_db.of_user(user_id, limit=fanout_max)
        if event.type.value in (e.events or DEFAULT_WEBHOOK_EVENTS)
        or (e.url == job_url and event.type.value in DEFAULT_WEBHOOK_EVENTS)
    ]
    payload = {
        "type": event.type.value,
        "timestamp": event.at,
        "data": {"job_id": job_id, **event.model_dump(mode="json")},
    }
    for endpoint in targets:
        queue.enqueue_delivery(
            f"{endpoint.id}:{event.id}",
            {"endpoint_id": endpoint.id, "message_id": f"msg_{job_id}_{event.id}", "payload": payload},
        )
    return len(targets)


async def deliver(job, token) -> str:
    """BullMQ processor (in the worker): POST one signed delivery; raise to retry."""
    import asyncio

    from standardwebhooks import Webhook

    from chalicelib.infra import outbound  # worker only: keeps httpx out of the API's cold start

    data = job.data
    endpoint = await asyncio.to_thread(webhooks_db.sealed, data["endpoint_id"])
    if endpoint is None:
        return "endpoint deleted"
    secret = await asyncio.to_thread(
        crypto.open_sealed,
        bytes(endpoint.encrypted_secret),
        bytes(endpoint.wrapped_dek),
        _owner(endpoint.user_id, endpoint.id),
    )
    body = json.dumps(data["payload"], separators=(",", ":"))
    now = datetime.now(UTC)
    headers = {
        "content-type": "application/json",
        "user-agent": "media-orchestrator-webhooks/1",
        "webhook-id": data["message_id"],
        "webhook-timestamp": str(int(now.timestamp())),
        "webhook-signature": Webhook(secret).sign(data["message_id"], now, body),
    }
    try:  # only the status matters: the body is never read, however long it is
        reply = await outbound.request_async(
            "POST",
            endpoint.url,
            content=body,
            headers=headers,
            deadline_s=get_settings().webhook_timeout_s,
            max_bytes=0,
        )
        status = reply.status
    except outbound.OutboundError as exc:
        if exc.kind == "blocked":
            log.warning("webhook delivery refused: %s", exc.message)
            await asyncio.to_thread(webhooks_db.record_attempt, endpoint.id, 0)
            return "refused: unsafe destination"  # permanent: no retries
        log.info("webhook delivery failed: %s", exc.kind)
        status = 0
    await asyncio.to_thread(webhooks_db.record_attempt, endpoint.id, status)
    if not 200 <= status < 300:
        raise DeliveryFailed(f"receiver answered {status or 'nothing'}")
    return f"delivered ({status})"
