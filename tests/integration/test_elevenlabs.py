"""ElevenLabs narration end to end: the catalog and keys through the API, jobs run by real worker
processes against a local fake of ElevenLabs (the user's key, its base_url the fake), the
karaoke captions timed by the alignment, 429s waited out, a killed worker's replacement paying
only for what was missing, bad answers falling back with a note, and the business plan's
narration on the platform's ElevenLabs account. Real MySQL, Redis, KMS and S3 on the emulator."""

from __future__ import annotations

import json
import logging
import secrets
from collections import Counter

import pytest

from chalicelib.core.settings import get_settings
from chalicelib.infra import aws, storage
from chalicelib.pipeline import call_cache, platform_accounts, provider_chain
from chalicelib.pipeline.call_cache import Call
from chalicelib.pipeline.concept.offline import write_concept
from chalicelib.pipeline.media import words as words_mod
from chalicelib.pipeline.remote import elevenlabs
from tests.conftest import grant_plan
from tests.fakes.elevenlabs_server import SPEECH, FakeElevenLabs
from tests.workers import wait_for_status, wait_until

PROMPT = "A kite over a quiet harbour at dawn"
JOB = {"prompt": PROMPT, "duration_s": 6, "aspect": "1:1", "providers": {"narration": "elevenlabs"}}
KEY = f"xi-user-{secrets.token_hex(8)}"


@pytest.fixture
def fake(api, user):
    """The fake ElevenLabs, with the user's key for it stored (BYOK, its base_url the fake)."""
    with FakeElevenLabs(api_key=KEY) as server:
        stored = api.call(
            "PUT",
            "/v1/provider-keys/elevenlabs",
            {"api_key": KEY, "base_url": server.base_url},
            token=user["token"],
        )
        assert stored.status_code == 200, stored.body
        assert KEY not in stored.body.decode() and stored.json["last4"] == KEY[-4:]
        yield server


def artifact(job_id: str, step: str, name: str) -> dict:
    return json.loads(storage.get_bytes(storage.artifact_key(job_id, step, name)))


def aligned_words(alignment: dict) -> list[list]:
    """[word, start, end] per space-separated word of the fake's alignment: the first
    character's start, the last one's end."""
    found, word = [], []
    rows = zip(
        alignment["characters"],
        alignment["character_start_times_seconds"],
        alignment["character_end_times_seconds"],
    )
    for char, start, end in [*rows, (" ", 0, 0)]:
        if char != " ":
            word.append((char, start, end))
        elif word:
            found.append(["".join(c for c, _, _ in word), word[0][1], word[-1][2]])
            word = []
    return found


def test_the_catalog_offers_elevenlabs_narration_and_its_voices(api, user):
    catalog = api.call("GET", "/v1/providers", token=user["token"]).json
    narration = next(item for item in catalog["items"] if item["step"] == "narration")
    assert {"name": "elevenlabs", "needs_key": True, "has_key": False} in narration["providers"]
    voices = {v["name"]: v for v in catalog["voices"]}
    assert voices["elevenlabs:rachel"] == {
        "name": "elevenlabs:rachel",
        "provider": "elevenlabs",
        "engine": "elevenlabs",
        "languages": ["*"],
        "default": False,
    }
    for voice, status in [("elevenlabs:george", 202), ("elevenlabs:AbCdEfGhIjKlMnOpQrSt", 202)]:
        assert api.submit(user, voice=voice).status_code == status
    refused = api.submit(user, voice="elevenlabs:nobody")
    assert refused.status_code == 422 and refused.json["error"]["code"] == "unknown_voice"
    missing = api.submit(user, providers={"narration": "elevenlabs"})
    assert missing.status_code == 422 and missing.json["error"]["code"] == "provider_key_missing"


