"""The fake providers as one local process, for trying platform AI without any account:
`make up FAKES=1` runs it and gives the stack its fakes as the platform's OpenAI, fal.ai,
ElevenLabs and Replicate accounts.

    python -m tests.fakes.serve --out .local/run/fakes.json [--scale 0.25]

Each fake speaks its provider's protocol on a loopback port with its own key; generations take
the benchmark's seeded latencies (bench/generate.py: image 3-6 s, clip 20-40 s, speech 1-3 s)
times `--scale`. Their URLs and keys are written to `--out` (JSON: provider -> {api_key,
base_url}) once every fake listens; the process runs until SIGTERM or SIGINT.
"""

from __future__ import annotations

import argparse
import json
import secrets
import signal
import threading
from contextlib import ExitStack
from pathlib import Path

from tests.fakes.elevenlabs_server import FakeElevenLabs
from tests.fakes.fal_server import FakeFal
from tests.fakes.openai_server import FakeOpenAI
from tests.fakes.replicate_server import FakeReplicate

IMAGE_S, CLIP_S, SPEECH_S = (3.0, 6.0), (20.0, 40.0), (1.0, 3.0)


def _scaled(span: tuple[float, float], scale: float) -> tuple[float, float]:
    return span[0] * scale, span[1] * scale


def serve(out: Path, scale: float, work: Path, stop: threading.Event) -> None:
    keys = {
        name: f"fake-{name}-{secrets.token_hex(8)}" for name in ("openai", "fal", "elevenlabs", "replicate")
    }
    with ExitStack() as running:
        fakes = {
            "openai": running.enter_context(FakeOpenAI(api_key=keys["openai"])),
            "fal": running.enter_context(
                FakeFal(
                    work,
                    keys["fal"],
                    latency_s={"image-to-video": _scaled(CLIP_S, scale), "": _scaled(IMAGE_S, scale)},
                    by_input=True,
                )
            ),
            "elevenlabs": running.enter_context(
                FakeElevenLabs(api_key=keys["elevenlabs"], latency=_scaled(SPEECH_S, scale), by_input=True)
            ),
            "replicate": running.enter_context(
                FakeReplicate(api_token=keys["replicate"], latency=_scaled(IMAGE_S, scale))
            ),
        }
        accounts = {name: {"api_key": keys[name], "base_url": fake.base_url} for name, fake in fakes.items()}
        partial = out.with_suffix(".partial")
        partial.write_text(json.dumps(accounts, indent=2))
        partial.replace(out)  # whole or not at all: the reader polls for it
        stop.wait()
    out.unlink(missing_ok=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True, help="where to write the accounts (JSON)")
    parser.add_argument("--scale", type=float, default=0.25, help="times the benchmark's latencies")
    parser.add_argument(
        "--work", type=Path, default=None, help="the fal fake's files (default: beside --out)"
    )
    args = parser.parse_args()
    work = args.work or args.out.parent / "fakes"
    work.mkdir(parents=True, exist_ok=True)
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    serve(args.out, args.scale, work, stop)


if __name__ == "__main__":
    main()
