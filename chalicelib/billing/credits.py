"""Credits: what a user may spend on the platform's AI accounts, in integer micro-dollars.

A user's `credit_accounts` row holds what is left of the period's plan allowance, what is left of
the credit packs they bought, and what their jobs hold. The money moves in the job's own
transition transactions (chalicelib.jobs.lifecycle), like the job quota:
- submission (and a retry) reserves the job's estimate, an upper bound of what it can spend;
  `reserve` is one conditional UPDATE, so parallel submissions never hold more than there is;
- a running job spends only within what it holds (the provider chain falls back to the next
  provider when a call would not fit);
- the job's end settles: what its platform calls cost is charged (allowance first, then packs)
  and the rest of the reservation goes back; a failure of ours charges nothing.
Each step's usage rows (provider_usage, with cost and account) are the record of what was spent.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from chalicelib.core.ids import utcnow
from chalicelib.infra import db


class CreditsExhausted(Exception):
    def __init__(self, needed: int, available: int):
        super().__init__(f"needs {needed} micro-dollars of credits, {available} available")
        self.needed, self.available = needed, available


@dataclass(frozen=True, slots=True)
class Balance(db.Row):
    period_start: datetime
    allowance_micros: int
    topup_micros: int
    reserved_micros: int

    @property
    def available_micros(self) -> int:
        return max(0, self.allowance_micros + self.topup_micros - self.reserved_micros)


def ensure(user_id: str, period_start: datetime, allowance_micros: int) -> None:
    """The user's account exists and is in the current period: a new period refills the plan
    allowance (what was left of the old one lapses; bought packs stay), and an upgrade within a
    period adds what the bigger allowance grants beyond what was granted (a downgrade takes
    nothing back). Autocommit, before the transaction that reserves (no gap locks against
    concurrent submissions)."""
    # Assignments run left to right: each reads the columns after it as they were.
    db.execute(
        "INSERT INTO credit_accounts (user_id, period_start, allowance_micros, granted_micros)"
        " VALUES (%s, %s, %s, %s) ON DUPLICATE KEY UPDATE"
        "  allowance_micros = IF(period_start < VALUES(period_start), VALUES(allowance_micros),"
        "   allowance_micros + GREATEST(0, VALUES(granted_micros) - granted_micros)),"
        "  granted_micros = IF(period_start < VALUES(period_start), VALUES(granted_micros),"
        "   GREATEST(granted_micros, VALUES(granted_micros))),"
        "  period_start = GREATEST(period_start, VALUES(period_start))",
        (user_id, period_start, allowance_micros, allowance_micros),
    )


def as_of(user_id: str, period_start: datetime, allowance_micros: int) -> Balance:
    """The balance `ensure` would leave, read without writing (`GET /v1/me`, the estimate): a
    new period's full allowance, an upgrade's extra, bought packs and what jobs hold."""
    row = db.fetch_one(
        "SELECT period_start, allowance_micros, topup_micros, reserved_micros, granted_micros"
        " FROM credit_accounts WHERE user_id = %s",
        (user_id,),
    )
    if row is None:
        return Balance(period_start, allowance_micros, 0, 0)
    if row["period_start"] < period_start:
        allowance = allowance_micros
    else:
        allowance = row["allowance_micros"] + max(0, allowance_micros - row["granted_micros"])
    return Balance(
        max(row["period_start"], period_start), allowance, row["topup_micros"], row["reserved_micros"]
    )


def balance(user_id: str) -> Balance | None:
    row = db.fetch_one(
        "SELECT period_start, allowance_micros, topup_micros, reserved_micros FROM credit_accounts"
        " WHERE user_id = %s",
        (user_id,),
    )
    return Balance.of(row) if row else None


def reserve(cur, user_id: str, amount: int) -> None:
    """Hold `amount` for a job, or raise CreditsExhausted. Nothing to hold: no change."""
    if amount <= 0:
        return
    if (
        cur.execute(
            "UPDATE credit_accounts SET reserved_micros = reserved_micros + %s"
            " WHERE user_id = %s AND allowance_micros + topup_micros - reserved_micros >= %s",
            (amount, user_id, amount),
        )
        != 1
    ):
        cur.execute(
            "SELECT allowance_micros + topup_micros - reserved_micros AS n FROM credit_accounts"
            " WHERE user_id = %s",
            (user_id,),
        )
        row = cur.fetchone()
        raise CreditsExhausted(amount, max(0, int(row["n"])) if row else 0)


def reserve_up_to(cur, user_id: str, amount: int) -> int:
    """Hold as much of `amount` as there is (an operator's redrive never fails for credits:
    what does not fit falls back to offline providers). Returns what is held."""
    cur.execute(
        "SELECT allowance_micros + topup_micros - reserved_micros AS n FROM credit_accounts"
        " WHERE user_id = %s FOR UPDATE",
        (user_id,),
    )
    row = cur.fetchone()
    held = max(0, min(amount, int(row["n"]) if row else 0))
    if held:
        cur.execute(
            "UPDATE credit_accounts SET reserved_micros = reserved_micros + %s WHERE user_id = %s",
            (held, user_id),
        )
    return held


def settle(cur, user_id: str, held: int, amount: int) -> None:
    """A job's reservation `held` goes back and `amount` (at most `held`) is charged: from the
    allowance first, then the packs. Inside the job's transition transaction."""
    # Assignments run left to right: topup first, from the allowance before it is reduced.
    cur.execute(
        "UPDATE credit_accounts SET reserved_micros = GREATEST(0, reserved_micros - %s),"
        " topup_micros = GREATEST(0, topup_micros - GREATEST(0, %s - allowance_micros)),"
        " allowance_micros = GREATEST(0, allowance_micros - %s) WHERE user_id = %s",
        (held, amount, amount, user_id),
    )


