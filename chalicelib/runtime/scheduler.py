"""The local stand-in for AWS's schedules: one small process that runs the scheduled functions
(functions/*.py, the same handlers the Lambdas run) on their template.yaml rates, so locally a
killed worker is replaced (dispatcher) and a queue emptied by a Redis restart is refilled
(reaper) without anyone typing a command.

Run: `python -m chalicelib.runtime.scheduler` (`make up` starts it, `make down` stops it).

Every function runs once at start, then every `every_s`. The clock is injectable and `tick()`
runs what is due at a given time, so tests drive the schedule without waiting a real minute.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import signal
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

log = logging.getLogger("chalicelib.runtime.scheduler")


@dataclass
class Scheduled:
    """One scheduled function: its handler (`module.handler`) and its rate."""

    name: str
    handler: str  # dotted path, as in template.yaml's Handler
    every_s: float  # as in template.yaml's Schedule: rate(...)
    next_at: float = field(default=0.0, compare=False)

    def run(self) -> Any:
        module_name, _, attribute = self.handler.rpartition(".")
        return getattr(importlib.import_module(module_name), attribute)({}, None)


# template.yaml's schedules (tests/unit/test_scheduler.py holds the two together).
SCHEDULE = (
    Scheduled("reaper", "functions.reaper.handler", 60),
    Scheduled("dispatcher", "functions.dispatcher.handler", 60),
    Scheduled("cleanup", "functions.cleanup.handler", 3600),
)


class Scheduler:
    def __init__(
        self, entries: tuple[Scheduled, ...] = SCHEDULE, clock: Callable[[], float] = time.monotonic
    ):
        self.clock = clock
        self.entries = [Scheduled(e.name, e.handler, e.every_s) for e in entries]
        start = clock()
        for entry in self.entries:
            entry.next_at = start  # all due at once: a fresh stack is reconciled right away

    def tick(self, now: float | None = None) -> dict[str, Any]:
        """Run every entry due at `now` (default: the clock); returns each one's result (or
        its error's text). One failing function doesn't stop the others."""
        now = self.clock() if now is None else now
        results: dict[str, Any] = {}
        for entry in self.entries:
            if entry.next_at > now:
                continue
            entry.next_at = now + entry.every_s
            try:
                results[entry.name] = entry.run()
            except Exception as exc:
                log.exception("scheduled %s failed", entry.name)
                results[entry.name] = f"failed: {type(exc).__name__}: {exc}"
        return results

    def seconds_to_next(self, now: float | None = None) -> float:
        now = self.clock() if now is None else now
        return max(0.0, min(e.next_at for e in self.entries) - now)

    def serve(self, stop: threading.Event) -> None:
        while not stop.is_set():
            for name, result in self.tick().items():
                log.info("scheduled %s: %s", name, result)
            stop.wait(self.seconds_to_next())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m chalicelib.runtime.scheduler",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.parse_args(argv)
    from chalicelib.core import observability

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    observability.setup()
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    print("scheduler ready: " + ", ".join(f"{e.name} every {e.every_s:g}s" for e in SCHEDULE), flush=True)
    Scheduler().serve(stop)
    return 0


if __name__ == "__main__":
    sys.exit(main())
