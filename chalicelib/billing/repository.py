"""SQL for memberships, payments and processed webhook deliveries (quota: chalicelib.billing.quota)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from chalicelib.core.ids import utcnow
from chalicelib.infra import db


class AlreadyProcessed(Exception):
    pass


@dataclass(frozen=True, slots=True)
class MembershipRow(db.Row):
    """A row of `memberships`: a Whop membership, ours once `user_id` is set."""

    id: str
    plan: str
    status: str  # Whop's
    active: bool
    source_updated_at: datetime
    created_at: datetime
    updated_at: datetime
    user_id: str | None = None
    email: str | None = None
    whop_user_id: str | None = None
    whop_plan_id: str | None = None
    cancel_at_period_end: bool = False
    renewal_period_start: datetime | None = None
    renewal_period_end: datetime | None = None

    @classmethod
    def _decode(cls, values: dict[str, Any]) -> dict[str, Any]:
        values["active"] = bool(values["active"])
        values["cancel_at_period_end"] = bool(values.get("cancel_at_period_end"))
        return values


def record_delivery(cur, webhook_id: str, source: str, type_: str, handled: bool, payload: dict) -> None:
    """Inside the caller's transaction, so a delivery counts as processed only if applied."""
    try:
        cur.execute(
            "INSERT INTO webhook_deliveries (webhook_id, source, type, handled, payload,"
            " received_at) VALUES (%s, %s, %s, %s, %s, %s)",
            (webhook_id, source, type_, handled, json.dumps(payload), utcnow()),
        )
    except db.integrity_error() as exc:
        raise AlreadyProcessed(webhook_id) from exc


def upsert_membership(cur, m: dict) -> None:
    """Insert, or update only when this state is at least as new as the stored one
    (Whop may deliver out of order). `source_updated_at` is assigned last on purpose: MySQL
    evaluates the assignments left to right."""
    now = utcnow()
    cur.execute(
        "INSERT INTO memberships (id, user_id, email, whop_user_id, whop_plan_id, plan, status, active,"
        " cancel_at_period_end, renewal_period_start, renewal_period_end, source_updated_at,"
        " created_at, updated_at) VALUES (%(id)s, %(user_id)s, %(email)s, %(whop_user_id)s,"
        " %(whop_plan_id)s, %(plan)s, %(status)s, %(active)s, %(cancel_at_period_end)s,"
        " %(renewal_period_start)s, %(renewal_period_end)s, %(source_updated_at)s, %(now)s, %(now)s)"
        " ON DUPLICATE KEY UPDATE"
        " user_id = COALESCE(user_id, VALUES(user_id)),"
        " email = IF(VALUES(source_updated_at) >= source_updated_at, COALESCE(VALUES(email), email), email),"
        " whop_user_id = COALESCE(VALUES(whop_user_id), whop_user_id),"
        " whop_plan_id = IF(VALUES(source_updated_at) >= source_updated_at, VALUES(whop_plan_id), whop_plan_id),"
        " plan = IF(VALUES(source_updated_at) >= source_updated_at, VALUES(plan), plan),"
        " status = IF(VALUES(source_updated_at) >= source_updated_at, VALUES(status), status),"
        " active = IF(VALUES(source_updated_at) >= source_updated_at, VALUES(active), active),"
        " cancel_at_period_end = IF(VALUES(source_updated_at) >= source_updated_at,"
        "   VALUES(cancel_at_period_end), cancel_at_period_end),"
        " renewal_period_start = IF(VALUES(source_updated_at) >= source_updated_at,"
        "   VALUES(renewal_period_start), renewal_period_start),"
        " renewal_period_end = IF(VALUES(source_updated_at) >= source_updated_at,"
        "   VALUES(renewal_period_end), renewal_period_end),"
        " updated_at = %(now)s,"
        " source_updated_at = GREATEST(source_updated_at, VALUES(source_updated_at))",
        {**m, "now": now},
    )


def membership(cur, membership_id: str) -> MembershipRow | None:
    cur.execute("SELECT * FROM memberships WHERE id = %s", (membership_id,))
    return MembershipRow.maybe(cur.fetchone())


def upsert_payment(cur, p: dict) -> None:
    cur.execute(
        "INSERT INTO payments (id, membership_id, user_id, status, amount, currency,"
        " source_updated_at, created_at) VALUES (%(id)s, %(membership_id)s, %(user_id)s,"
        " %(status)s, %(amount)s, %(currency)s, %(source_updated_at)s, %(now)s)"
        " ON DUPLICATE KEY UPDATE"
        " status = IF(VALUES(source_updated_at) >= source_updated_at, VALUES(status), status),"
        " user_id = COALESCE(user_id, VALUES(user_id)),"
        " source_updated_at = GREATEST(source_updated_at, VALUES(source_updated_at))",
        {**p, "now": utcnow()},
    )


def active_memberships(user_id: str) -> list[MembershipRow]:
    return [
        MembershipRow.of(row)
        for row in db.fetch_all("SELECT * FROM memberships WHERE user_id = %s AND active = 1", (user_id,))
    ]


def latest_membership(user_id: str) -> MembershipRow | None:
    return MembershipRow.maybe(
        db.fetch_one(
            "SELECT * FROM memberships WHERE user_id = %s ORDER BY active DESC, source_updated_at DESC LIMIT 1",
            (user_id,),
        )
    )


def attach_memberships_by_email(user_id: str, email: str) -> list[MembershipRow]:
    """Memberships bought before signup: they become this user's (the rows as they were)."""
    with db.transaction() as cur:
        cur.execute(
            "SELECT * FROM memberships WHERE user_id IS NULL AND email = %s FOR UPDATE",
            (email,),
        )
        rows = [MembershipRow.of(row) for row in cur.fetchall()]
        if rows:
            cur.execute(
                "UPDATE memberships SET user_id = %s WHERE user_id IS NULL AND email = %s", (user_id, email)
            )
    return rows
