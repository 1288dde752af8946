"""Replicate images end to end: a job run by a real worker process against a local fake of
Replicate's predictions API (the user's token, its base_url the fake), priced per image; cancel
reaching every prediction in flight; and, in process through the worker's provider chain, 429
storms waited out, failed or malformed outputs falling back with a note, and a resumed job
asking only for the scenes it lacks. Real MySQL, Redis, KMS and S3 on the emulator."""

from __future__ import annotations

import json
import secrets
import threading

import pytest

from chalicelib.core.settings import get_settings
from chalicelib.infra import storage
from chalicelib.pipeline import call_cache, provider_chain
from chalicelib.pipeline.call_cache import Call
from chalicelib.pipeline.concept.offline import write_concept
from chalicelib.pipeline.media.ffmpeg import RenderCanceled
from chalicelib.pipeline.remote import replicate
from tests.fakes.replicate_server import CREATE, GET, FakeReplicate
from tests.workers import wait_for_status, wait_until

PROMPT = "A kite over a quiet harbour at dawn"
JOB = {"prompt": PROMPT, "duration_s": 6, "aspect": "9:16", "providers": {"image": "replicate"}}
TOKEN = f"r8_{secrets.token_hex(12)}"
FLUX_SCHNELL_EACH = 3_000  # $0.003 an image


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
        assert TOKEN not in stored.body.decode()
        yield server


def image_task(user: dict, tmp_path, job_id: str = "", **fields) -> provider_chain.Task:
    concept = write_concept(PROMPT, 6)
    return provider_chain.Task(
        request={**JOB, "style": None},
        user_id=user["user"]["id"],
        job_id=job_id,
        claim=lambda upper: None,
        concept=concept,
        paths=[tmp_path / f"scene-{s.index + 1:02d}.png" for s in concept.scenes],
        **fields,
    )


def kept_in_cache(job_id: str, given: dict) -> bool:
    call = Call(replicate.PROVIDER, get_settings().replicate_image_model, replicate.ENDPOINT, given)
    return storage.exists(storage.artifact_key(job_id, call_cache.FOLDER, call.key()))


def test_a_replicate_job_gets_generated_images_priced_per_image(api, user, workers, fake):
    workers.start()
    job_id = api.submit_ok(user, JOB)
    assert wait_for_status(job_id, {"succeeded", "failed"}).status == "succeeded", workers.logs()
    job = api.call("GET", f"/v1/jobs/{job_id}", token=user["token"]).json
    concept = json.loads(storage.get_bytes(storage.artifact_key(job_id, "concept", "concept.json")))
    scenes = len(concept["scenes"])
    creates = fake.calls(CREATE)
    assert len(creates) == fake.created == scenes > 0 and fake.cancels == 0 and fake.running() == []
    assert {c["authorization"] for c in creates} == {f"Bearer {TOKEN}"}
    assert {c["target"] for c in creates} == {"black-forest-labs/flux-schnell"}
    assert all(c["body"]["input"]["aspect_ratio"] == "9:16" for c in creates)
    image_step = next(s for s in job["steps"] if s["name"] == "image")
    assert image_step["provider"] == "replicate"
    (usage,) = [u for u in image_step["usage"] if u["purpose"] == "image"]
    assert (usage["provider"], usage["model"], usage["images"], usage["account"]) == (
        "replicate",
        "black-forest-labs/flux-schnell",
        scenes,
        "own",
    )
    assert usage["cost_micros"] == scenes * FLUX_SCHNELL_EACH


def test_canceling_a_job_cancels_its_predictions_in_flight(api, user, workers, fake):
    fake.script(CREATE, "slow", "slow", "slow")  # they run until canceled
    workers.start()
    job_id = api.submit_ok(user, JOB)
    fake.wait_for_created(3)
    assert len(fake.running()) == 3
    assert api.call("POST", f"/v1/jobs/{job_id}/cancel", token=user["token"]).status_code == 202
    assert wait_for_status(job_id, {"canceled", "succeeded", "failed"}).status == "canceled"
    with fake._changed:  # the cancel calls are made before the step gives the job up
        assert fake._changed.wait_for(lambda: fake.cancels >= 3, 30)
    assert fake.cancels == 3 and fake.running() == [] and fake.created == 3


def test_a_stop_cancels_every_prediction_in_flight(api, user, fake, tmp_path):
    fake.script(CREATE, "slow", "slow", "slow")
    stop = threading.Event()
    threading.Thread(target=lambda: (fake.wait_for_created(3), stop.set()), daemon=True).start()
    with pytest.raises(RenderCanceled):
        provider_chain.run("image", image_task(user, tmp_path, should_stop=stop.is_set))
    assert fake.created == 3 and fake.cancels == 3 and fake.running() == []