def test_an_elevenlabs_job_gets_karaoke_captions_timed_by_the_alignment(api, user, workers, fake, caplog):
    caplog.set_level(logging.DEBUG)
    workers.start()
    job_id = api.submit_ok(user, JOB, voice="elevenlabs:rachel")
    assert wait_for_status(job_id, {"succeeded", "failed"}).status == "succeeded", workers.logs()

    sent = {c["body"]["text"]: c for c in fake.answered()}
    assert {c["voice_id"] for c in fake.calls()} == {"21m00Tcm4TlvDq8ikWAM"}
    assert {c["xi_api_key"] for c in fake.calls()} == {KEY}
    spoken = artifact(job_id, "image", "narration.json")
    assert len(spoken) == len(sent) == len(fake.calls())  # one paid call a scene
    concept = artifact(job_id, "concept", "concept.json")
    for scene, line in zip(concept["scenes"], spoken):
        assert line["timing"] == "alignment" and line["voice"] == "elevenlabs:rachel"
        expected = aligned_words(sent[scene["narration"]]["alignment"])
        assert [w[0] for w in line["words"]] == [w[0] for w in expected]
        assert [w[1:] for w in line["words"]] == [pytest.approx(w[1:], abs=1e-3) for w in expected]

    timed = artifact(job_id, "video", "words.json")  # what the karaoke captions are drawn from
    assert timed["timing"] == ["alignment"] * len(spoken) and timed["voice"] == "elevenlabs:rachel"
    assert [w["text"] for w in timed["words"]] == [w[0] for line in spoken for w in line["words"]]
    vtt = storage.get_bytes(storage.artifact_key(job_id, "video", "captions.vtt")).decode()
    second = timed["words"][1]  # each word's start is an inline timestamp of its cue
    assert f"<{words_mod.vtt_timestamp(second['start'])}>{second['text']}" in vtt

    job = api.call("GET", f"/v1/jobs/{job_id}", token=user["token"]).json
    assert any("word timings: alignment" in note for note in job["notes"])
    image_step = next(s for s in job["steps"] if s["name"] == "image")
    (usage,) = [u for u in image_step["usage"] if u["purpose"] == "narration"]
    assert (usage["provider"], usage["account"]) == ("elevenlabs", "own")  # the user's key: no credits
    assert usage["characters"] == sum(len(text) for text in sent)
    assert usage["cost_micros"] == usage["characters"] * 100  # what it cost them: $0.10 / 1 000
    assert KEY not in workers.logs() and KEY not in caplog.text  # the key is never logged
    assert all(KEY not in p.log.read_text() for p in workers.procs)


def test_a_429_storm_slows_the_job_down_without_failing_it(api, user, workers, fake):
    fake.script(SPEECH, *["429"] * 6)  # more than the retries of all three scenes together
    workers.start()
    job_id = api.submit_ok(user, JOB)
    assert wait_for_status(job_id, {"succeeded", "failed"}).status == "succeeded", workers.logs()
    assert len(fake.calls()) == 3 + 6 and len(fake.answered()) == 3
    assert Counter(c["body"]["text"] for c in fake.answered()).most_common(1)[0][1] == 1
    job = api.call("GET", f"/v1/jobs/{job_id}", token=user["token"]).json
    assert "narration: waited 6 s for ElevenLabs' rate limit" in job["notes"]
    assert artifact(job_id, "video", "words.json")["timing"] == ["alignment"] * 3


def test_a_killed_workers_replacement_asks_only_for_the_scenes_it_lacks(api, user, workers, fake):
    fake.script(SPEECH, "ok", "ok", "slow")  # the third line is still being spoken when the worker dies
    first = workers.start()
    job_id = api.submit_ok(user, JOB)
    fake.wait_for_calls(3)

    def kept(record: dict) -> bool:
        body = record["body"]
        ask = {**body, "voice_id": record["voice_id"], "output_format": elevenlabs.OUTPUT_FORMAT}
        call = Call("elevenlabs", body["model_id"], elevenlabs.ENDPOINT, ask)
        return storage.exists(storage.artifact_key(job_id, call_cache.FOLDER, call.key()))

    wait_until(  # S3 state, no event to await: the two spoken lines kept before the kill
        lambda: len(fake.answered()) == 2 and all(kept(c) for c in fake.answered()), 30, "two lines kept"
    )
    workers.kill(first)
    workers.start()

    assert wait_for_status(job_id, {"succeeded", "failed"}).status == "succeeded", workers.logs()
    answered = Counter(c["body"]["text"] for c in fake.answered())
    assert len(fake.calls()) == 4 and len(answered) == 3 and set(answered.values()) == {1}
    (held,) = [c for c in fake.calls() if c.get("status") is None]
    assert answered[held["body"]["text"]] == 1  # the line the dead worker never got: asked again, once
    job = api.call("GET", f"/v1/jobs/{job_id}", token=user["token"]).json
    image_step = next(s for s in job["steps"] if s["name"] == "image")
    (usage,) = [u for u in image_step["usage"] if u["purpose"] == "narration"]
    assert usage["characters"] == sum(len(text) for text in answered)  # each line counted once


