"""AI motion on Replicate (issue 26): `motion: ai` with `providers.video: "replicate"` and the
user's own Replicate token (its base_url a local fake of the predictions API whose image-to-video
model answers real MP4s). Over HTTP with a real worker process: the job becomes a video made of
the generated clips, priced per second; a cancel in the middle leaves no prediction running. In
process through the worker's provider chain: a malformed, oversized or failed clip leaves its
scene's moving still with a note, and a resumed job asks only for the clips it lacks. Real
MySQL, Redis, KMS and S3 on the emulator."""

from __future__ import annotations

import secrets
from pathlib import Path

import pytest
from PIL import Image

from chalicelib.core.settings import get_settings
from chalicelib.infra import storage
from chalicelib.pipeline import call_cache, provider_chain
from chalicelib.pipeline.concept import script
from chalicelib.pipeline.media.images import ASPECTS
from chalicelib.pipeline.media.probe import probe
from tests.e2e.test_bring_your_own import redness
from tests.fakes.media import frame_at
from tests.fakes.replicate_server import CREATE, FakeReplicate
from tests.workers import wait_for_status

TOKEN = f"r8_{secrets.token_hex(12)}"
KLING_PER_S = 50_000  # $0.05 a second of video (prices.py)
SCENES = [
    {"text": "The tide turns.", "visual": "waves on a rocky shore", "duration_s": 2},
    {"text": "Gulls rise.", "visual": "gulls over the sea", "duration_s": 2},
]
JOB = {"aspect": "9:16", "motion": "ai", "providers": {"video": "replicate"}, "scenes": SCENES}


@pytest.fixture
def fake(api, user):
    """The fake Replicate, with the user's token for it stored (BYOK, its base_url the fake)."""
    with FakeReplicate(api_token=TOKEN, latency=(0.2, 0.6), seed=26) as server:
        stored = api.call(
            "PUT",
            "/v1/provider-keys/replicate",
            {"api_key": TOKEN, "base_url": server.base_url},
            token=user["token"],
        )
        assert stored.status_code == 200, stored.body
        yield server


def test_a_motion_ai_job_becomes_a_video_of_replicate_clips(api, user, workers, fake, tmp_path):
    fake.clip_color = "orange"  # the offline stills are never orange
    workers.start()
    job_id = api.submit_ok(user, JOB)
    assert wait_for_status(job_id, {"succeeded", "failed"}).status == "succeeded", workers.logs()
    job = api.call("GET", f"/v1/jobs/{job_id}", token=user["token"]).json
    assert not [n for n in job["notes"] if "no AI clip" in n or "replicate failed" in n], job["notes"]

    creates = fake.calls(CREATE)
    assert len(creates) == fake.created == 2 and fake.cancels == 0 and fake.running() == []
    assert {c["target"] for c in creates} == {get_settings().replicate_video_model}
    assert {c["authorization"] for c in creates} == {f"Bearer {TOKEN}"}
    sent = [c["body"]["input"] for c in creates]
    assert sorted(s["prompt"] for s in sent) == sorted(s["visual"] for s in SCENES)
    assert all(s["start_image"].startswith("data:image/jpeg;base64,") for s in sent)
    assert {(s["duration"], s["mode"]) for s in sent} == {(5, "standard")}

    video_step = next(s for s in job["steps"] if s["name"] == "video")
    assert video_step["provider"] == "replicate"
    (clips,) = [u for u in video_step["usage"] if u["provider"] == "replicate"]
    assert (clips["video_s"], clips["account"], clips["model"]) == (10, "own", "kwaivgi/kling-v2.1")
    assert clips["cost_micros"] == 10 * KLING_PER_S  # what it cost them on their token

    video = tmp_path / "motion.mp4"
    video.write_bytes(storage.get_bytes(storage.artifact_key(job_id, "video", "video.mp4")))
    info = probe(video)
    assert info["video_codec"] == "h264" and (info["width"], info["height"]) == ASPECTS["9:16"]
    assert info["duration_s"] == pytest.approx(4.0, abs=0.5)  # the two 2 s scenes
    for at in (1.0, 3.0):  # each scene shows its orange clip, not its still
        red, green, blue = redness(frame_at(video, at, tmp_path / f"at-{at}.png"))
        assert red > 200 and 120 < green < 200 and blue < 60, (at, red, green, blue)


def test_cancel_in_the_middle_leaves_no_prediction_running(api, user, workers, fake):
    fake.script(CREATE, "slow", "slow")  # they run until canceled
    workers.start()
    job_id = api.submit_ok(user, JOB)
    fake.wait_for_created(2)
    assert len(fake.running()) == 2
    assert api.call("POST", f"/v1/jobs/{job_id}/cancel", token=user["token"]).status_code == 202
    assert wait_for_status(job_id, {"canceled", "succeeded", "failed"}).status == "canceled"
    with fake._changed:  # the cancel calls are made before the step gives the job up
        assert fake._changed.wait_for(lambda: fake.cancels >= 2, 30)
    assert fake.cancels == 2 and fake.running() == [] and fake.created == 2


def motion(user: dict, tmp_path: Path, job_id: str = "") -> tuple[provider_chain.Outcome, list[Path]]:
    """The video step's AI motion over blue stills, in process (the worker's provider chain)."""
    concept = script.to_concept(JOB)
    work = tmp_path / secrets.token_hex(3)
    work.mkdir()
    stills = [work / f"scene-{i + 1:02d}.png" for i in range(len(concept.scenes))]
    for still in stills:
        Image.new("RGB", ASPECTS["9:16"], "blue").save(still)
    task = provider_chain.Task(
        request=JOB, user_id=user["user"]["id"], concept=concept, paths=stills, job_id=job_id
    )
    return provider_chain.run("video", task, offline=lambda task, client: (None, [])), stills


@pytest.mark.parametrize("behaviour", ["malformed", "huge", "failed"])
def test_a_clip_that_cannot_be_made_leaves_its_moving_still_with_a_note(
    user, fake, tmp_path, monkeypatch, behaviour
):
    monkeypatch.setattr(get_settings(), "replicate_max_output_bytes", 1024 * 1024)
    fake.huge_bytes = 2 * 1024 * 1024  # over the cap: never read whole
    fake.script(CREATE, behaviour)  # the first scene's; the second's is a good clip
    outcome, stills = motion(user, tmp_path)
    assert outcome.provider == "replicate" and fake.created == 2 and fake.running() == []
    made = [s.with_suffix(".mp4").exists() for s in stills]
    assert sorted(made) == [False, True]
    code = "provider_unavailable" if behaviour == "failed" else "provider_bad_output"
    notes = [n for n in outcome.notes if "has no AI clip" in n]
    assert len(notes) == 1 and f"({code}" in notes[0] and "the moving still instead" in notes[0], notes
    (usage,) = outcome.usage
    assert usage.video_s == 5 and usage.cost_micros == 5 * KLING_PER_S  # only the clip made


def test_a_resumed_job_asks_only_for_the_clips_it_lacks(user, fake, tmp_path):
    job_id = f"test-{secrets.token_hex(6)}"
    fake.script(CREATE, "ok", "failed")
    first, _ = motion(user, tmp_path, job_id)
    assert fake.created == 2 and len([n for n in first.notes if "has no AI clip" in n]) == 1
    again, stills = motion(user, tmp_path, job_id)  # the same stills: the same asks
    assert fake.created == 3  # one more prediction: the scene without a clip
    assert all(s.with_suffix(".mp4").exists() for s in stills) and not again.notes
    (usage,) = again.usage
    assert usage.video_s == 10  # the kept clip counts once, here
    call_cache.discard(job_id)
