"""Misbehaving orchestrators for the `command` pipeline's contract tests:

    python tests/fakes/orchestrator.py MODE

flaky      exit 75 (EX_TEMPFAIL) on attempt 1, then the example orchestrator's real render
crash      a progress line, then SIGABRT (a crash: no exit code of its own)
hang       a progress line, then sleeps, ignoring SIGTERM (only SIGKILL ends it)
bad-input  exit 65 (EX_DATAERR): a permanent failure
no-output  exit 0 without writing video.mp4
env        writes its environment to env.json in the work dir, then renders
"""

from __future__ import annotations

import json
import os
import signal
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "examples" / "orchestrator"))

from src.main import main as render  # noqa: E402  (the example orchestrator)


def run(mode: str, spec: dict) -> int:
    print(json.dumps({"progress": 10, "message": f"{mode} starting"}), flush=True)
    work = Path(spec["work_dir"])
    work.mkdir(parents=True, exist_ok=True)
    if mode == "flaky" and spec.get("attempt", 1) == 1:
        print("upstream busy, try later", file=sys.stderr)
        return 75
    if mode == "crash":
        os.abort()
    if mode == "hang":
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        (work / "hanging").write_text(str(os.getpid()))
        while True:
            time.sleep(1)
    if mode == "bad-input":
        print("the spec makes no sense to me", file=sys.stderr)
        return 65
    if mode == "no-output":
        return 0
    if mode == "env":
        (work / "env.json").write_text(json.dumps(dict(os.environ)))
    return render(spec)


if __name__ == "__main__":
    sys.exit(run(sys.argv[1], json.load(sys.stdin)))
