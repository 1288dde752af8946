"""AI motion in the console (issue 26, "done when"): on a stack whose platform accounts for fal.ai
and ElevenLabs are local fakes (behind their Secrets Manager secrets), a pro user without keys of
their own asks for AI clips and an ElevenLabs voice, sees both in the estimate, watches the clips
being made scene by scene, and plays a video made of the generated (orange) clips, narrated by
ElevenLabs with karaoke captions timed by its alignment."""

from __future__ import annotations

import json
import os
import secrets
from typing import NamedTuple

import httpx
import pytest
from playwright.sync_api import expect

from chalicelib.core.settings import get_settings
from chalicelib.infra import aws
from tests.conftest import free_port, local_stack
from tests.console.conftest import (
    DESKTOP,
    JOB_TIMEOUT_MS,
    _new_page,
    api_client,
    check_accessibility,
    progress_section,
    shot,
    token_of,
)
from tests.console.test_platform_ai import estimate_section, pro_user
from tests.e2e.test_bring_your_own import redness
from tests.fakes.elevenlabs_server import FakeElevenLabs
from tests.fakes.fal_server import FakeFal
from tests.fakes.media import frame_at


class MotionStack(NamedTuple):
    url: str
    fal: FakeFal
    elevenlabs: FakeElevenLabs


@pytest.fixture(scope="module")
def motion_stack(isolated_backends, tmp_path_factory):
    prefix = f"console-{secrets.token_hex(4)}/platform/"
    sm = aws.client("secretsmanager")
    port = free_port()
    fal_key, voice_key = f"fal-{secrets.token_hex(8)}", f"xi-{secrets.token_hex(8)}"
    # Each generation takes a second or two: long enough to see the clips being made one by one.
    with (
        FakeFal(tmp_path_factory.mktemp("console-fal"), fal_key, latency_s=(1.0, 2.0)) as fal,
        FakeElevenLabs(api_key=voice_key) as voice,
    ):
        secrets_made = []
        for name, key, url in (("fal", fal_key, fal.base_url), ("elevenlabs", voice_key, voice.base_url)):
            sm.create_secret(
                Name=f"{prefix}{name}", SecretString=json.dumps({"api_key": key, "base_url": url})
            )
            secrets_made.append(f"{prefix}{name}")
        env = {
            "QUEUE_NAME": os.environ["QUEUE_NAME"] + "-motion-console",
            "WORKER_CONCURRENCY": "1",
            "PLATFORM_PROVIDERS": '["fal", "elevenlabs"]',
            "PLATFORM_SECRET_PREFIX": prefix,
            "PUBLIC_URL": f"http://127.0.0.1:{port}",
        }
        try:
            with local_stack(tmp_path_factory.mktemp("motion-console-stack"), env, port) as stack:
                yield MotionStack(stack.url, fal, voice)
        finally:
            for name in secrets_made:
                sm.delete_secret(SecretId=name, ForceDeleteWithoutRecovery=True)


@pytest.fixture
def page(browser, motion_stack):
    context, page = _new_page(browser, motion_stack, DESKTOP)
    yield page
    context.close()
    assert page.errors == [], page.errors


def test_a_pro_user_makes_a_video_of_ai_clips_with_an_elevenlabs_voice(page, motion_stack, tmp_path):
    pro_user(page, motion_stack)
    page.get_by_label("Prompt").fill("Tide pools at dawn")
    page.get_by_label("Duration (seconds)").fill("10")
    page.get_by_label("Motion", exact=True).select_option("ai")
    page.get_by_label("Voice", exact=True).select_option("elevenlabs:aria")
    estimate = estimate_section(page)
    for purpose, provider in (("video", "fal"), ("narration", "elevenlabs")):
        row = estimate.locator(f"tr[data-purpose='{purpose}']")
        expect(row).to_have_attribute("data-account", "platform")
        expect(row).to_contain_text(provider)
    expect(estimate).to_have_attribute("data-fits", "true")
    check_accessibility(page, "new video (AI motion)")

    page.get_by_role("button", name="Make the video").click()
    page.wait_for_url(lambda url: "/jobs/job_" in url)
    job_id = page.url.rsplit("/", 1)[-1]
    progress = progress_section(page)
    # Scene by scene: the video step says which clip it is making.
    expect(progress.get_by_test_id("step-message")).to_contain_text("clip", timeout=JOB_TIMEOUT_MS)
    shot(page, "job-ai-motion-running")
    expect(progress).to_have_attribute("data-status", "succeeded", timeout=JOB_TIMEOUT_MS)
    page.wait_for_function("() => document.querySelector('video')?.readyState >= 1")
    assert 9.0 <= page.locator("video").evaluate("v => v.duration") <= 12.0
    shot(page, "job-ai-motion-done")

    with api_client(motion_stack, token_of(page)) as client:
        job = client.get(f"/v1/jobs/{job_id}").json()
    steps = {s["name"]: s for s in job["steps"]}
    clips = [u for u in steps["video"]["usage"] if u["provider"] == "fal"]
    assert clips and clips[0]["account"] == "platform" and clips[0]["cost_micros"] > 0
    spoken = [u for u in steps["image"]["usage"] if u["purpose"] == "narration"]
    assert spoken and spoken[0]["provider"] == "elevenlabs" and spoken[0]["account"] == "platform"
    assert not [n for n in job["notes"] if "no AI clip" in n], job["notes"]
    video_model = get_settings().fal_video_model
    assert sum(1 for i in motion_stack.fal.inputs if i["model"] == video_model) == 3  # one clip a scene
    assert motion_stack.fal.running() == 0
    timed = httpx.get(job["outputs"]["words_url"], timeout=30).raise_for_status().json()
    assert set(timed["timing"]) == {"alignment"} and timed["voice"] == "elevenlabs:aria"  # karaoke

    video = tmp_path / "ai-motion.mp4"
    video.write_bytes(httpx.get(job["outputs"]["video_url"], timeout=60).raise_for_status().content)
    for at in (1.0, 5.0, 8.5):  # the fake's orange clips, not its blue stills
        red, green, blue = redness(frame_at(video, at, tmp_path / f"at-{at}.png"))
        assert red > 200 and blue < 60, (at, red, green, blue)
