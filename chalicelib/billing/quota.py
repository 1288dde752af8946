"""Quota: how many jobs a user may start in a period, reserved when a job is accepted and given
back when the job ends without the user getting what they paid for.

A reservation and its refund move in the job's own transition transaction (see
chalicelib.jobs.lifecycle), so a job's state and the money it holds never disagree: the job row's
`quota_reserved` flag says whether it holds one, and a refund flips it once.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from chalicelib.infra import db

if TYPE_CHECKING:
    from chalicelib.billing.plans import Entitlement

# Failures caused by what the user sent or set up: their reservation is not given back.
USER_FAULT_CODES = frozenset(
    {
        "invalid_input",
        "provider_key_rejected",
        "provider_key_missing",
        "provider_url_blocked",
        "image_too_large",
        "music_unreadable",
    }
)


class QuotaFull(Exception):
    """The period's jobs are all used."""


@dataclass(frozen=True)
class Period:
    """The window a user's jobs count in, and how many it allows."""

    start: datetime
    end: datetime
    limit: int

    @classmethod
    def of(cls, ent: Entitlement) -> Period:
        return cls(ent.period_start, ent.period_end, ent.plan.monthly_jobs)


def refunds_failure(code: str) -> bool:
    """A failure of ours (or of a provider) gives the reservation back; the user's own doesn't."""
    return code not in USER_FAULT_CODES


def period_usage(user_id: str, period_start: datetime, period_end: datetime) -> int:
    """Jobs used in the period. Creates the period's counter on first use, seeded with the jobs
    already reserved in that window, so a plan change that switches periods mid-month doesn't
    hand out a fresh quota. Plain reads and an autocommit insert: no gap locks that could
    deadlock with concurrent job inserts. Call it before `reserve` (outside its transaction)."""
    row = db.fetch_one(
        "SELECT used FROM quota_usage WHERE user_id = %s AND period_start = %s", (user_id, period_start)
    )
    if row:
        return int(row["used"])
    seed = db.count(
        "SELECT COUNT(*) AS n FROM jobs WHERE user_id = %s AND quota_reserved = 1"
        " AND created_at >= %s AND created_at < %s",
        (user_id, period_start, period_end),
    )
    db.execute(
        "INSERT IGNORE INTO quota_usage (user_id, period_start, used) VALUES (%s, %s, %s)",
        (user_id, period_start, seed),
    )
    return used(user_id, period_start)


def used(user_id: str, period_start: datetime) -> int:
    row = db.fetch_one(
        "SELECT used FROM quota_usage WHERE user_id = %s AND period_start = %s", (user_id, period_start)
    )
    return int(row["used"]) if row else 0


def reserve(cur, user_id: str, period_start: datetime, limit: int) -> None:
    """Take one job of the period's quota, or raise QuotaFull. The conditional UPDATE row-locks
    the counter, so N parallel submissions can never take more than `limit`."""
    if (
        cur.execute(
            "UPDATE quota_usage SET used = used + 1 WHERE user_id = %s AND period_start = %s AND used < %s",
            (user_id, period_start, limit),
        )
        != 1
    ):
        raise QuotaFull()


def give_back(cur, user_id: str, period_start: datetime) -> None:
    """Return one job of the period's quota (the caller has released the job's reservation)."""
    cur.execute(
        "UPDATE quota_usage SET used = used - 1 WHERE user_id = %s AND period_start = %s AND used > 0",
        (user_id, period_start),
    )
