"""The whole product through real processes: `chalice local` over HTTP, a worker process,
BullMQ on Redis, MariaDB, S3 on the emulator, ffmpeg and espeak-ng."""

from __future__ import annotations

import os
import secrets
import time

import httpx
import pytest

from chalicelib.infra import db, storage
from chalicelib.pipeline.media.probe import probe
from tests.conftest import local_stack, signup_over_http
from tests.fakes.openai_server import FakeOpenAI

TERMINAL = {"succeeded", "failed", "canceled"}


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    """API and one worker on their own queue, so in-process tests' jobs don't reach them."""
    env = {"QUEUE_NAME": os.environ["QUEUE_NAME"] + "-e2e", "WORKER_CONCURRENCY": "1"}
    with local_stack(tmp_path_factory.mktemp("stack-logs"), env) as stack:
        yield stack


def follow(client: httpx.Client, job_id: str, deadline_s: float = 240) -> list[dict]:
    """Every event until the job ends, by long-polling the events endpoint."""
    events, cursor = [], None
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        params = {"wait": 10, **({"after": cursor} if cursor else {})}
        page = client.get(f"/v1/jobs/{job_id}/events", params=params, timeout=30).json()
        events += page["events"]
        cursor = page["next"]
        if page["status"] in TERMINAL:
            return events
    raise AssertionError(f"job {job_id} did not finish in {deadline_s}s: {events[-3:]}")


def signed_up(client: httpx.Client) -> None:
    """A new, verified account (tests.conftest.signup_over_http) as the client's bearer."""
    token = signup_over_http(str(client.base_url).rstrip("/"), email=f"e2e-{time.time_ns()}@example.com")
    client.headers["Authorization"] = f"Bearer {token}"


def test_a_prompt_becomes_a_narrated_mp4_in_s3(stack, tmp_path):
    with httpx.Client(base_url=stack.url, timeout=30) as client:
        signed_up(client)

        submitted = client.post(
            "/v1/jobs",
            json={"prompt": "Two robots plant a garden on the moon", "duration_s": 6, "aspect": "9:16"},
        )
        assert submitted.status_code == 202
        job_id = submitted.json()["id"]

        events = follow(client, job_id)
        job = client.get(f"/v1/jobs/{job_id}").json()
        assert job["status"] == "succeeded", job["error"]

        types = [e["type"] for e in events]
        assert types[0] == "job.queued" and types[-1] == "job.succeeded"
        for step in ("concept", "image", "video", "upload"):
            assert types.count("step.succeeded") == 4 and ("step.started", step) in {
                (e["type"], e["step"]) for e in events
            }
        reported = [e["progress"] for e in events if e["progress"] is not None]
        assert reported == sorted(reported) and reported[-1] == 100
        assert [s["status"] for s in job["steps"]] == ["succeeded"] * 4
        assert job["progress"] == 100 and job["finished_at"] and job["error"] is None

        video = tmp_path / "video.mp4"
        video.write_bytes(httpx.get(job["outputs"]["video_url"], timeout=60).raise_for_status().content)
        info = probe(video)
        assert info["video_codec"] == "h264"
        assert (info["width"], info["height"]) == (1080, 1920)
        assert abs(info["duration_s"] - 6) <= 0.6
        assert info["audio_codec"] == "aac"
        assert video.read_bytes()[4:8] == b"ftyp"

        thumbnail = httpx.get(job["outputs"]["thumbnail_url"], timeout=30).raise_for_status().content
        assert thumbnail[:3] == b"\xff\xd8\xff"
        captions = httpx.get(job["outputs"]["captions_url"], timeout=30).raise_for_status().text
        assert captions.startswith("1\n") and "-->" in captions

        for key in ("concept/concept.json", "image/scene-01.png", "video/video.mp4", "output/video.mp4"):
            assert storage.exists(f"jobs/{job_id}/{key}"), key


