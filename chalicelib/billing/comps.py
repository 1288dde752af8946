"""Plans an operator grants without Whop (a comp: support, a partner, trying the product
locally), as a membership of their own: the entitlement takes the best active membership, so a
comp and a Whop membership live side by side, and Whop's webhooks never touch a comp. A comp
lasts `days` (its renewal period: a new credits period begins when it is granted) and can be
revoked at once; both are audited."""

from __future__ import annotations

from datetime import timedelta

from chalicelib.billing import repository as billing_db
from chalicelib.billing.plans import plan_table
from chalicelib.core.errors import ValidationFailed
from chalicelib.core.ids import utcnow
from chalicelib.infra import audit, db

COMP_PLAN_ID = "comp"  # the whop_plan_id of a comp membership (no Whop plan has it)


def _membership_id(user_id: str) -> str:
    return f"comp_{user_id}"  # one comp per user: granting again replaces it


def grant(user_id: str, plan: str, days: int, actor: str | None = None) -> None:
    if plan not in plan_table():
        raise ValidationFailed(f"unknown plan {plan!r}; one of {sorted(plan_table())}")
    if not 1 <= days <= 3660:
        raise ValidationFailed("days must be between 1 and 3660")
    now = utcnow()
    with db.transaction() as cur:
        billing_db.upsert_membership(
            cur,
            {
                "id": _membership_id(user_id),
                "user_id": user_id,
                "email": None,
                "whop_user_id": None,
                "whop_plan_id": COMP_PLAN_ID,
                "plan": plan,
                "status": "active",
                "active": True,
                "cancel_at_period_end": True,
                "renewal_period_start": now,
                "renewal_period_end": now + timedelta(days=days),
                "source_updated_at": now,
            },
        )
    audit.record("plan.comped", user_id=actor, target=user_id, details={"plan": plan, "days": days})


def revoke(user_id: str, actor: str | None = None) -> bool:
    """End the user's comp now (their Whop membership, if any, decides again); False: none."""
    ended = db.execute(
        "UPDATE memberships SET active = 0, status = 'canceled', updated_at = %s"
        " WHERE id = %s AND active = 1",
        (utcnow(), _membership_id(user_id)),
    )
    if ended:
        audit.record("plan.comp_revoked", user_id=actor, target=user_id)
    return bool(ended)
