"""The call cache's key: derived from what was asked, never from who asked (call_cache.py)."""

from __future__ import annotations

import json

from chalicelib.pipeline.call_cache import Call, Paid, idempotency_key
from chalicelib.pipeline.remote import openai_steps
from chalicelib.pipeline.remote.openai_api import OpenAIClient

BODY = {"model": "gpt-image-1", "n": 1, "size": "1024x1024", "prompt": "a lighthouse at dusk."}


def image_call(**changes) -> Call:
    return Call("openai", changes.pop("model", "gpt-image-1"), "images/generations", {**BODY, **changes})


def test_the_same_request_gets_the_same_key_whatever_the_order_of_its_fields():
    reordered = Call("openai", "gpt-image-1", "images/generations", dict(reversed(list(BODY.items()))))
    assert image_call().key() == reordered.key()
    assert len(image_call().key()) == 64 and int(image_call().key(), 16) >= 0  # sha256, hex


def test_a_different_model_prompt_size_endpoint_or_provider_is_a_different_key():
    keys = {
        image_call().key(),
        image_call(model="dall-e-3").key(),
        image_call(prompt="a lighthouse at dawn.").key(),
        image_call(size="1024x1536").key(),
        Call("openai", "gpt-image-1", "images/edits", BODY).key(),
        Call("other", "gpt-image-1", "images/generations", BODY).key(),
    }
    assert len(keys) == 6


def test_the_idempotency_key_is_stable_per_job_and_differs_across_jobs():
    call = image_call()
    assert idempotency_key("job_a", call) == idempotency_key("job_a", image_call())
    assert idempotency_key("job_a", call) != idempotency_key("job_b", call)
    assert idempotency_key("job_a", call) != call.key()


class Recorder:
    """Stands in for a job's cache: records the calls asked and answers them itself."""

    def __init__(self, answer: bytes):
        self.answer, self.calls = answer, []

    def remember(self, call: Call, ask) -> Paid:
        self.calls.append(call)
        return Paid(self.answer, {"tokens_in": 7, "tokens_out": 3}, reused=True)

    def forget(self, call: Call) -> None:
        raise AssertionError("a good answer is kept")


def test_the_concepts_call_is_what_was_asked_and_not_whose_key_asked_it():
    content = json.dumps({"title": "T", "scenes": [{"narration": "One.", "visual": "a boat"}]})
    answer = json.dumps({"choices": [{"message": {"content": content}}]}).encode()
    request = {"prompt": "a boat at sea", "duration_s": 15}
    recorded = []
    for key in ("sk-first-user-0000000000", "sk-second-user-111111111"):
        cache = Recorder(answer)
        concept, usage = openai_steps.write_concept(
            OpenAIClient(key, "http://127.0.0.1:9"), request, cache=cache
        )
        (call,) = cache.calls
        assert key not in json.dumps(call.request) and call.endpoint == "chat/completions"
        assert "a boat at sea" in json.dumps(call.request)
        recorded.append(call.key())
        # a reused answer counts its usage as a fresh one does
        assert concept.title == "T" and (usage.tokens_in, usage.tokens_out) == (7, 3)
    assert recorded[0] == recorded[1]
    openai_steps.write_concept(
        OpenAIClient("sk-x-0000000000", "http://127.0.0.1:9"), {**request, "prompt": "a cat"}, cache=cache
    )
    assert cache.calls[-1].key() != recorded[0]  # another prompt: another key