def test_a_byok_job_runs_on_the_users_provider_and_the_key_never_leaks(stack, tmp_path):
    key = f"sk-e2e-{secrets.token_hex(16)}"
    with FakeOpenAI(api_key=key) as fake, httpx.Client(base_url=stack.url, timeout=30) as client:
        signed_up(client)
        stored = client.put("/v1/provider-keys/openai", json={"api_key": key, "base_url": fake.base_url})
        assert stored.status_code == 200 and key not in stored.text
        submitted = client.post(
            "/v1/jobs",
            json={
                "prompt": "A paper boat sails across a rainy city",
                "duration_s": 6,
                "aspect": "1:1",
                "providers": {"concept": "openai", "image": "openai", "narration": "openai"},
            },
        )
        assert submitted.status_code == 202, submitted.text
        job_id = submitted.json()["id"]
        follow(client, job_id)
        job = client.get(f"/v1/jobs/{job_id}").json()
        me = client.get("/v1/me").json()
        assert job["status"] == "succeeded", (job["error"], job["notes"])
        assert {c["path"] for c in fake.requests} == {
            "chat/completions",
            "images/generations",
            "audio/speech",
            "audio/transcriptions",
        }
        assert {c["authorization"] for c in fake.requests} == {f"Bearer {key}"}

        steps = {s["name"]: s for s in job["steps"]}
        assert [steps[n]["provider"] for n in ("concept", "image", "video")] == [
            "openai",
            "openai",
            "offline",
        ]
        image_usage = {
            u["purpose"]: u for u in reversed(steps["image"]["usage"])
        }  # speech, not its transcription
        assert image_usage["image"]["images"] == len(fake.calls("images/generations"))
        assert image_usage["narration"]["provider"] == "openai" and image_usage["narration"]["characters"] > 0
        assert steps["concept"]["usage"][0]["tokens_in"] > 0
        assert job["notes"] == ["narration: spoken by openai:alloy; word timings: transcription"]
        totals = {(t["purpose"], t["provider"]): t for t in me["usage"]["providers"]}
        assert totals[("concept", "openai")]["tokens_in"] == steps["concept"]["usage"][0]["tokens_in"]
        assert totals[("narration", "openai")]["calls"] == 2  # the speech and its transcription, priced apart

        video = tmp_path / "byok.mp4"
        video.write_bytes(httpx.get(job["outputs"]["video_url"], timeout=60).raise_for_status().content)
        info = probe(video)
        assert (info["width"], info["height"]) == (1080, 1080) and info["audio_codec"] == "aac"
        assert abs(info["duration_s"] - 6) <= 0.6
    assert key not in repr(db.fetch_all("SELECT * FROM provider_keys"))
    worker_log = (stack.logs / "worker.log").read_text(errors="replace")
    assert "/v1/chat/completions" in worker_log  # the capture works: it shows the provider calls
    assert key not in worker_log and key[-12:] not in worker_log


def upload(client: httpx.Client, data: bytes, content_type: str, filename: str) -> str:
    form = client.post(
        "/v1/uploads", json={"filename": filename, "content_type": content_type, "size_bytes": len(data)}
    ).json()
    httpx.post(
        form["url"], data=form["fields"], files={"file": (filename, data, content_type)}, timeout=30
    ).raise_for_status()
    assert client.get(f"/v1/uploads/{form['id']}").json()["status"] == "uploaded"
    return form["id"]


def test_corrupt_music_fails_clearly_and_the_worker_goes_on_to_mix_good_music(stack, tmp_path):
    import subprocess

    import imageio_ffmpeg

    good = tmp_path / "music.wav"
    subprocess.run(
        [
            imageio_ffmpeg.get_ffmpeg_exe(),
            "-v",
            "error",
            "-f",
            "lavfi",
            "-i",
            "sine=f=220:d=3:sample_rate=22050",
            str(good),
        ],
        check=True,
    )
    corrupt = b"ID3\x03\x00\x00\x00\x00\x00\x00" + bytes(range(256)) * 40
    with httpx.Client(base_url=stack.url, timeout=30) as client:
        signed_up(client)
        bad_id = upload(client, corrupt, "audio/mpeg", "song.mp3")
        failed = client.post(
            "/v1/jobs",
            json={
                "prompt": "A quiet harbour at dawn",
                "duration_s": 5,
                "inputs": {"music_upload_id": bad_id},
            },
        ).json()
        follow(client, failed["id"])
        failed = client.get(f"/v1/jobs/{failed['id']}").json()
        assert failed["status"] == "failed"
        assert failed["error"]["code"] == "music_unreadable" and failed["error"]["step"] == "video"

        good_id = upload(client, good.read_bytes(), "audio/wav", "song.wav")
        job = client.post(
            "/v1/jobs",
            json={
                "prompt": "A quiet harbour at dawn",
                "duration_s": 5,
                "aspect": "1:1",
                "inputs": {"music_upload_id": good_id},
            },
        ).json()
        follow(client, job["id"])
        job = client.get(f"/v1/jobs/{job['id']}").json()
        assert job["status"] == "succeeded", job["error"]  # the same worker process, still serving
        assert any("spoken by en_US-joe-medium" in note for note in job["notes"])
        outputs = job["outputs"]
        assert (
            abs(outputs["audio"]["integrated_lufs"] + 14) <= 0.5 and outputs["audio"]["true_peak_dbtp"] <= -1
        )
        words = httpx.get(outputs["words_url"], timeout=30).raise_for_status().json()
        assert words["words"] and words["timing"][0] == "piper-alignment"
        vtt = httpx.get(outputs["vtt_url"], timeout=30).raise_for_status().text
        assert vtt.startswith("WEBVTT") and words["words"][0]["text"] in vtt
