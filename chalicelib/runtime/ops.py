"""Operator commands: inspect dead letters and redrive them in bulk; grant the operator role
and plans (comps, billing/comps.py).

    python -m chalicelib.runtime.ops dead [--code CODE] [--limit N]       list failed jobs
    python -m chalicelib.runtime.ops show JOB_ID                          a job with every step run
    python -m chalicelib.runtime.ops redrive [--code CODE] [--since ISO] [--limit N] [--dry-run]
    python -m chalicelib.runtime.ops grant-operator EMAIL                 the console's operator pages
    python -m chalicelib.runtime.ops revoke-operator EMAIL                (the next login carries it)
    python -m chalicelib.runtime.ops grant-plan EMAIL PLAN [--days 30]    a comp, without Whop
    python -m chalicelib.runtime.ops revoke-plan EMAIL                    end the comp now

Redriven jobs resume from their failed step, keep their finished steps, and are not charged
to the user's quota again (an operator decided to re-run them).
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict
from datetime import datetime
from typing import Any

from chalicelib.jobs import lifecycle
from chalicelib.jobs import repository as jobs_db


def redrive(
    limit: int, code: str | None = None, since: datetime | None = None, dry_run: bool = False
) -> list[str]:
    """Reopen dead letters, as a user's retry does (lifecycle.reopen), without charging them."""
    rows = jobs_db.failed(limit, code, since)
    return [row.id for row in rows] if dry_run else redrive_rows(rows)


def redrive_rows(rows: list[jobs_db.JobRow]) -> list[str]:
    """The ids reopened (one whose state changed meanwhile is not); the console's redrive too."""
    return [row.id for row in rows if lifecycle.redrive(row.id, row.user_id)]


def _dead_letter(row: jobs_db.JobRow) -> dict[str, Any]:
    return {
        "id": row.id,
        "user_id": row.user_id,
        "plan": row.plan,
        "error_code": row.error_code,
        "error_step": row.error_step,
        "error_message": row.error_message,
        "attempt": row.attempt,
        "finished_at": row.finished_at,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m chalicelib.runtime.ops",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="command", required=True)
    dead = sub.add_parser("dead", help="list failed jobs")
    show = sub.add_parser("show", help="one job with its step runs")
    show.add_argument("job_id")
    again = sub.add_parser("redrive", help="requeue failed jobs from their failed step")
    for p in (dead, again):
        p.add_argument("--code", help="only jobs that failed with this error code")
        p.add_argument("--limit", type=int, default=100)
    again.add_argument("--since", type=datetime.fromisoformat, help="failed at or after (ISO, UTC)")
    again.add_argument("--dry-run", action="store_true")
    for name in ("grant-operator", "revoke-operator"):
        sub.add_parser(name, help=f"{name.split('-')[0]} the operator role").add_argument("email")
    comp = sub.add_parser("grant-plan", help="grant a plan without Whop (a comp), from now")
    comp.add_argument("email")
    comp.add_argument("plan")
    comp.add_argument("--days", type=int, default=30)
    sub.add_parser("revoke-plan", help="end a comp now").add_argument("email")
    args = parser.parse_args(argv)

    out: Any
    if args.command in ("grant-operator", "revoke-operator"):
        return _set_operator(args.command == "grant-operator", args.email)
    if args.command in ("grant-plan", "revoke-plan"):
        return _set_comp(args.email, getattr(args, "plan", None), getattr(args, "days", 0))
    if args.command == "dead":
        out = [_dead_letter(row) for row in jobs_db.failed(args.limit, args.code)]
    elif args.command == "show":
        job = jobs_db.get(args.job_id, None)
        if job is None:
            print(f"no job {args.job_id}", file=sys.stderr)
            return 1
        out = {
            "job": asdict(job),
            "steps": [asdict(s) for s in jobs_db.steps_of([args.job_id])[args.job_id]],
            "runs": [asdict(r) for r in jobs_db.step_runs(args.job_id)],
        }
    else:
        ids = redrive(args.limit, args.code, args.since, args.dry_run)
        out = {"redriven" if not args.dry_run else "would_redrive": ids, "count": len(ids)}
    print(json.dumps(out, default=str, indent=2))
    return 0


def _set_operator(grant: bool, email: str) -> int:
    from chalicelib.accounts import roles, users
    from chalicelib.core.errors import NotFound

    try:
        row = roles.grant(email, None) if grant else users.by_email(email.strip().lower())
        if row is None:
            raise NotFound(email)
        if not grant:
            roles.revoke(row.id, None)
    except NotFound:
        print(f"no account with the email {email}", file=sys.stderr)
        return 1
    note = "log in again: the new access token carries the role" if grant else "in effect at once"
    role = users.OPERATOR if grant else users.CUSTOMER
    print(json.dumps({"user_id": row.id, "email": row.email, "role": role, "note": note}))
    return 0


def _set_comp(email: str, plan: str | None, days: int) -> int:
    from chalicelib.accounts import users
    from chalicelib.billing import comps
    from chalicelib.core.errors import ValidationFailed

    row = users.by_email(email.strip().lower())
    if row is None:
        print(f"no account with the email {email}", file=sys.stderr)
        return 1
    try:
        if plan is None:
            out = {"user_id": row.id, "email": row.email, "comp_ended": comps.revoke(row.id)}
        else:
            comps.grant(row.id, plan, days)
            out = {"user_id": row.id, "email": row.email, "plan": plan, "days": days}
    except ValidationFailed as exc:
        print(exc.message, file=sys.stderr)
        return 2
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
