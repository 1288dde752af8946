"""Generative media (issue 26): a 30 s, 6-scene AI job made in parallel, against the same calls
made one after another as the peers do, and how fast a cancel reaches fal.

    python bench/generate.py [--scale 0.1] [--skip-sequential] [--skip-cancel]

The job: a prompt job of 30 s at 9:16 (6 scenes, the built-in concept), `motion: ai`, its images
on fal (FLUX), its clips on fal (image-to-video) and its speech on ElevenLabs, on the user's own
keys (BYOK) pointing at the local fakes (tests/fakes/), whose latencies are seeded per scene
(drawn from the seed and the scene's prompt or line, so both sides get the same ones): image
3-6 s, clip 20-40 s, speech 1-3 s (times --scale). A real API (`chalice local`) and one real
worker (concurrency 1); a fresh worker per side.

Sides:
  parallel    as built: scenes side by side, each provider limited by its setting
              (FAL_PARALLEL_CALLS, ELEVENLABS_PARALLEL_CALLS as configured).
  sequential  "as the peers do": FAL_PARALLEL_CALLS=1 and ELEVENLABS_PARALLEL_CALLS=1, so every
              image, then every clip, and every line is asked after the previous one returned.
              There is no setting to stop the image step speaking beside its images (one
              narration thread beside the image calls), so the speech still overlaps the images
              here; `peer_serial_s` is the fully serial figure: the sum of every applied latency
              plus the render.

Per side: wall time (the job's created_at -> finished_at), per-step times (the steps' own
timestamps), the latencies the fakes applied (their call logs), the slowest scene's chain =
max over scenes of max(image_i + clip_i, speech_i), the render (the video step's ffmpeg usage
`wall_s`), and ratio = wall / (slowest chain + render); goal <= 1.25 for the parallel side.

Cancel: the same job with the fake holding every clip IN_PROGRESS; once the clips are in flight,
`POST /v1/jobs/{id}/cancel`; per request, the time from that call until the fal fake received its
cancel call, and whether any request is left running (goal: all within 2 s, none left).

Needs the bring-up (`make bench NAME=generate` does it). Uses its own database, bucket, queue and
Redis db 14, removed at the end. Prints one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import shutil
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[0] = str(ROOT)  # bench/queue.py would shadow the stdlib `queue`

from bench import isolated  # noqa: E402

RUN = isolated.RUN

REDIS_DB = 14
ENV = isolated.environment("generate", REDIS_DB, {"free": {"monthly_jobs": 1000, "max_duration_s": 60}})
JOB = {
    "prompt": "How a lighthouse keeper's night goes",
    "duration_s": 30,
    "aspect": "9:16",
    "motion": "ai",
    "providers": {"image": "fal", "video": "fal", "narration": "elevenlabs"},
}
SEQUENTIAL = {"FAL_PARALLEL_CALLS": "1", "ELEVENLABS_PARALLEL_CALLS": "1"}
LATENCY_S = {"image": (3.0, 6.0), "clip": (20.0, 40.0), "speech": (1.0, 3.0)}


def _at(stamp: str) -> float:
    return datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _signup(http, fal, voices) -> dict[str, str]:
    """A verified account (provider keys need one; marked in the bench's own database, as
    opening the mailed link would) with its fal and ElevenLabs keys (BYOK)."""
    from chalicelib.accounts import users
    from chalicelib.infra import db

    reply = http.post(
        "/v1/auth/signup",
        json={"email": f"generate-{secrets.token_hex(4)}@example.com", "password": "generate bench pw"},
    ).json()
    with db.transaction() as cur:
        users.mark_verified(cur, reply["user"]["id"])
    auth = {"Authorization": f"Bearer {reply['access_token']}"}
    for name, server in (("fal", fal), ("elevenlabs", voices)):
        stored = http.put(
            f"/v1/provider-keys/{name}",
            headers=auth,
            json={"api_key": server.api_key, "base_url": server.base_url},
        )
        if stored.status_code != 200:
            raise RuntimeError(f"storing the {name} key: {stored.status_code} {stored.text[:300]}")
    return auth


def _submit(http, auth: dict) -> str:
    submitted = http.post("/v1/jobs", headers=auth, json=JOB)
    if submitted.status_code != 202:
        raise RuntimeError(f"submission refused: {submitted.status_code} {submitted.text[:300]}")
    return submitted.json()["id"]


def _applied(fal, voices, fal_from: int, speech_from: int, video_model: str) -> dict:
    """The latencies the fakes applied to this job's calls, per scene (image and clip paired by
    the scene's visual: the image prompt starts with it, the clip prompt is it)."""
    calls = fal.inputs[fal_from:]
    clips = {c["input"]["prompt"]: c["latency_s"] for c in calls if c["model"] == video_model}
    images = [c for c in calls if c["model"] != video_model]
    scenes = []
    for image in images:
        visual = next((v for v in clips if image["input"]["prompt"].startswith(v + ".")), None)
        scenes.append({"image_s": image["latency_s"], "clip_s": clips.get(visual, 0.0)})
    speech = [r["latency_s"] for r in voices.calls()[speech_from:] if r.get("status") == 200]
    return {"scenes": scenes, "speech_s": speech}


