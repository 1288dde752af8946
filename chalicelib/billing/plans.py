"""Plans: their limits, which one a user is on (their best active Whop membership), the
period their quota counts in, and how a Whop plan id maps to ours (WHOP_PLAN_MAP).

PLANS and WHOP_PLAN_MAP (settings) are checked against the plans defined here when the table is
first built: an unknown plan name fails loudly instead of mapping a paying customer to nothing.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from pydantic import Field

from chalicelib.billing import repository as billing_db
from chalicelib.core.model_base import Model
from chalicelib.core.settings import MB, Settings, get_settings

log = logging.getLogger(__name__)
FREE = "free"


class AITier(Model):
    """What a plan includes for one purpose on the platform's account: a provider and its model
    (and, for images, the quality), priced by chalicelib.billing.prices."""

    provider: str
    model: str | None = None
    quality: str | None = None


class Plan(Model):
    """A plan's limits. A user's active Whop membership decides the plan; free without one."""

    name: str
    monthly_jobs: int = Field(ge=0)
    max_duration_s: int = Field(ge=5)
    max_concurrency: int = Field(ge=1)
    retention_days: int = Field(ge=1)
    priority: int = Field(
        ge=1,
        le=100,
        description="Tie-break in the queue: lower runs first (see chalicelib.jobs.lifecycle.fair_priority)",
    )
    upload_max_bytes: int = Field(ge=1)
    rank: int = Field(description="When a user holds several memberships, the highest rank wins")
    clip_max_s: float = Field(30, gt=0, description="Longest video clip a user may upload")
    clip_max_side: int = Field(1920, ge=16, description="Largest width or height of an uploaded clip")
    monthly_credits_micros: int = Field(
        0, ge=0, description="Credits for platform AI each period, in micro-dollars of provider cost"
    )
    ai: dict[str, AITier] = Field(
        default_factory=dict, description="Per purpose, what the plan includes on the platform's account"
    )

    def public(self) -> dict:
        return self.model_dump(
            include={
                "name",
                "monthly_jobs",
                "max_duration_s",
                "max_concurrency",
                "retention_days",
                "monthly_credits_micros",
                "ai",
            }
        )


OPENAI_MINI = AITier(provider="openai", model="gpt-4o-mini")
# AI motion (`motion: ai`, only when a job asks for it): ~$0.28 a 5 s clip
KLING = AITier(provider="fal", model="fal-ai/kling-video/v2.1/standard/image-to-video")


DEFAULT_PLANS = {
    "free": Plan(
        name="free",
        monthly_jobs=5,
        max_duration_s=30,
        max_concurrency=1,
        retention_days=7,
        priority=3,
        upload_max_bytes=10 * MB,
        rank=0,
        monthly_credits_micros=50_000,  # $0.05: a written concept per video, the rest offline
        ai={"concept": OPENAI_MINI},
    ),
    "pro": Plan(
        name="pro",
        monthly_jobs=200,
        max_duration_s=120,
        max_concurrency=3,
        retention_days=30,
        priority=2,
        upload_max_bytes=50 * MB,
        rank=1,
        clip_max_s=60,
        clip_max_side=3840,
        monthly_credits_micros=10_000_000,  # $10
        ai={
            "concept": OPENAI_MINI,
            "image": AITier(provider="openai", model="gpt-image-1", quality="medium"),
            "narration": AITier(provider="openai", model="tts-1"),
            "video": KLING,
        },
    ),
    "business": Plan(
        name="business",
        monthly_jobs=2000,
        max_duration_s=180,
        max_concurrency=10,
        retention_days=90,
        priority=1,
        upload_max_bytes=200 * MB,
        rank=2,
        clip_max_s=120,
        clip_max_side=3840,
        monthly_credits_micros=50_000_000,  # $50
        ai={
            "concept": AITier(provider="openai", model="gpt-4o"),
            "image": AITier(provider="openai", model="gpt-image-1", quality="high"),
            "narration": AITier(provider="elevenlabs", model="eleven_multilingual_v2"),
            "video": KLING,
        },
    ),
}


@dataclass(frozen=True)
class Entitlement:
    plan: Plan
    period_start: datetime
    period_end: datetime
    membership: (
        billing_db.MembershipRow | None
    )  # the membership granting the plan (or the latest one), if any


def plan_table() -> dict[str, Plan]:
    """Every plan by name, with the PLANS overrides applied."""
    global _built
    settings = get_settings()
    if _built is None or _built[0] is not settings:
        _built = (settings, _table_for(settings))
    return _built[1]


_built: tuple[Settings, dict[str, Plan]] | None = None  # the table of the settings in force


def _table_for(settings: Settings) -> dict[str, Plan]:
    unknown = set(settings.plans) - set(DEFAULT_PLANS) | set(settings.whop_plan_map.values()) - set(
        DEFAULT_PLANS
    )
    if unknown:
        raise ValueError(f"unknown plan names in PLANS / WHOP_PLAN_MAP: {sorted(unknown)}")
    return {
        name: Plan.model_validate({**default.model_dump(), **settings.plans.get(name, {}), "name": name})
        for name, default in DEFAULT_PLANS.items()
    }


def plan_named(name: str) -> Plan:
    table = plan_table()
    return table.get(name, table[FREE])


def plan_for_whop(whop_plan_id: str | None) -> str:
    """Our plan for a Whop plan id (WHOP_PLAN_MAP); free for one we don't know."""
    plan_table()  # (checks the map's plan names)
    table = get_settings().whop_plan_map
    if whop_plan_id and whop_plan_id not in table:
        log.warning("Whop plan %s is not in WHOP_PLAN_MAP; treating it as free", whop_plan_id)
    return table.get(whop_plan_id or "", FREE)


def calendar_month(now: datetime) -> tuple[datetime, datetime]:
    start = now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    end = (
        start.replace(year=start.year + 1, month=1)
        if start.month == 12
        else start.replace(month=start.month + 1)
    )
    return start, end


def _lapsed(m: billing_db.MembershipRow, now: datetime) -> bool:
    """Set to end with its period (a comp; a Whop membership canceled at period end), and past it."""
    return bool(m.cancel_at_period_end and m.renewal_period_end and m.renewal_period_end <= now)


def entitlement(user_id: str, now: datetime) -> Entitlement:
    """The best active membership's plan (free without one) and its period: the membership's
    renewal period when it has a current one, else the calendar month in UTC."""
    table = plan_table()
    active = [m for m in billing_db.active_memberships(user_id) if not _lapsed(m, now)]
    best = max(active, key=lambda m: table[m.plan].rank, default=None)
    plan = table[best.plan] if best else table[FREE]
    start, end = calendar_month(now)
    if (
        best
        and best.renewal_period_start
        and best.renewal_period_end
        and best.renewal_period_start <= now < best.renewal_period_end
    ):
        start, end = best.renewal_period_start, best.renewal_period_end
    return Entitlement(
        plan=plan,
        period_start=start,
        period_end=end,
        membership=best or billing_db.latest_membership(user_id),
    )
