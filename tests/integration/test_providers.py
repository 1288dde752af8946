"""Provider choice through the API, and fallback and the circuit breaker in the worker's code,
with real MySQL, Redis, KMS on the emulator, and a local fake OpenAI server."""

from __future__ import annotations

import secrets

import pytest

from chalicelib.core.settings import get_settings
from chalicelib.infra import redis_client, redis_keys
from chalicelib.pipeline import breaker, provider_chain
from chalicelib.pipeline.concept.offline import write_concept
from chalicelib.pipeline.errors import ProviderError
from tests.fakes.openai_server import FakeOpenAI

PROMPT = "A robot learns to paint the sea"


def store_key(api, user, fake: FakeOpenAI, key: str) -> None:
    response = api.call(
        "PUT", "/v1/provider-keys/openai", {"api_key": key, "base_url": fake.base_url}, token=user["token"]
    )
    assert response.status_code == 200, response.body


@pytest.fixture
def fast_failures(monkeypatch):
    """No in-call retries (their waits would only slow the tests) and a breaker that opens
    after two failures."""
    settings = get_settings()
    monkeypatch.setattr(settings, "provider_max_retries", 0)
    monkeypatch.setattr(settings, "provider_breaker_failures", 2)


def task(user, **providers) -> provider_chain.Task:
    request = {"prompt": PROMPT, "duration_s": 5, "aspect": "1:1", "providers": providers}
    return provider_chain.Task(request=request, user_id=user["user"]["id"])


def test_catalog_lists_providers_and_whether_the_caller_has_their_key(api, user):
    def catalog():
        response = api.call("GET", "/v1/providers", token=user["token"])
        assert response.status_code == 200
        return {item["step"]: item for item in response.json["items"]}

    before = catalog()
    assert set(before) == {"concept", "image", "narration", "video"}
    assert before["video"]["providers"] == [
        {"name": "offline", "needs_key": False, "has_key": True},
        {"name": "fal", "needs_key": True, "has_key": False},  # AI motion (motion: ai)
        {"name": "replicate", "needs_key": True, "has_key": False},
    ]
    assert {"name": "openai", "needs_key": True, "has_key": False} in before["concept"]["providers"]
    assert before["concept"]["default"] == "offline"
    api.call("PUT", "/v1/provider-keys/openai", {"api_key": "sk-catalog-12345678"}, token=user["token"])
    after = catalog()
    assert {"name": "openai", "needs_key": True, "has_key": True} in after["image"]["providers"]
    assert "sk-catalog" not in repr(after)


def test_choosing_a_keyed_provider_without_its_key_is_422(api, user):
    body = {"prompt": PROMPT, "providers": {"concept": "openai", "image": "offline"}}
    response = api.call("POST", "/v1/jobs", body, token=user["token"])
    assert response.status_code == 422
    assert response.json["error"]["code"] == "provider_key_missing"
    assert [d["field"] for d in response.json["error"]["details"]] == ["providers.concept"]
    api.call("PUT", "/v1/provider-keys/openai", {"api_key": "sk-now-stored-1234"}, token=user["token"])
    assert api.call("POST", "/v1/jobs", body, token=user["token"]).status_code == 202


def test_a_provider_that_keeps_failing_falls_back_to_offline(api, user, fast_failures):
    with FakeOpenAI() as fake:
        store_key(api, user, fake, "sk-fallback-123456")
        fake.script("chat/completions", "500")
        outcome = provider_chain.run("concept", task(user, concept="openai"))
    assert outcome.provider == "offline" and outcome.usage[0].provider == "offline"
    assert outcome.value.scenes and "robot" in outcome.value.scenes[0].narration.lower()
    assert any("openai failed (provider_unavailable" in note for note in outcome.notes)


def test_a_succeeding_provider_is_used_and_its_usage_recorded(api, user):
    with FakeOpenAI() as fake:
        store_key(api, user, fake, "sk-success-1234567")
        outcome = provider_chain.run("concept", task(user, concept="openai"))
    assert outcome.provider == "openai" and outcome.notes == []
    assert outcome.usage[0].tokens_in > 0 and outcome.usage[0].model == get_settings().openai_chat_model


@pytest.mark.usefixtures("redis_mode")
def test_the_breaker_skips_a_failing_endpoint_for_its_user_until_it_cools_down(api, user, fast_failures):
    with FakeOpenAI() as fake:
        store_key(api, user, fake, "sk-breaker-1234567")
        endpoint = breaker.endpoint_id(fake.base_url, owner=user["user"]["id"])
        fake.script("chat/completions", "500", "500")
        for _ in range(2):
            assert provider_chain.run("concept", task(user, concept="openai")).provider == "offline"
        assert breaker.is_open("openai", endpoint)
        calls = len(fake.calls("chat/completions"))
        skipped = provider_chain.run("concept", task(user, concept="openai"))
        assert len(fake.calls("chat/completions")) == calls  # not even tried
        assert skipped.provider == "offline" and any("circuit open" in n for n in skipped.notes)
        circuit = redis_keys.provider_open("openai", endpoint)
        assert 0 < redis_client.client().ttl(circuit) <= get_settings().provider_breaker_cooldown_s
        redis_client.client().delete(circuit)  # the cool-down is over
        assert provider_chain.run("concept", task(user, concept="openai")).provider == "openai"


