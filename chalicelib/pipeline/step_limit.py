"""A step's maximum run time (STEP_MAX_S), enforced by the worker itself.

The job's lease is renewed as long as the worker lives, so without this a step stuck on
something slow (a provider server, a huge input) would hold a worker slot forever. The step
runs in a thread of its own; when it is still running at the limit, the job's `stop` event is
set (a running ffmpeg is killed, progress writes stop) and the step fails with `step_timeout`,
a transient error: the job retries per the retry policy, then fails. The abandoned thread can
write nothing that matters: every transition needs the lease, which the retry hands on.
"""

from __future__ import annotations

import contextvars
import threading
from collections.abc import Callable
from typing import Any

from chalicelib.core.settings import get_settings
from chalicelib.infra import db
from chalicelib.pipeline.errors import StepError

STEP_TIMEOUT = "step_timeout"


def run_bounded(fn: Callable[..., Any], *args: Any, stop: threading.Event) -> Any:
    """`fn(*args)`, or StepError(step_timeout) once it has run STEP_MAX_S seconds."""
    limit_s = get_settings().step_max_s
    context = contextvars.copy_context()  # the job's log binding goes along
    finished = threading.Event()
    outcome: dict[str, Any] = {}

    def target() -> None:
        try:
            outcome["value"] = context.run(fn, *args)
        except BaseException as exc:  # handed to the caller's thread below
            outcome["error"] = exc
        finally:
            db.close()  # this thread's MySQL connection
            finished.set()

    threading.Thread(target=target, name="step", daemon=True).start()
    if not finished.wait(limit_s):
        stop.set()
        raise StepError(STEP_TIMEOUT, f"the step ran past its limit of {limit_s:g} s", transient=True)
    if "error" in outcome:
        raise outcome["error"]
    return outcome["value"]
