"""Never buy the same generation twice (call_cache.py): a paid result is kept in S3 as it returns,
so a worker killed mid-step, or a retry after a later failure, asks the provider only for what the
job does not have. Real worker processes, MySQL, Redis, S3 on the emulator, the fake OpenAI server."""

from __future__ import annotations

import secrets
from collections import Counter

import pytest

from chalicelib.core.settings import get_settings
from chalicelib.infra import storage
from chalicelib.jobs import repository as jobs_db
from chalicelib.pipeline import call_cache
from chalicelib.pipeline.call_cache import Call, CallCache
from tests.fakes.openai_server import FakeOpenAI
from tests.workers import wait_for_status, wait_until

IMAGES = "images/generations"
JOB = {"prompt": "A kite over a quiet harbour at dawn", "duration_s": 6, "aspect": "1:1"}  # 3 scenes


@pytest.fixture
def fake(api, user):
    """The fake OpenAI server, with the user's key for it stored (BYOK)."""
    with FakeOpenAI() as server:
        stored = api.call(
            "PUT",
            "/v1/provider-keys/openai",
            {"api_key": "sk-cache-test-123456", "base_url": server.base_url},
            token=user["token"],
        )
        assert stored.status_code == 200, stored.body
        yield server


def kept_key(job_id: str, path: str, request: dict) -> str:
    """Where the job keeps the answer to the request the fake recorded."""
    return storage.artifact_key(
        job_id, call_cache.FOLDER, Call("openai", request["model"], path, request).key()
    )


def usage_of(api, user, job_id: str) -> dict[str, dict]:
    job = api.call("GET", f"/v1/jobs/{job_id}", token=user["token"]).json
    image_step = next(s for s in job["steps"] if s["name"] == "image")
    return {
        u["purpose"]: u for u in reversed(image_step["usage"])
    }  # narration: speech, not its transcription


def test_a_kept_result_is_reused_with_its_usage_and_forgotten_on_request():
    cache, call = (
        CallCache(f"job_{secrets.token_hex(6)}"),
        Call("openai", "m", "images/generations", {"p": 1}),
    )
    asked: list[str | None] = []

    def ask(idempotency_key):
        asked.append(idempotency_key)
        return b"image bytes", {"images": 1}

    fresh, again = cache.remember(call, ask), cache.remember(call, ask)
    assert asked == [call_cache.idempotency_key(cache.job_id, call)]
    assert (fresh.reused, again.reused) == (False, True)
    assert (again.content, again.usage) == (b"image bytes", {"images": 1})  # counted as when bought
    cache.forget(call)  # a result the step could not use
    assert not cache.remember(call, ask).reused and len(asked) == 2
    assert storage.delete_prefix(storage.job_prefix(cache.job_id)) == 1  # cleanup's job prefix holds it
    assert not call_cache.NO_CACHE.remember(call, ask).reused and asked[-1] is None  # outside a job


def test_a_worker_killed_mid_image_step_buys_each_scene_once(api, user, workers, fake):
    fake.script(IMAGES, "ok", "ok", "slow")  # the third image is still being made when the worker dies
    first = workers.start()
    job_id = api.submit_ok(user, JOB, providers={"concept": "openai", "image": "openai"}, narration=False)
    fake.wait_for_calls(IMAGES, 3)
    wait_until(  # S3 state, no event to await: the two answered images kept before the kill
        lambda: (
            len(fake.answered(IMAGES)) == 2
            and all(storage.exists(kept_key(job_id, IMAGES, c["body"])) for c in fake.answered(IMAGES))
        ),
        30,
        "two images kept",
    )
    workers.kill(first)
    workers.start()

    assert wait_for_status(job_id, {"succeeded", "failed"}).status == "succeeded"
    calls, answered = fake.calls(IMAGES), fake.answered(IMAGES)
    prompts = Counter(c["body"]["prompt"] for c in answered)
    assert len(calls) == 4 and len(answered) == 3 and set(prompts.values()) == {1}  # once a scene
    (held,) = [c for c in calls if c not in answered]
    (resumed,) = [c for c in answered if c["body"]["prompt"] == held["body"]["prompt"]]
    # the unanswered request and its replacement carry one Idempotency-Key: a provider honouring
    # it bills the scene once even if it finished the image the dead worker never received
    assert (
        held["idempotency_key"]
        == resumed["idempotency_key"]
        == call_cache.idempotency_key(job_id, Call("openai", held["body"]["model"], IMAGES, held["body"]))
    )
    assert "sk-cache-test" not in held["idempotency_key"]
    assert len(fake.answered("chat/completions")) == 1
    assert usage_of(api, user, job_id)["image"]["images"] == 3  # each scene counted once
    runs = [r.status for r in jobs_db.step_runs(job_id) if r.step == "image"]
    assert runs == ["abandoned", "succeeded"]
    assert storage.delete_prefix(storage.artifact_key(job_id, call_cache.FOLDER, "")) == 0  # dropped


def test_a_retry_after_a_failed_narration_reuses_the_concept_images_and_spoken_scenes(
    api, user, workers, fake
):
    fake.script("audio/speech", "401")  # one scene's speech: the job fails (a rejected key)
    workers.start()
    job_id = api.submit_ok(
        user, JOB, providers={"concept": "openai", "image": "openai", "narration": "openai"}
    )
    failed = wait_for_status(job_id, {"failed", "succeeded"})
    assert (failed.status, failed.error_code) == ("failed", "provider_key_rejected")
    bought = {path: len(fake.answered(path)) for path in ("chat/completions", IMAGES, "audio/speech")}
    assert bought == {"chat/completions": 1, IMAGES: 3, "audio/speech": 2}

    retried = api.call("POST", f"/v1/jobs/{job_id}/retry", token=user["token"])
    assert retried.status_code == 202, retried.body
    assert wait_for_status(job_id, {"failed", "succeeded"}).status == "succeeded"
    assert len(fake.calls("chat/completions")) == 1 and len(fake.calls(IMAGES)) == 3  # not asked again
    spoken = Counter(c["body"]["input"] for c in fake.answered("audio/speech"))
    assert len(spoken) == 3 and set(spoken.values()) == {1}  # the failed scene alone was asked again
    assert len(fake.answered("audio/transcriptions")) == 3
    (refused,) = [c for c in fake.calls("audio/speech") if c.get("status") != 200]
    asked_again = [c for c in fake.calls("audio/speech") if c["body"]["input"] == refused["body"]["input"]]
    assert len({c["idempotency_key"] for c in asked_again}) == 1

    usage = usage_of(api, user, job_id)
    assert usage["image"]["images"] == 3 and usage["image"]["model"] == get_settings().openai_image_model
    assert usage["narration"]["characters"] == sum(len(text) for text in spoken)  # each line once
