"""AI motion (issue 26), tried as a user would over HTTP (`chalice local` and a worker process):
`motion: ai` with their own fal key pointing at a local fake of fal's queue API, whose images
are blue stills and whose image-to-video clips are orange: the video is made of the clips;
a cancel in the middle leaves no generation running at fal."""

from __future__ import annotations

import os
import secrets

import httpx
import pytest

from chalicelib.core.settings import get_settings
from tests.conftest import local_stack
from tests.e2e.test_bring_your_own import redness
from tests.e2e.test_end_to_end import follow, signed_up
from tests.fakes.fal_server import FakeFal
from tests.fakes.media import frame_at


@pytest.fixture(scope="module")
def fal_fake(tmp_path_factory):
    with FakeFal(tmp_path_factory.mktemp("motion-fal"), f"fal-{secrets.token_hex(8)}") as fake:
        yield fake


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    env = {"QUEUE_NAME": os.environ["QUEUE_NAME"] + "-motion", "WORKER_CONCURRENCY": "1"}
    with local_stack(tmp_path_factory.mktemp("motion-stack-logs"), env) as stack:
        yield stack


def submit(client: httpx.Client, fake: FakeFal, motion: str | list[str] = "ai") -> str:
    signed_up(client)
    stored = client.put("/v1/provider-keys/fal", json={"api_key": fake.api_key, "base_url": fake.base_url})
    assert stored.status_code == 200 and fake.api_key not in stored.text
    submitted = client.post(
        "/v1/jobs",
        json={
            "aspect": "9:16",
            "motion": motion,
            "providers": {"image": "fal", "video": "fal"},
            "scenes": [
                {"text": "The tide turns.", "visual": "waves on a rocky shore", "duration_s": 2},
                {"text": "Gulls rise.", "visual": "gulls over the sea", "duration_s": 2},
            ],
        },
    )
    assert submitted.status_code == 202, submitted.text
    return submitted.json()["id"]


def test_an_ai_motion_job_becomes_a_video_of_generated_clips(stack, fal_fake, tmp_path):
    fake = fal_fake
    with httpx.Client(base_url=stack.url, timeout=30) as client:
        job_id = submit(client, fake)
        follow(client, job_id)
        job = client.get(f"/v1/jobs/{job_id}").json()
        assert job["status"] == "succeeded", (job["error"], job["notes"])
        steps = {s["name"]: s for s in job["steps"]}
        assert steps["image"]["provider"] == "fal"
        clips = [u for u in steps["video"]["usage"] if u["provider"] == "fal"]
        assert clips and clips[0]["video_s"] == 10 and clips[0]["account"] == "own"  # 2 clips of 5 s
        assert not [n for n in job["notes"] if "no AI clip" in n or "fal failed" in n], job["notes"]
        models = [i["model"] for i in fake.inputs]
        assert models.count(get_settings().fal_video_model) == 2
        sent = [i["input"] for i in fake.inputs if i["model"] == get_settings().fal_video_model]
        assert all(
            s["image_url"].startswith("data:image/png;base64,") and s["aspect_ratio"] == "9:16" for s in sent
        )
        video = tmp_path / "motion.mp4"
        video.write_bytes(httpx.get(job["outputs"]["video_url"], timeout=60).raise_for_status().content)
        for at in (1.0, 3.0):  # the orange clips, not the blue stills
            red, green, blue = redness(frame_at(video, at, tmp_path / f"at-{at}.png"))
            assert red > 200 and 120 < green < 200 and blue < 60, (at, red, green, blue)


def test_motion_per_scene_animates_only_the_scenes_marked_ai(stack, fal_fake, tmp_path):
    fake = fal_fake
    with httpx.Client(base_url=stack.url, timeout=30) as client:
        asked = len(fake.inputs)
        job_id = submit(client, fake, motion=["none", "ai"])
        follow(client, job_id)
        job = client.get(f"/v1/jobs/{job_id}").json()
        assert job["status"] == "succeeded", (job["error"], job["notes"])
        sent = [i["input"] for i in fake.inputs[asked:] if i["model"] == get_settings().fal_video_model]
        assert [s["prompt"] for s in sent] == ["gulls over the sea"]  # the second scene only
        video_step = next(s for s in job["steps"] if s["name"] == "video")
        assert [u["video_s"] for u in video_step["usage"] if u["provider"] == "fal"] == [5]
        video = tmp_path / "per-scene.mp4"
        video.write_bytes(httpx.get(job["outputs"]["video_url"], timeout=60).raise_for_status().content)
        red, _, blue = redness(frame_at(video, 0.8, tmp_path / "still.png"))
        assert blue > red, "the first scene is its (blue) still"
        red, green, blue = redness(frame_at(video, 3.0, tmp_path / "clip.png"))
        assert red > 200 and blue < 60, "the second scene is the (orange) clip"


def test_cancel_in_the_middle_leaves_no_remote_generation_running(stack, fal_fake):
    fake = fal_fake
    fake.hold = "image-to-video"  # the clips stay IN_PROGRESS until canceled
    try:
        with httpx.Client(base_url=stack.url, timeout=30) as client:
            before = fake.counts["cancel"]
            job_id = submit(client, fake)
            clips = sum(1 for i in fake.inputs if i["model"].endswith("image-to-video"))
            in_flight = fake.wait_until(
                lambda f: (
                    sum(1 for i in f.inputs if i["model"].endswith("image-to-video")) == clips + 2
                    and f.running() == 2
                )
            )
            assert in_flight, "the two clips were never in flight"
            assert client.post(f"/v1/jobs/{job_id}/cancel").status_code in (200, 202)
            follow(client, job_id)
            assert client.get(f"/v1/jobs/{job_id}").json()["status"] == "canceled"
            assert fake.wait_until(lambda f: f.running() == 0, 30), "a generation is still running at fal"
            assert fake.counts["cancel"] - before == 2
    finally:
        fake.hold = ""
