"""An example orchestrator for the `command` pipeline (docs/plugins.md): what a customer's own
`python -m src.main` looks like when it runs inside the media orchestrator's workers.

It reads the job spec (JSON) from stdin, renders a test-card video of the job's length and size
with ffmpeg while printing JSON progress lines, writes video.mp4 and captions.srt into the work
directory, and stops cleanly on SIGTERM (its partial file removed, exit 143).

    echo '{"request": {"prompt": "hi", "duration_s": 5}, "work_dir": "/tmp/out",
           "width": 1080, "height": 1920}' | python -m src.main
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

EX_TEMPFAIL = 75  # "try again later": the job is retried
EX_DATAERR = 65  # bad input: the job fails at once


def say(progress: int, message: str) -> None:
    """One progress line on stdout (flushed: the worker reads it as it comes)."""
    print(json.dumps({"progress": progress, "message": message}), flush=True)


def ffmpeg() -> str:
    try:
        import imageio_ffmpeg

        return imageio_ffmpeg.get_ffmpeg_exe()
    except ImportError:
        return shutil.which("ffmpeg") or "ffmpeg"


def srt_time(seconds: float) -> str:
    ms = int(round(seconds * 1000))
    return f"{ms // 3600000:02d}:{ms // 60000 % 60:02d}:{ms // 1000 % 60:02d},{ms % 1000:03d}"


def main(spec: dict) -> int:
    """Render the job described by `spec` (see docs/plugins.md); -> the exit code."""
    request = spec.get("request") or {}
    work = Path(spec.get("work_dir") or os.environ["MO_WORK_DIR"])
    width, height, fps = int(spec.get("width", 1080)), int(spec.get("height", 1920)), int(spec.get("fps", 30))
    seconds = float(request.get("duration_s") or 15)
    text = (
        request.get("prompt")
        or request.get("script")
        or " ".join(s.get("text", "") for s in request.get("scenes") or [])
    )
    if seconds <= 0:
        print("duration_s must be positive", file=sys.stderr)
        return EX_DATAERR
    work.mkdir(parents=True, exist_ok=True)
    say(0, "starting")

    partial = work / "video.partial.mp4"
    proc = subprocess.Popen(
        [
            ffmpeg(),
            "-nostdin",
            "-y",
            "-hide_banner",
            "-loglevel",
            "error",
            "-nostats",
            "-progress",
            "pipe:1",
            "-f",
            "lavfi",
            "-i",
            f"testsrc2=size={width}x{height}:rate={fps}",
            "-f",
            "lavfi",
            "-i",
            "sine=frequency=330:sample_rate=44100",
            "-t",
            f"{seconds}",
            "-c:v",
            "libx264",
            "-preset",
            "veryfast",
            "-pix_fmt",
            "yuv420p",
            "-c:a",
            "aac",
            "-movflags",
            "+faststart",
            "-f",
            "mp4",
            str(partial),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )

    def stop(signum, frame):  # cancel: stop ffmpeg, leave nothing half-written behind
        proc.terminate()
        proc.wait()
        partial.unlink(missing_ok=True)
        sys.exit(128 + signum)

    signal.signal(signal.SIGTERM, stop)
    last = -1
    for line in proc.stdout:
        key, _, value = line.strip().partition("=")
        if key == "out_time_us" and value.isdigit():
            done = min(99, int(int(value) / 1e6 / seconds * 100))
            if done >= last + 5:
                last = done
                say(done, f"rendered {int(value) / 1e6:.1f} of {seconds:g} s")
    if proc.wait() != 0:
        print(f"ffmpeg exited {proc.returncode}", file=sys.stderr)
        return EX_TEMPFAIL
    partial.replace(work / "video.mp4")
    (work / "captions.srt").write_text(
        f"1\n{srt_time(0)} --> {srt_time(seconds)}\n{text.strip()}\n", encoding="utf-8"
    )
    say(100, "done")
    return 0


if __name__ == "__main__":
    sys.exit(main(json.load(sys.stdin)))