def add_topup(cur, payment_id: str, user_id: str, pack: str, amount: int) -> bool:
    """A credit pack paid for: added once per payment (a redelivery adds nothing). The account
    row may not exist yet (a buyer who never submitted): it is made in the current period with
    no allowance, and `ensure` fills the allowance on the next submission."""
    cur.execute(
        "INSERT IGNORE INTO credit_topups (payment_id, user_id, pack, amount_micros, created_at)"
        " VALUES (%s, %s, %s, %s, %s)",
        (payment_id, user_id, pack, amount, utcnow()),
    )
    if cur.rowcount != 1:
        return False
    _add_to_packs(cur, user_id, amount)
    return True


@dataclass(frozen=True, slots=True)
class Topup(db.Row):
    """A row of `credit_topups`: one paid credit pack."""

    payment_id: str
    pack: str
    amount_micros: int
    created_at: datetime


def hold_topup(cur, payment_id: str, email: str | None, pack: str, amount: int) -> bool:
    """A pack paid for by a buyer with no account that proved `email` yet: recorded once per
    payment with no user, and credited by `claim_topups` when an account verifies the address."""
    cur.execute(
        "INSERT IGNORE INTO credit_topups (payment_id, user_id, email, pack, amount_micros, created_at)"
        " VALUES (%s, NULL, %s, %s, %s, %s)",
        (payment_id, email, pack, amount, utcnow()),
    )
    return cur.rowcount == 1


def claim_topups(cur, user_id: str, email: str) -> list[Topup]:
    """The packs held for `email` become `user_id`'s credits (the rows as they were)."""
    cur.execute(
        "SELECT payment_id, pack, amount_micros, created_at FROM credit_topups"
        " WHERE user_id IS NULL AND email = %s FOR UPDATE",
        (email,),
    )
    found = [Topup.of(row) for row in cur.fetchall()]
    if found:
        ids = [t.payment_id for t in found]
        marks = ", ".join(["%s"] * len(ids))
        cur.execute(
            f"UPDATE credit_topups SET user_id = %s WHERE payment_id IN ({marks})",  # nosec B608
            (user_id, *ids),
        )
        _add_to_packs(cur, user_id, sum(t.amount_micros for t in found))
    return found


def _add_to_packs(cur, user_id: str, amount: int) -> None:
    cur.execute(
        "INSERT INTO credit_accounts (user_id, period_start, topup_micros) VALUES (%s, %s, %s)"
        " ON DUPLICATE KEY UPDATE topup_micros = topup_micros + VALUES(topup_micros)",
        (user_id, datetime(1970, 1, 1), amount),
    )
