"""Every ffmpeg call of the pipeline goes through here: the static binary imageio-ffmpeg ships
(a fresh machine needs no system package), one command head, and two ways to run it: `run` for
the short passes (probe, loudness, a frame, a decode) bounded by a timeout, and `render` for the
video pass, watched by the supervisor (progress, cancel, a deadline). How inputs are named
(demuxer pinned, protocols limited) is ffmpeg_inputs.py's.
"""

from __future__ import annotations

import subprocess
from collections.abc import Callable

import imageio_ffmpeg

from chalicelib.pipeline.supervise import supervise


class RenderCanceled(Exception):
    """should_cancel() said stop: ffmpeg was killed and no video.mp4 was left behind."""


def command(*args: str, overwrite: bool = False, loglevel: str | None = None) -> list[str]:
    """`ffmpeg -nostdin [-y] -hide_banner [-loglevel L] args...`: never waits on a terminal;
    `overwrite` replaces an existing output file."""
    head = [imageio_ffmpeg.get_ffmpeg_exe(), "-nostdin", *(["-y"] if overwrite else []), "-hide_banner"]
    return [*head, *(["-loglevel", loglevel] if loglevel else []), *args]


def _text(output: bytes) -> str:
    # what text mode would read: decoded, unreadable bytes replaced, universal newlines
    return output.decode(errors="replace").replace("\r\n", "\n").replace("\r", "\n")


def run(
    argv: list[str], *, timeout_s: float, stdin: bytes | None = None, check: bool = False
) -> subprocess.CompletedProcess[str]:
    """Run a short pass to its end, its output captured as text; subprocess.TimeoutExpired past
    timeout_s (the process is killed), CalledProcessError for a non-zero exit when `check`."""
    done = subprocess.run(argv, input=stdin, capture_output=True, timeout=timeout_s)
    result = subprocess.CompletedProcess(argv, done.returncode, _text(done.stdout), _text(done.stderr))
    if check:
        result.check_returncode()
    return result


def render(
    argv: list[str],
    total_s: float,
    on_progress: Callable[[float], None],
    should_cancel: Callable[[], bool],
    timeout_s: float,
) -> None:
    """Run a pass that writes `-progress pipe:1`, feeding its out_time to on_progress (fraction
    0..1 of total_s) at every poll. Cancel kills ffmpeg and raises RenderCanceled; failure, or
    running past timeout_s, raises RuntimeError with the tail of its stderr."""
    done_s = [0.0]

    def read_progress(line: str) -> None:
        key, _, value = line.strip().partition("=")
        if key in ("out_time_us", "out_time_ms") and value.lstrip("-").isdigit():
            done_s[0] = max(done_s[0], int(value) / 1e6)  # both keys are microseconds

    ending = supervise(
        argv,
        should_cancel=should_cancel,
        timeout_s=timeout_s,
        on_line=read_progress,
        on_tick=lambda: on_progress(min(1.0, done_s[0] / total_s)),
    )
    tail = ending.stderr_tail.strip()[-2000:]
    if ending.canceled:
        raise RenderCanceled()
    if ending.timed_out:
        raise RuntimeError(f"ffmpeg timed out: {tail}")
    if ending.returncode != 0:
        raise RuntimeError(f"ffmpeg exited with {ending.returncode}: {tail}")
