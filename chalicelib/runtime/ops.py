"""Operator commands: inspect dead letters and redrive them in bulk.

    python -m chalicelib.runtime.ops dead [--code CODE] [--limit N]       list failed jobs
    python -m chalicelib.runtime.ops show JOB_ID                          a job with every step run
    python -m chalicelib.runtime.ops redrive [--code CODE] [--since ISO] [--limit N] [--dry-run]

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
    redriven = []
    for row in jobs_db.failed(limit, code, since):
        if dry_run or lifecycle.reopen(row.id, row.user_id, None, "redriven by an operator"):
            redriven.append(row.id)  # (not reopened: its state changed meanwhile)
    return redriven


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
    args = parser.parse_args(argv)

    out: Any
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


if __name__ == "__main__":
    sys.exit(main())