# ---- the worker's chain, in process ----------------------------------------------------------
def narration_task(user: dict, tmp_path, plan: str = "free", **request) -> provider_chain.Task:
    concept = write_concept(PROMPT, 6)
    return provider_chain.Task(
        request={**JOB, "style": None, **request},
        user_id=user["user"]["id"],
        plan=plan,
        claim=lambda upper: None,
        concept=concept,
        paths=[tmp_path / f"narration-{s.index}.wav" for s in concept.scenes],
    )


@pytest.mark.parametrize("behaviour", ["malformed", "huge"])
def test_audio_that_is_not_audio_or_too_big_falls_back_with_a_note(
    api, user, fake, tmp_path, monkeypatch, behaviour
):
    monkeypatch.setattr(get_settings(), "provider_max_response_bytes", 4 * 1024 * 1024)
    fake.script(SPEECH, behaviour)
    outcome = provider_chain.run("narration", narration_task(user, tmp_path))
    assert outcome.provider == "offline" and len(outcome.value) == 3
    assert any("narration: elevenlabs failed (provider_bad_output" in note for note in outcome.notes)
    assert any(note == "narration: made by offline" for note in outcome.notes)


def test_a_rejected_key_stops_the_job_and_is_never_logged(api, user, fake, tmp_path, caplog):
    caplog.set_level(logging.DEBUG)
    fake.api_key = "xi-a-different-key-000"
    fake.error_detail = f" ({KEY})"  # a server that echoes what it was sent
    with pytest.raises(Exception) as caught:
        provider_chain.run("narration", narration_task(user, tmp_path))
    assert getattr(caught.value, "code", None) == "provider_key_rejected"
    assert KEY not in str(caught.value) and KEY not in caplog.text


@pytest.fixture
def platform_elevenlabs(monkeypatch):
    """The operator's ElevenLabs account: the fake behind a secret of this test's own."""
    key, prefix = f"xi-platform-{secrets.token_hex(8)}", f"test-{secrets.token_hex(4)}/platform/"
    monkeypatch.setattr(get_settings(), "platform_providers", ["elevenlabs"])
    monkeypatch.setattr(get_settings(), "platform_secret_prefix", prefix)
    sm = aws.client("secretsmanager")
    with FakeElevenLabs(api_key=key) as server:
        sm.create_secret(
            Name=f"{prefix}elevenlabs", SecretString=json.dumps({"api_key": key, "base_url": server.base_url})
        )
        platform_accounts.forget()
        server.key = key
        yield server
        sm.delete_secret(SecretId=f"{prefix}elevenlabs", ForceDeleteWithoutRecovery=True)
        platform_accounts.forget()


def test_the_business_plan_narrates_on_the_platforms_elevenlabs_account(api, platform_elevenlabs, tmp_path):
    user = api.signup()
    grant_plan(user["user"]["id"], "business")
    job = {key: value for key, value in JOB.items() if key != "providers"}
    steps = api.call("POST", "/v1/jobs/estimate", job, token=user["token"]).json["steps"]
    (planned,) = [s for s in steps if s["purpose"] == "narration"]
    assert (planned["provider"], planned["account"]) == ("elevenlabs", "platform")
    assert planned["model"] == "eleven_multilingual_v2" and planned["cost_micros"] > 0

    task = narration_task(user, tmp_path, plan="business", providers={})
    outcome = provider_chain.run("narration", task)
    assert outcome.provider == "elevenlabs" and outcome.notes == []
    (usage,) = outcome.usage
    characters = sum(len(s.narration) for s in task.written_concept().scenes)
    assert (usage.account, usage.model, usage.characters) == (
        "platform",
        "eleven_multilingual_v2",
        characters,
    )
    assert usage.cost_micros == characters * 100  # $0.10 per 1 000 characters
    assert usage.cost_micros <= planned["cost_micros"]  # within what the estimate reserved
    assert {c["xi_api_key"] for c in platform_elevenlabs.calls()} == {platform_elevenlabs.key}
