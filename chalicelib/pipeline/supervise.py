"""The one loop that watches a long-running child process of the worker: ffmpeg's video pass and
the `command` pipeline's orchestrator alike. The child's stdout lines go to the caller as they
come, the tail of its stderr is kept for the error message, and should_cancel and a deadline are
polled; when either fires the child is stopped, so every program the worker waits on is
canceled, timed out and reaped the same way. What the ending means is the caller's to say.
"""

from __future__ import annotations

import collections
import os
import signal
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

POLL_S = 0.2  # how often should_cancel and the deadline are looked at
TAIL_LINES = 20  # the stderr lines kept for an error message


@dataclass(frozen=True)
class Ending:
    """How the child's run ended: on its own (`returncode`), or stopped by us because
    should_cancel turned true (`canceled`) or the deadline passed (`timed_out`)."""

    returncode: int  # when stopped, what the signal left
    canceled: bool
    timed_out: bool
    stderr_tail: str  # its last TAIL_LINES stderr lines, joined


def _stop(proc: subprocess.Popen, grace_s: float | None) -> None:
    """grace_s None: SIGKILL the process at once. Otherwise SIGTERM to its process group, and
    SIGKILL if it is still there after grace_s."""
    if grace_s is None:
        proc.kill()
        proc.wait()
        return
    for sig, wait in ((signal.SIGTERM, grace_s), (signal.SIGKILL, 5.0)):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            return
        try:
            proc.wait(timeout=wait)
            return
        except subprocess.TimeoutExpired:
            continue


def supervise(
    argv: list[str],
    *,
    should_cancel: Callable[[], bool],
    timeout_s: float,
    on_line: Callable[[str], None],
    on_tick: Callable[[], None] | None = None,
    stdin: str | None = None,
    grace_s: float | None = None,
    stderr_line_max: int | None = None,
    cwd: Path | None = None,
    env: dict[str, str] | None = None,
) -> Ending:
    """Run argv to its end, or until should_cancel() or timeout_s stops it.

    `on_line` gets each stdout line (in a reader thread); `on_tick` runs in this thread at every
    poll. `stdin`: text written to the child, then closed (None: no stdin). `grace_s`: the child
    runs in a session of its own and its whole group is stopped gently (see _stop); None: it is
    killed at once. An exception from should_cancel or on_tick stops the child and propagates."""
    proc = subprocess.Popen(
        argv,
        cwd=cwd,
        stdin=subprocess.DEVNULL if stdin is None else subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        errors="replace",
        env=env,
        start_new_session=grace_s is not None,
    )
    stdout, stderr = proc.stdout, proc.stderr
    assert stdout is not None and stderr is not None  # both PIPE
    tail: collections.deque[str] = collections.deque(maxlen=TAIL_LINES)

    def read_stdout() -> None:
        for line in stdout:
            on_line(line)

    def read_stderr() -> None:
        tail.extend(line[:stderr_line_max] for line in stderr)

    readers = [
        threading.Thread(target=read_stdout, daemon=True),
        threading.Thread(target=read_stderr, daemon=True),
    ]
    for reader in readers:
        reader.start()
    if stdin is not None:
        assert proc.stdin is not None  # PIPE
        try:
            proc.stdin.write(stdin)
            proc.stdin.close()
        except (BrokenPipeError, OSError):
            pass  # it exited without reading: its exit code says why
    deadline = time.monotonic() + timeout_s
    canceled = timed_out = False
    try:
        while proc.poll() is None:
            if should_cancel():
                canceled = True
                break
            if time.monotonic() > deadline:
                timed_out = True
                break
            if on_tick is not None:
                on_tick()
            try:
                proc.wait(timeout=POLL_S)
            except subprocess.TimeoutExpired:
                pass
    finally:
        if proc.poll() is None:
            _stop(proc, grace_s)
        for reader in readers:
            reader.join(timeout=5)
    return Ending(proc.returncode, canceled, timed_out, "".join(tail))
