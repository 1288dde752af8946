"""Credit packs: one-time Whop products that add credits, and what a paid one does.

CREDIT_PACKS (settings) maps the Whop plan id of a one-time product to the pack it sells:
{"plan_x": {"name": "small", "credits_micros": 5000000, "price_micros": 5000000}}. It is checked
when first read, like PLANS and WHOP_PLAN_MAP: a misspelt field, a duplicate name or a Whop plan
that is also a subscription plan fails loudly instead of selling credits nobody receives.

Buying: checkout (chalicelib.billing.checkout) sends the pack's Whop plan with metadata.user_id;
Whop's signed `payment.succeeded` (chalicelib.billing.whop) credits the buyer once per payment id
(credits.add_topup). A buyer Whop names only by an address no account has proved yet is recorded
without a user and credited when an account verifies that address, as memberships are.
"""

from __future__ import annotations

from typing import Literal

from pydantic import ConfigDict, Field

from chalicelib.billing import credits
from chalicelib.core.model_base import Model
from chalicelib.core.settings import Settings, get_settings
from chalicelib.infra import db

PACK_NAME = r"^[a-z0-9][a-z0-9_-]{0,39}$"
# Whop's payment statuses: only a paid payment that was not refunded buys credits.
REFUNDED_SUBSTATUSES = {"refunded", "partially_refunded", "auto_refunded"}


class Pack(Model):
    """One credit pack as CREDIT_PACKS configures it (the Whop plan id is its key there)."""

    model_config = ConfigDict(extra="forbid", defer_build=True)

    name: str = Field(pattern=PACK_NAME)
    credits_micros: int = Field(gt=0, description="Credits added, in micro-dollars of provider cost")
    price_micros: int = Field(
        ge=0, description="What the buyer pays, in micro-dollars (as shown; Whop's plan price is charged)"
    )
    whop_plan_id: str = Field(min_length=1, max_length=64)


def pack_table() -> dict[str, Pack]:
    """Every pack by name, in CREDIT_PACKS order."""
    global _built
    settings = get_settings()
    source = (settings.credit_packs, settings.whop_plan_map)
    if _built is None or _built[0] != source:
        _built = (source, _table_for(settings))
    return _built[1]


# The table, and the settings it was built from (rebuilt when they change).
_built: tuple[tuple[dict, dict], dict[str, Pack]] | None = None


def _table_for(settings: Settings) -> dict[str, Pack]:
    table: dict[str, Pack] = {}
    for whop_plan_id, fields in settings.credit_packs.items():
        if whop_plan_id in settings.whop_plan_map:
            raise ValueError(f"CREDIT_PACKS: Whop plan {whop_plan_id} is also in WHOP_PLAN_MAP")
        pack = Pack.model_validate({**fields, "whop_plan_id": whop_plan_id})
        if pack.name in table:
            raise ValueError(f"CREDIT_PACKS: the pack name {pack.name!r} is used twice")
        table[pack.name] = pack
    return table


def pack_named(name: str) -> Pack | None:
    return pack_table().get(name)


def pack_for_whop(whop_plan_id: str | None) -> Pack | None:
    return next((p for p in pack_table().values() if p.whop_plan_id == whop_plan_id), None)


def pays_for_credits(status: str, substatus: str | None, refunded: bool) -> bool:
    """A payment Whop calls paid and that was not (even partly) refunded."""
    return status == "paid" and not refunded and substatus not in REFUNDED_SUBSTATUSES


def credit(
    cur, payment_id: str, pack: Pack, user_id: str | None, email: str | None
) -> Literal["added", "duplicate", "unclaimed"]:
    """A paid pack, inside the webhook's transaction: credited to `user_id` once per payment,
    or recorded for `email` until an account proves that address."""
    if user_id is not None:
        added = credits.add_topup(cur, payment_id, user_id, pack.name, pack.credits_micros)
        return "added" if added else "duplicate"
    held = credits.hold_topup(cur, payment_id, email, pack.name, pack.credits_micros)
    return "unclaimed" if held else "duplicate"


def attach_by_email(user_id: str, email: str) -> list[credits.Topup]:
    """Packs bought with `email` before an account proved it: now that account's credits."""
    with db.transaction() as cur:
        return credits.claim_topups(cur, user_id, email)
