"""Schemas of plans, checkout and the Whop webhook."""

from pydantic import Field

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


def _plan_names(schema: dict) -> None:
    from chalicelib.billing.plans import DEFAULT_PLANS  # the plans checkout knows (422 for others)

    schema["enum"] = list(DEFAULT_PLANS)


class CheckoutCreate(Strict):
    plan: str = Field(
        min_length=1, max_length=40, description="The plan to buy, e.g. pro", json_schema_extra=_plan_names
    )


class CheckoutSession(Model):
    id: str = Field(description="Whop's checkout configuration id")
    plan: str
    url: str = Field(description="Whop's purchase URL: send the buyer there")


class StandardWebhookHeaders(Model):
    """Checked by the signature verification (401 when missing or wrong), not by this model."""

    webhook_id: str = Field(alias="webhook-id")
    webhook_timestamp: str = Field(alias="webhook-timestamp", pattern=r"^[0-9]+$")
    webhook_signature: str = Field(alias="webhook-signature")
