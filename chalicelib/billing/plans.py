"""Which plan a user is on, and the period their quota counts in."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from chalicelib.config import Plan, get_settings
from chalicelib.db import billing as billing_db


@dataclass(frozen=True)
class Entitlement:
    plan: Plan
    period_start: datetime
    period_end: datetime
    membership: dict | None  # the membership granting the plan (or the latest one), if any


def calendar_month(now: datetime) -> tuple[datetime, datetime]:
    start = now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    end = start.replace(year=start.year + 1, month=1) if start.month == 12 \
        else start.replace(month=start.month + 1)
    return start, end


def entitlement(user_id: str, now: datetime) -> Entitlement:
    """The best active membership's plan (free without one) and its period: the membership's
    renewal period when it has a current one, else the calendar month in UTC."""
    table = get_settings().plan_table
    active = billing_db.active_memberships(user_id)
    best = max(active, key=lambda m: table[m["plan"]].rank, default=None)
    plan = table[best["plan"]] if best else table["free"]
    start, end = calendar_month(now)
    if best and best["renewal_period_start"] and best["renewal_period_end"] \
            and best["renewal_period_start"] <= now < best["renewal_period_end"]:
        start, end = best["renewal_period_start"], best["renewal_period_end"]
    return Entitlement(plan=plan, period_start=start, period_end=end,
                       membership=best or billing_db.latest_membership(user_id))


def plan_named(name: str) -> Plan:
    table = get_settings().plan_table
    return table.get(name, table["free"])
