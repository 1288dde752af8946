"""Schemas of users' outgoing webhook endpoints."""

from pydantic import Field

from chalicelib.core.model_base import Model
from chalicelib.http.schemas.common import PageQuery, Strict, WebhookEndpointId, WebhookUrl
from chalicelib.jobs.states import EventType

DEFAULT_WEBHOOK_EVENTS = [t.value for t in EventType if t is not EventType.step_progress]


class WebhookEndpointCreate(Strict):
    url: WebhookUrl
    events: list[EventType] | None = Field(
        None, min_length=1, description=("Event types to deliver; default: every type but step.progress")
    )


class WebhookEndpoint(Model):
    id: str
    url: str
    events: list[str]
    created_at: str
    last_delivery_at: str | None = None
    last_status: int | None = Field(None, description="HTTP status of the last attempt; 0: no answer")


class WebhookEndpointCreated(Model):
    id: str
    url: str
    events: list[str]
    secret: str = Field(description="Signing secret (Standard Webhooks, whsec_...), shown only here")
    created_at: str


class WebhookEndpointList(Model):
    items: list[WebhookEndpoint]
    next_cursor: str | None


class WebhookEndpointsQuery(PageQuery):
    cursor: WebhookEndpointId | None = Field(None, description="`next_cursor` of the previous page")
