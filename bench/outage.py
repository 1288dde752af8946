"""Store outages (issue 24): the chaos test's scenario, repeated, and how long after the
database returns the backlog drains.

    python bench/outage.py [--jobs 13] [--runs 1]

Each run is tests/e2e/test_store_outages.py (its own MariaDB and Redis on loopback, two
workers, three users): Redis frozen 8 s, MariaDB killed and kept down 12 s then restarted on its
data, MariaDB frozen 8 s, while the jobs run. Prints JSON per run: jobs succeeded, the highest
attempt, quota charged per user against jobs submitted, the API's answers (while a store was
down too) and its 500s, what the reaper did, and the drain: the last job done, in seconds after
MariaDB thawed and after it restarted. Needs `make setup` (the AWS emulator); bounded by the
test's own timeout.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TEST = "tests/e2e/test_store_outages.py"
RUN_TIMEOUT_S = 600  # the test's own bound is 420 s


def run_once(jobs: int) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        report = Path(tmp) / "outage.json"
        env = {**os.environ, "OUTAGE_CHAOS_JOBS": str(jobs), "OUTAGE_REPORT": str(report)}
        began = time.monotonic()
        result = subprocess.run(  # nosec B603: our own test, fixed arguments
            [sys.executable, "-m", "pytest", TEST, "-q", "-x", "-p", "no:cacheprovider"],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=RUN_TIMEOUT_S,
        )
        out = json.loads(report.read_text()) if report.exists() else {}
        out["test_passed"] = result.returncode == 0
        out["wall_s"] = round(time.monotonic() - began, 1)
        if result.returncode != 0:
            out["tail"] = result.stdout[-2000:]
        return out


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--jobs", type=int, default=13, help="the issue's run: 13 jobs of three users")
    parser.add_argument("--runs", type=int, default=1)
    args = parser.parse_args()
    runs = [run_once(args.jobs) for _ in range(args.runs)]
    drains = [r["drain_after_db_returned_s"] for r in runs if "drain_after_db_returned_s" in r]
    print(
        json.dumps(
            {
                "runs": runs,
                "summary": {
                    "runs_passed": sum(r["test_passed"] for r in runs),
                    "jobs_succeeded": [f"{r.get('succeeded')}/{r.get('jobs')}" for r in runs],
                    "api_500s": sum(r.get("api_500s", 0) for r in runs),
                    "drain_after_db_returned_s": {"min": min(drains), "max": max(drains)} if drains else None,
                },
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
