"""A worker SIGKILLed while a motion-ai job's clips are generating at fal (issue 26): the finished
clips are kept in the job's call cache (never asked again) and the ones in flight are followed
at fal by the replacement through the queue URLs kept in Redis (never submitted again), so each
scene's clip is bought exactly once. Real worker processes, MySQL, Redis, S3 on the emulator,
the fake fal queue API."""

from __future__ import annotations

import base64
import hashlib
import secrets

import httpx
import pytest

from chalicelib.core.settings import get_settings
from chalicelib.infra import redis_client, redis_keys, storage
from chalicelib.jobs import repository as jobs_db
from chalicelib.pipeline import call_cache
from chalicelib.pipeline.call_cache import Call
from tests.e2e.test_bring_your_own import redness
from tests.fakes.fal_server import FakeFal
from tests.fakes.media import frame_at
from tests.workers import wait_for_status, wait_until

VISUALS = ["waves on a rocky shore", "gulls over the sea", "a lighthouse at dusk", "a boat in fog"]
JOB = {
    "aspect": "9:16",
    "motion": "ai",
    "scenes": [{"text": f"Scene {i + 1}.", "visual": v, "duration_s": 2} for i, v in enumerate(VISUALS)],
}
DONE, HELD = VISUALS[:2], VISUALS[2:]  # clips finished before the kill / in flight at it


@pytest.fixture
def fake(api, user, tmp_path):
    """The fake fal queue API, with the user's key for it stored (BYOK)."""
    with FakeFal(tmp_path, f"fal-{secrets.token_hex(8)}") as server:
        body = {"api_key": server.api_key, "base_url": server.base_url}
        assert api.call("PUT", "/v1/provider-keys/fal", body, token=user["token"]).status_code == 200
        yield server


def clip_calls(fake: FakeFal) -> list[dict]:
    return [i for i in fake.inputs if i["model"] == get_settings().fal_video_model]


def the_call(submitted: dict) -> Call:
    """The call-cache name of a clip request the fake received (the still sent as a data URL is
    named by its digest, as fal.render_clips names it)."""
    sent = dict(submitted["input"])
    still = base64.b64decode(sent.pop("image_url").removeprefix("data:image/png;base64,"))
    return Call("fal", submitted["model"], "queue", {**sent, "image": hashlib.sha256(still).hexdigest()})


def kept(job_id: str, submitted: dict) -> bool:
    return storage.exists(storage.artifact_key(job_id, call_cache.FOLDER, the_call(submitted).key()))


def followable(job_id: str, submitted: dict) -> bool:
    token = call_cache.idempotency_key(job_id, the_call(submitted))
    return bool(redis_client.client().exists(redis_keys.fal_request(token)))


def test_a_worker_killed_mid_clips_buys_each_scenes_clip_once(api, user, workers, fake, tmp_path):
    fake.hold_prompts = set(HELD)  # these clips stay IN_PROGRESS at fal until the kill
    first = workers.start()
    job_id = api.submit_ok(user, JOB, providers={"image": "fal", "video": "fal"}, narration=False)
    assert fake.wait_until(
        lambda f: (
            {c["input"]["prompt"] for c in clip_calls(f)} == set(VISUALS)
            and all(
                f.requests.get(c["id"], {}).get("fetched")
                for c in clip_calls(f)
                if c["input"]["prompt"] in DONE
            )
        ),
        120,
    ), "the clips were never all asked, two of them answered"
    by_scene = {c["input"]["prompt"]: c for c in clip_calls(fake)}
    wait_until(  # S3 and Redis state, no event to await: what the dead worker leaves behind
        lambda: (
            all(kept(job_id, by_scene[v]) for v in DONE)
            and all(followable(job_id, by_scene[v]) for v in HELD)
        ),
        30,
        "two clips kept, two requests in flight recorded",
    )
    workers.kill(first)
    assert all(fake.requests[by_scene[v]["id"]]["state"] == "IN_PROGRESS" for v in HELD)
    fake.hold_prompts = set()  # fal finishes them; only a replacement can collect them
    workers.start()

    finished = wait_for_status(job_id, {"succeeded", "failed"})
    assert finished.status == "succeeded", finished
    clips = clip_calls(fake)
    assert sorted(c["input"]["prompt"] for c in clips) == sorted(VISUALS)  # each submitted once
    for clip in clips:  # and its result fetched once: the held ones by the replacement
        request = fake.requests[clip["id"]]
        assert request["state"] == "COMPLETED" and request["fetched"] == 1, clip["input"]["prompt"]
    assert fake.counts["cancel"] == 0  # nothing was given up
    assert len(fake.inputs) - len(clips) == len(VISUALS)  # the images: made once, before the kill
    assert not any(followable(job_id, c) for c in clips)  # nothing left to follow
    runs = [r.status for r in jobs_db.step_runs(job_id) if r.step == "video"]
    assert runs == ["abandoned", "succeeded"]

    job = api.call("GET", f"/v1/jobs/{job_id}", token=user["token"]).json
    assert not [n for n in job["notes"] if "no AI clip" in n], job["notes"]
    video_usage = next(s for s in job["steps"] if s["name"] == "video")["usage"]
    fal_usage = [u for u in video_usage if u["provider"] == "fal"]
    assert sum(u["video_s"] for u in fal_usage) == 5 * len(VISUALS)  # each clip counted once
    video = tmp_path / "motion.mp4"
    video.write_bytes(httpx.get(job["outputs"]["video_url"], timeout=60).raise_for_status().content)
    for at in (1.0, 3.0, 5.0, 7.0):  # every scene is an orange clip, not a blue still
        red, green, blue = redness(frame_at(video, at, tmp_path / f"at-{at}.png"))
        assert red > 200 and 120 < green < 200 and blue < 60, (at, red, green, blue)