def _side(http, auth, fal, voices, video_model: str, timeout_s: float) -> dict:
    fal_from, speech_from = len(fal.inputs), len(voices.calls())
    job_id = _submit(http, auth)
    job = isolated.wait_for_job(http, auth, job_id, timeout_s)
    if job["status"] != "succeeded":
        raise RuntimeError(f"job {job['status']}: {job.get('error')} {job.get('notes')}")
    applied = _applied(fal, voices, fal_from, speech_from, video_model)
    scenes, speech = applied["scenes"], applied["speech_s"]
    steps = {s["name"]: s for s in job["steps"]}
    usage = [u | {"step": name} for name, s in steps.items() for u in s["usage"]]
    render = next(u["wall_s"] for u in usage if u["step"] == "video" and u["model"] == "ffmpeg")
    chain = max(max(s["image_s"] + s["clip_s"] for s in scenes), max(speech, default=0.0))
    wall = _at(job["finished_at"]) - _at(job["created_at"])
    serial = sum(s["image_s"] + s["clip_s"] for s in scenes) + sum(speech) + render

    def r(x: float) -> float:
        return round(x, 2)

    return {
        "job": job_id,
        "scenes": len(scenes),
        "clips_made": sum(1 for s in scenes if s["clip_s"]),
        "wall_s": r(wall),
        "queue_s": r(_at(job["started_at"]) - _at(job["created_at"])),
        "steps_s": {
            name: r(_at(s["finished_at"]) - _at(s["started_at"]))
            for name, s in steps.items()
            if s["started_at"] and s["finished_at"]
        },
        "provider_wall_s": {f"{u['step']}:{u['purpose']}:{u['provider']}": u["wall_s"] for u in usage},
        "applied_latency_s": {
            "image": [r(s["image_s"]) for s in scenes],
            "clip": [r(s["clip_s"]) for s in scenes],
            "speech": [r(x) for x in speech],
        },
        "slowest_chain_s": r(chain),
        "render_s": r(render),
        "ratio": r(wall / (chain + render)),
        "peer_serial_s": r(serial),
        "notes": [n for n in job["notes"] if "no AI clip" in n or "failed" in n or "slow down" in n],
    }


def _cancel(http, auth, fal, video_model: str, parallel: int) -> dict:
    """Cancel with every clip the worker lets go held IN_PROGRESS at the fake."""
    fal.hold = video_model
    try:
        fal_from = len(fal.inputs)
        job_id = _submit(http, auth)

        def in_flight(f) -> list[dict]:
            ours = {c["id"] for c in f.inputs[fal_from:] if c["model"] == video_model}
            return [
                r for i, r in f.requests.items() if i in ours and r["state"] in ("IN_QUEUE", "IN_PROGRESS")
            ]

        expected = min(parallel, 6)
        if not fal.wait_until(lambda f: len(in_flight(f)) >= expected, 300):
            raise RuntimeError("the clips never were in flight")
        held = in_flight(fal)
        t0 = time.monotonic()
        answered = http.post(f"/v1/jobs/{job_id}/cancel", headers=auth)
        api_s = time.monotonic() - t0
        ids = {r["id"] for r in held}
        fal.wait_until(lambda f: all(f.requests[i]["canceled_at"] for i in ids), 30)
        waited = time.monotonic() - t0
        job = isolated.wait_for_job(http, auth, job_id, 60)
        submitted_after = [
            c for c in fal.inputs[fal_from:] if c["id"] not in ids and c["model"] == video_model
        ]
        times = sorted(
            round(fal.requests[i]["canceled_at"] - t0, 3) for i in ids if fal.requests[i]["canceled_at"]
        )
        left = [
            r["id"]
            for c in fal.inputs[fal_from:]
            if (r := fal.requests[c["id"]])["state"] in ("IN_QUEUE", "IN_PROGRESS")
        ]
        return {
            "job": job_id,
            "status": job["status"],
            "in_flight_at_cancel": len(held),
            "cancel_api_status": answered.status_code,
            "cancel_api_s": round(api_s, 3),
            "cancel_reached_fal_s": times,
            "max_s": max(times) if times else None,
            "not_reached_within_s": None if len(times) == len(ids) else round(waited, 1),
            "clips_submitted_after_cancel": len(submitted_after),
            "left_running": len(left),
            "goal_s": 2.0,
        }
    finally:
        fal.hold = ""