def test_a_429_storm_slows_down_without_failing(api, user, fake, tmp_path, monkeypatch):
    fake.retry_after = "0"
    fake.script(CREATE, *["429"] * 8)  # more than the retries of all three scenes together
    fake.script(GET, *["429"] * 4)
    outcome = provider_chain.run("image", image_task(user, tmp_path))
    assert outcome.provider == "replicate" and outcome.notes == []
    assert fake.created == 3 and len(fake.calls(CREATE)) == 3 + 8
    assert sum(c.get("status") == 429 for c in fake.requests) == 12
    (usage,) = outcome.usage
    assert usage.images == 3 and usage.cost_micros == 3 * FLUX_SCHNELL_EACH


def test_the_wait_is_what_retry_after_says(api, user, fake, tmp_path):
    client = replicate.ReplicateClient(TOKEN, fake.base_url)
    waits: list[float] = []
    client.sleep = waits.append
    fake.retry_after = "7"
    fake.script(CREATE, "429", "429")
    concept = write_concept(PROMPT, 6)
    one = concept.model_copy(update={"scenes": concept.scenes[:1]})
    replicate.render_images(client, one, "1:1", None, [tmp_path / "one.png"])
    assert waits == [7.0, 7.0] and client.waited_s == 14.0 and fake.created == 1


@pytest.mark.parametrize("behaviour", ["failed", "malformed", "huge", "no_output"])
def test_a_failed_or_malformed_output_falls_back_with_a_note(
    api, user, fake, tmp_path, monkeypatch, behaviour
):
    monkeypatch.setattr(get_settings(), "replicate_max_output_bytes", 1024 * 1024)
    fake.huge_bytes = 2 * 1024 * 1024
    fake.script(CREATE, behaviour)
    task = image_task(user, tmp_path)
    outcome = provider_chain.run("image", task)
    assert outcome.provider == "offline"
    code = "provider_unavailable" if behaviour == "failed" else "provider_bad_output"
    assert any(f"image: replicate failed ({code}" in note for note in outcome.notes), outcome.notes
    assert "image: made by offline" in outcome.notes
    assert all(path.exists() for path in task.paths) and fake.running() == []


def test_a_resumed_job_asks_only_for_the_scenes_it_lacks(api, user, fake, tmp_path):
    job_id = f"test-{secrets.token_hex(6)}"
    fake.script(CREATE, "ok", "failed", "ok")
    first = provider_chain.run("image", image_task(user, tmp_path, job_id))
    assert first.provider == "offline" and fake.created == 3
    kept = [c["status"] == 201 and kept_in_cache(job_id, c["body"]["input"]) for c in fake.calls(CREATE)]
    assert sorted(kept) == [False, True, True]  # the two that succeeded, kept the moment they arrived

    again = provider_chain.run("image", image_task(user, tmp_path, job_id))
    assert again.provider == "replicate" and fake.created == 4  # one more prediction: the missing scene
    (usage,) = again.usage
    assert usage.images == 3 and usage.cost_micros == 3 * FLUX_SCHNELL_EACH  # counted once, here
    call_cache.discard(job_id)


def test_a_killed_workers_replacement_follows_the_predictions_still_running(api, user, workers, fake):
    fake.script(CREATE, "ok", "ok", "late")  # the third is still running when the worker dies
    fake.late_s = 20.0
    first = workers.start()
    job_id = api.submit_ok(user, JOB)
    fake.wait_for_created(3)
    late = next(p for p in fake.predictions.values() if p["_behaviour"] == "late")

    def marked() -> bool:
        call = Call(
            replicate.PROVIDER, get_settings().replicate_image_model, replicate.ENDPOINT, late["input"]
        )
        key = storage.artifact_key(job_id, call_cache.FOLDER, f"{call.key()}.prediction")
        return storage.exists(key) and storage.get_bytes(key) == late["id"].encode()

    wait_until(marked, 30, "the running prediction's id kept")  # S3 state, no event to await
    workers.kill(first)
    workers.start()
    assert wait_for_status(job_id, {"succeeded", "failed"}).status == "succeeded", workers.logs()
    assert fake.created == 3 and fake.cancels == 0  # followed, not bought again
    job = api.call("GET", f"/v1/jobs/{job_id}", token=user["token"]).json
    image_step = next(s for s in job["steps"] if s["name"] == "image")
    (usage,) = [u for u in image_step["usage"] if u["purpose"] == "image"]
    assert usage["images"] == 3 and usage["cost_micros"] == 3 * FLUX_SCHNELL_EACH
