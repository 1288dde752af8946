"""Helpers for tests that start real worker processes: await their log lines, stop them."""
from __future__ import annotations

import importlib.util
import time
from pathlib import Path
from typing import Callable

import pytest

# The worker imports the pipeline's steps; until they are in this tree, it cannot start.
needs_pipeline = pytest.mark.skipif(
    importlib.util.find_spec("chalicelib.pipeline.concept") is None,
    reason="chalicelib/pipeline/{concept,images,video,probe}.py are not in this tree yet")


def wait_until(condition: Callable[[], bool], timeout: float, what: str) -> None:
    """Re-check `condition` until true; fails after `timeout` (a bound, not a synchronisation)."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(0.05)


def wait_for_line(log: Path, line: str, timeout: float = 30.0) -> None:
    wait_until(lambda: log.exists() and line in log.read_text(errors="replace"), timeout,
               f"{line!r} in {log}")
