"""SQL for memberships, payments, processed webhook deliveries and quota reservations."""
from __future__ import annotations

import json
from datetime import datetime

import pymysql

from chalicelib import db
from chalicelib.ids import utcnow


class AlreadyProcessed(Exception):
    pass


def record_delivery(cur, webhook_id: str, source: str, type_: str, handled: bool, payload: dict) -> None:
    """Inside the caller's transaction, so a delivery counts as processed only if applied."""
    try:
        cur.execute("INSERT INTO webhook_deliveries (webhook_id, source, type, handled, payload,"
                    " received_at) VALUES (%s, %s, %s, %s, %s, %s)",
                    (webhook_id, source, type_, handled, json.dumps(payload), utcnow()))
    except pymysql.IntegrityError as exc:
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
        {**m, "now": now})


def membership(cur, membership_id: str) -> dict | None:
    cur.execute("SELECT * FROM memberships WHERE id = %s", (membership_id,))
    return cur.fetchone()


def upsert_payment(cur, p: dict) -> None:
    cur.execute(
        "INSERT INTO payments (id, membership_id, user_id, status, amount, currency,"
        " source_updated_at, created_at) VALUES (%(id)s, %(membership_id)s, %(user_id)s,"
        " %(status)s, %(amount)s, %(currency)s, %(source_updated_at)s, %(now)s)"
        " ON DUPLICATE KEY UPDATE"
        " status = IF(VALUES(source_updated_at) >= source_updated_at, VALUES(status), status),"
        " user_id = COALESCE(user_id, VALUES(user_id)),"
        " source_updated_at = GREATEST(source_updated_at, VALUES(source_updated_at))",
        {**p, "now": utcnow()})


def active_memberships(user_id: str) -> list[dict]:
    return db.fetch_all("SELECT * FROM memberships WHERE user_id = %s AND active = 1", (user_id,))


def latest_membership(user_id: str) -> dict | None:
    return db.fetch_one("SELECT * FROM memberships WHERE user_id = %s"
                        " ORDER BY active DESC, source_updated_at DESC LIMIT 1", (user_id,))


def attach_memberships_by_email(user_id: str, email: str) -> list[dict]:
    """Memberships bought before signup: they become this user's."""
    with db.transaction() as cur:
        cur.execute("SELECT id, plan, active FROM memberships WHERE user_id IS NULL AND email = %s"
                    " FOR UPDATE", (email,))
        rows = list(cur.fetchall())
        if rows:
            cur.execute("UPDATE memberships SET user_id = %s WHERE user_id IS NULL AND email = %s",
                        (user_id, email))
    return rows


# ---- quota ------------------------------------------------------------------------------
def usage(user_id: str, period_start: datetime, period_end: datetime) -> int:
    """Jobs used in the period. Creates the period's counter on first use, seeded with the jobs
    already reserved in that window, so a plan change that switches periods mid-month doesn't
    hand out a fresh quota. Plain reads and an autocommit insert: no gap locks that could
    deadlock with concurrent job inserts."""
    row = db.fetch_one("SELECT used FROM quota_usage WHERE user_id = %s AND period_start = %s",
                       (user_id, period_start))
    if row:
        return int(row["used"])
    seed = db.fetch_one("SELECT COUNT(*) AS n FROM jobs WHERE user_id = %s AND quota_reserved = 1"
                        " AND created_at >= %s AND created_at < %s",
                        (user_id, period_start, period_end))["n"]
    db.execute("INSERT IGNORE INTO quota_usage (user_id, period_start, used) VALUES (%s, %s, %s)",
               (user_id, period_start, seed))
    return used(user_id, period_start)


def reserve(cur, user_id: str, period_start: datetime, limit: int) -> bool:
    """Take one job of the period's quota. The conditional UPDATE row-locks the counter, so N
    parallel submissions can never take more than `limit`."""
    return cur.execute("UPDATE quota_usage SET used = used + 1 WHERE user_id = %s"
                       " AND period_start = %s AND used < %s", (user_id, period_start, limit)) == 1


def used(user_id: str, period_start: datetime) -> int:
    row = db.fetch_one("SELECT used FROM quota_usage WHERE user_id = %s AND period_start = %s",
                       (user_id, period_start))
    return int(row["used"]) if row else 0


def refund(job_id: str) -> bool:
    """Give a job's reservation back, once: the job's flag flips in the same transaction."""
    with db.transaction() as cur:
        cur.execute("SELECT user_id, quota_period_start FROM jobs WHERE id = %s AND quota_reserved = 1"
                    " FOR UPDATE", (job_id,))
        row = cur.fetchone()
        if row is None:
            return False
        cur.execute("UPDATE jobs SET quota_reserved = 0 WHERE id = %s", (job_id,))
        cur.execute("UPDATE quota_usage SET used = used - 1 WHERE user_id = %s AND period_start = %s"
                    " AND used > 0", (row["user_id"], row["quota_period_start"]))
    return True
