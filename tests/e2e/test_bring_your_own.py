"""Bring your own, tried as a new user would over HTTP (`chalice local` and a worker process):
a script with an uploaded clip, and stock footage from a Pexels-speaking fake server."""

from __future__ import annotations

import os
import re
import secrets
from pathlib import Path

import httpx
import pytest
from PIL import Image, ImageStat

from chalicelib.pipeline.media.probe import probe
from tests.conftest import local_stack
from tests.e2e.test_end_to_end import follow, signed_up
from tests.fakes.media import frame_at, make_clip
from tests.fakes.pexels_server import FakePexels

SENTENCES = [
    "The harbour wakes before the sun.",
    "A red boat slips out to sea.",
    "By noon the nets are full.",
]


@pytest.fixture(scope="module")
def pexels_fake(tmp_path_factory):
    with FakePexels(tmp_path_factory.mktemp("byo-pexels"), f"pexels-{secrets.token_hex(8)}") as fake:
        yield fake


@pytest.fixture(scope="module")
def stack(tmp_path_factory, pexels_fake):
    env = {
        "QUEUE_NAME": os.environ["QUEUE_NAME"] + "-byo",
        "WORKER_CONCURRENCY": "1",
        "PEXELS_API_URL": pexels_fake.base_url,  # the operator's setting: users cannot name one
    }
    with local_stack(tmp_path_factory.mktemp("byo-stack-logs"), env) as stack:
        yield stack


def upload(client: httpx.Client, path: Path, content_type: str) -> str:
    data = path.read_bytes()
    form = client.post(
        "/v1/uploads", json={"filename": path.name, "content_type": content_type, "size_bytes": len(data)}
    ).json()
    posted = httpx.post(form["url"], data=form["fields"], files={"file": (path.name, data, content_type)})
    assert posted.status_code in (200, 201, 204), posted.text
    assert client.get(f"/v1/uploads/{form['id']}").json()["status"] == "uploaded"
    return form["id"]


def redness(frame: Path) -> tuple[float, ...]:
    with Image.open(frame) as image:
        w, h = image.size
        return tuple(ImageStat.Stat(image.convert("RGB").crop((w // 10, h // 10, w * 9 // 10, h // 2))).mean)


def captions_of(srt: str) -> list[str]:
    return [
        line for line in srt.splitlines() if line and "-->" not in line and not re.fullmatch(r"\d+", line)
    ]


def test_a_three_sentence_script_with_a_clip_becomes_that_video(stack, tmp_path):
    with httpx.Client(base_url=stack.url, timeout=30) as client:
        signed_up(client)
        clip = upload(
            client, make_clip(tmp_path / "boat.mp4", 640, 360, seconds=1.0, color="red"), "video/mp4"
        )
        submitted = client.post(
            "/v1/jobs",
            json={
                "aspect": "9:16",
                "scenes": [
                    {"text": SENTENCES[0]},
                    {"text": SENTENCES[1], "image_upload_id": clip},
                    {"text": SENTENCES[2]},
                ],
            },
        )
        assert submitted.status_code == 202, submitted.text
        job_id = submitted.json()["id"]
        follow(client, job_id)
        job = client.get(f"/v1/jobs/{job_id}").json()
        assert job["status"] == "succeeded", (job["error"], job["notes"])
        assert job["steps"][0]["provider"] == "script"

        srt = httpx.get(job["outputs"]["captions_url"], timeout=30).text
        assert captions_of(srt) == SENTENCES
        starts = [
            float(m.group(1)) * 60 + float(m.group(2).replace(",", "."))
            for m in re.finditer(r"\d\d:(\d\d):(\d\d,\d{3}) -->", srt)
        ]
        video = tmp_path / "script.mp4"
        video.write_bytes(httpx.get(job["outputs"]["video_url"], timeout=60).raise_for_status().content)
        info = probe(video)
        assert (info["width"], info["height"]) == (1080, 1920) and info["audio_codec"] == "aac"
        second = redness(frame_at(video, (starts[1] + starts[2]) / 2, tmp_path / "second.png"))
        first = redness(frame_at(video, starts[1] / 2, tmp_path / "first.png"))
        assert second[0] > 200 and second[1] < 40 and second[2] < 40  # the clip, cover-cropped
        assert not (first[0] > 200 and first[1] < 40)


def test_a_pexels_job_shows_stock_clips(stack, pexels_fake, tmp_path):
    fake = pexels_fake
    with httpx.Client(base_url=stack.url, timeout=30) as client:
        signed_up(client)
        fake.add_video("lighthouse storm", 1080, 1920, 10, "red")
        stored = client.put("/v1/provider-keys/pexels", json={"api_key": fake.api_key})
        assert stored.status_code == 200 and fake.api_key not in stored.text
        submitted = client.post(
            "/v1/jobs",
            json={
                "aspect": "9:16",
                "providers": {"image": "pexels"},
                "scenes": [
                    {"text": "The storm comes.", "visual": "lighthouse storm", "duration_s": 2},
                    {"text": "The light holds.", "visual": "lighthouse storm", "duration_s": 2},
                ],
            },
        )
        assert submitted.status_code == 202, submitted.text
        job_id = submitted.json()["id"]
        follow(client, job_id)
        job = client.get(f"/v1/jobs/{job_id}").json()
        assert job["status"] == "succeeded", (job["error"], job["notes"])
        image = {s["name"]: s for s in job["steps"]}["image"]
        # No fallback (to a photo or the offline still) noted; the only note names the voice.
        assert image["provider"] == "pexels"
        credits = [n for n in job["notes"] if " on Pexels (https://www.pexels.com/video/" in n]
        assert len(credits) == 2  # each clip credits its creator, as Pexels asks
        assert [
            n for n in job["notes"] if not n.startswith("narration: spoken by") and n not in credits
        ] == []
        assert {u["purpose"]: u["provider"] for u in image["usage"]}["image"] == "pexels"
        video = tmp_path / "stock.mp4"
        video.write_bytes(httpx.get(job["outputs"]["video_url"], timeout=60).raise_for_status().content)
        for at in (1.0, 3.0):
            color = redness(frame_at(video, at, tmp_path / f"at-{at}.png"))
            assert color[0] > 200 and color[1] < 40 and color[2] < 40, (at, color)
        assert len(fake.calls("/files/")) == 1  # one clip for both scenes, fetched once
