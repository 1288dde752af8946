"""Schemas of plans, credit packs, checkout and the Whop webhook."""

from typing import Self

from pydantic import Field, model_validator

from chalicelib.core.model_base import Model
from chalicelib.http.schemas.common import Strict


class IncludedAI(Model):
    provider: str
    model: str | None = None
    quality: str | None = None


class PlanInfo(Model):
    name: str
    monthly_jobs: int
    max_duration_s: int
    max_concurrency: int
    retention_days: int
    monthly_credits_micros: int = Field(0, description="Credits for platform AI each period (micro-dollars)")
    ai: dict[str, IncludedAI] = Field(
        default_factory=dict, description="Per purpose (concept, image, narration), the AI the plan includes"
    )


class Credits(Model):
    """Platform AI credits in micro-dollars (1 USD = 1 000 000)."""

    monthly_micros: int = Field(description="The plan's allowance per period")
    allowance_micros: int = Field(description="What is left of this period's allowance")
    topup_micros: int = Field(description="What is left of the credit packs bought (never expires)")
    reserved_micros: int = Field(description="What queued and running jobs hold")
    available_micros: int = Field(description="What a new job can reserve")


class WebhookAck(Model):
    received: bool
    duplicate: bool = False
    handled: bool = Field(description="False for event types we only record")


class PlanOffer(PlanInfo):
    purchasable: bool = Field(description="Whop checkout is configured for this plan")


class PlanCatalog(Model):
    items: list[PlanOffer]


class PackOffer(Model):
    """A credit pack: a one-time Whop product that adds credits (CREDIT_PACKS)."""

    name: str = Field(description="What checkout takes as `pack`")
    credits_micros: int = Field(description="Credits it adds, in micro-dollars (never expire)")
    price_micros: int = Field(description="Its price in micro-dollars (USD), as configured")


class PackCatalog(Model):
    items: list[PackOffer]


def _plan_names(schema: dict) -> None:
    from chalicelib.billing.plans import DEFAULT_PLANS  # the plans checkout knows (422 for others)

    for option in schema.get("anyOf", [schema]):
        if option.get("type") == "string":
            option["enum"] = list(DEFAULT_PLANS)


class CheckoutCreate(Strict):
    """Exactly one of `plan` (a membership) and `pack` (credits, bought once)."""

    plan: str | None = Field(
        None,
        min_length=1,
        max_length=40,
        description="The plan to buy, e.g. pro",
        json_schema_extra=_plan_names,
    )
    pack: str | None = Field(
        None, min_length=1, max_length=40, description="The credit pack to buy (GET /v1/billing/packs)"
    )

    @model_validator(mode="after")
    def _one_purchase(self) -> Self:
        if (self.plan is None) == (self.pack is None):
            raise ValueError("send exactly one of `plan` and `pack`")
        return self


class CheckoutSession(Model):
    id: str = Field(description="Whop's checkout configuration id")
    plan: str | None = Field(None, description="The plan being bought (a plan checkout)")
    pack: str | None = Field(None, description="The credit pack being bought (a pack checkout)")
    url: str = Field(description="Whop's purchase URL: send the buyer there")


class StandardWebhookHeaders(Model):
    """Checked by the signature verification (401 when missing or wrong), not by this model."""

    webhook_id: str = Field(alias="webhook-id")
    webhook_timestamp: str = Field(alias="webhook-timestamp", pattern=r"^[0-9]+$")
    webhook_signature: str = Field(alias="webhook-signature")