@pytest.mark.usefixtures("redis_mode")
def test_one_users_429s_open_only_their_own_breaker(api, user, fast_failures):
    other = api.signup()
    with FakeOpenAI() as fake:  # the same endpoint, e.g. api.openai.com, with two users' keys
        store_key(api, user, fake, "sk-no-quota-left-12")
        store_key(api, other, fake, "sk-plenty-of-quota-34")
        fake.script("chat/completions", "429", "429")
        for _ in range(2):
            assert provider_chain.run("concept", task(user, concept="openai")).provider == "offline"
        assert breaker.is_open("openai", breaker.endpoint_id(fake.base_url, owner=user["user"]["id"]))
        assert not breaker.is_open("openai", breaker.endpoint_id(fake.base_url, owner=other["user"]["id"]))
        calls = len(fake.calls("chat/completions"))
        served = provider_chain.run("concept", task(other, concept="openai"))
        assert served.provider == "openai" and served.notes == []
        assert len(fake.calls("chat/completions")) == calls + 1
        assert fake.calls("chat/completions")[-1]["authorization"] == "Bearer sk-plenty-of-quota-34"
    for owner in (user, other):  # leave no open circuit behind
        redis_client.client().delete(
            redis_keys.provider_open("openai", breaker.endpoint_id(fake.base_url, owner=owner["user"]["id"]))
        )


def test_a_rejected_key_fails_instead_of_falling_back(api, user, tmp_path):
    images = task(user, image="openai")
    images.concept = write_concept(PROMPT, 5)
    images.paths = [tmp_path / f"{s.index}.png" for s in images.concept.scenes]
    with FakeOpenAI(api_key="sk-the-real-key-000") as fake:
        store_key(api, user, fake, "sk-a-wrong-key-111")
        with pytest.raises(ProviderError) as caught:
            provider_chain.run("image", images)
    assert caught.value.code == "provider_key_rejected" and not caught.value.transient
    assert "sk-a-wrong-key-111" not in caught.value.message


def test_a_keyed_default_applies_only_to_users_with_the_key(api, user, monkeypatch):
    monkeypatch.setattr(get_settings(), "default_providers", {"concept": "openai"})
    assert provider_chain.run("concept", task(user)).provider == "offline"
    with FakeOpenAI() as fake:
        store_key(api, user, fake, f"sk-default-{secrets.token_hex(4)}")
        assert provider_chain.run("concept", task(user)).provider == "openai"


def test_the_catalog_lists_voices_with_piper_as_the_default(api, user):
    voices = {v["name"]: v for v in api.call("GET", "/v1/providers", token=user["token"]).json["voices"]}
    assert voices["en_US-joe-medium"] == {
        "name": "en_US-joe-medium",
        "provider": "offline",
        "engine": "piper",
        "languages": ["en"],
        "default": True,
    }
    assert voices["espeak-ng"]["engine"] == "espeak-ng" and not voices["espeak-ng"]["default"]
    assert voices["nova"]["provider"] == "openai"


@pytest.mark.parametrize("voice", ["en_US-joe-medium", "espeak-ng", "espeak-ng:fr", "nova"])
def test_a_listed_voice_is_accepted(api, user, voice):
    body = {"prompt": PROMPT, "voice": voice}
    response = api.call("POST", "/v1/jobs", body, token=user["token"])
    assert response.status_code == 202 and response.json["request"]["voice"] == voice


@pytest.mark.parametrize("voice", ["en_US-nobody-high", "espeak-ng:", "Joe"])
def test_an_unknown_voice_is_422(api, user, voice):
    response = api.call("POST", "/v1/jobs", {"prompt": PROMPT, "voice": voice}, token=user["token"])
    assert response.status_code == 422
    assert response.json["error"]["code"] == "unknown_voice"
    assert [d["field"] for d in response.json["error"]["details"]] == ["voice"]
    assert api.call("GET", "/v1/jobs", token=user["token"]).json["items"] == []


def test_captions_narration_and_music_volume_are_part_of_the_request(api, user):
    accepted = api.call("POST", "/v1/jobs", {"prompt": PROMPT}, token=user["token"]).json["request"]
    assert (accepted["caption_style"], accepted["narration"], accepted["music_volume"]) == (
        "karaoke",
        True,
        0.35,
    )
    for bad in (
        {"caption_style": "bouncy"},
        {"music_volume": 1.5},
        {"music_volume": -0.1},
        {"narration": "maybe"},
    ):
        response = api.call("POST", "/v1/jobs", {"prompt": PROMPT, **bad}, token=user["token"])
        assert response.status_code == 422, bad