def measure(args, work: Path) -> dict:
    import httpx

    from chalicelib.core.settings import get_settings
    from chalicelib.infra import aws
    from chalicelib.infra.migrate import migrate
    from chalicelib.runtime import launcher
    from tests.fakes.elevenlabs_server import FakeElevenLabs
    from tests.fakes.fal_server import FakeFal

    settings = get_settings()
    migrate()
    aws.client("s3").create_bucket(Bucket=settings.media_bucket)
    s = args.scale
    latency = {
        settings.fal_image_model: tuple(x * s for x in LATENCY_S["image"]),
        settings.fal_video_model: tuple(x * s for x in LATENCY_S["clip"]),
    }
    (work / "fal").mkdir()
    fal = FakeFal(work / "fal", f"fal-{secrets.token_hex(8)}", latency_s=latency, seed=26, by_input=True)
    voices = FakeElevenLabs(
        api_key=f"xi-{secrets.token_hex(8)}",
        latency=tuple(x * s for x in LATENCY_S["speech"]),  # type: ignore[arg-type]
        seed=26,
        by_input=True,
    )
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    measured: dict = {
        "latency_s": {k: [round(x * s, 2) for x in v] for k, v in LATENCY_S.items()},
        "scale": s,
        "fal_parallel_calls": settings.fal_parallel_calls,
        "elevenlabs_parallel_calls": settings.elevenlabs_parallel_calls,
    }
    with fal, voices:
        api = launcher.spawn(launcher.api_command(port), work / "api.log", {})
        try:
            launcher.wait_http(f"{base}/v1/health", timeout=90)
            with httpx.Client(base_url=base, timeout=60) as http:
                auth = _signup(http, fal, voices)
                sides = [] if args.cancel else [("parallel", {})]
                if not (args.skip_sequential or args.cancel):
                    sides.append(("sequential", SEQUENTIAL))
                for name, env in sides:
                    worker = launcher.spawn(launcher.worker_command(), work / f"worker-{name}.log", env)
                    try:
                        measured[name] = _side(http, auth, fal, voices, settings.fal_video_model, 900)
                    finally:
                        launcher.stop(worker.pid)
                if not args.skip_cancel:
                    worker = launcher.spawn(launcher.worker_command(), work / "worker-cancel.log", {})
                    try:
                        measured["cancel"] = _cancel(
                            http, auth, fal, settings.fal_video_model, settings.fal_parallel_calls
                        )
                    finally:
                        launcher.stop(worker.pid)
        finally:
            launcher.stop(api.pid)
    if "sequential" in measured:
        measured["speedup"] = round(measured["sequential"]["wall_s"] / measured["parallel"]["wall_s"], 2)
    measured["goal"] = {"ratio_parallel": 1.25, "cancel_s": 2.0}
    return measured


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--scale", type=float, default=1.0, help="multiplies every latency (0.1: a quick run)"
    )
    parser.add_argument("--skip-sequential", action="store_true", help="only the parallel side")
    parser.add_argument("--skip-cancel", action="store_true", help="no cancel measurement")
    parser.add_argument("--cancel", action="store_true", help="only the cancel measurement")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix=f"media-generate-{RUN}-"))
    os.environ.update(ENV, WORK_DIR=str(work))
    started = time.monotonic()
    try:
        measured = measure(args, work)
    except BaseException:
        for log in sorted(work.glob("*.log")):
            print(f"--- {log.name}\n{log.read_text()[-3000:]}", file=sys.stderr)
        raise
    finally:
        isolated.cleanup()
        shutil.rmtree(work, ignore_errors=True)
    measured["machine"] = {"cpus": os.cpu_count(), "wall_s": round(time.monotonic() - started, 1)}
    print(json.dumps(measured, indent=1))


if __name__ == "__main__":
    main()
