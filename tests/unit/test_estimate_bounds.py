"""The estimate's bounds (chalicelib.billing.estimate) are upper bounds of what the worker's calls
can be billed: the concept with its repair, in the worst case of one token per byte."""

from __future__ import annotations

import json

from chalicelib.billing import estimate, prices
from chalicelib.http.schemas.jobs import StepUsage
from chalicelib.pipeline.concept.storyboard import scene_durations
from chalicelib.pipeline.errors import ProviderError
from chalicelib.pipeline.providers import Choice
from chalicelib.pipeline.remote import openai_steps

CHAT_FORMAT_TOKENS = 4  # per message (role, separators), and 3 to prime the answer: tiktoken's count


class Answer:
    def __init__(self, content: str):
        self.content = json.dumps(
            {"choices": [{"message": {"content": content}}], "usage": {"prompt_tokens": 1}}
        ).encode()

    def json(self) -> dict:
        return json.loads(self.content)


class Recorder:
    """An OpenAI client whose every answer is a concept that fails validation five ways."""

    def __init__(self) -> None:
        self.bodies: list[dict] = []

    def post(self, path: str, body: dict, idempotency_key: str | None = None) -> Answer:
        self.bodies.append(json.loads(json.dumps(body)))
        bad = {"title": "", "scenes": [{"narration": "é" * 500, "visual": ""}] * 3, "hashtags": 1}
        return Answer(json.dumps(bad))


def _prompt_tokens_at_most(body: dict) -> int:
    return sum(len(m["content"].encode()) + CHAT_FORMAT_TOKENS for m in body["messages"]) + 3


def test_the_concept_bound_covers_both_attempts_of_a_non_ascii_prompt_at_a_token_a_byte():
    request = {
        "prompt": "灯台の物語 🌊" * 250,  # 2000 characters, ~6000 bytes
        "style": "水彩画 🎨" * 33,
        "duration_s": 60,
        "language": "ja",
    }
    client = Recorder()
    try:
        openai_steps.write_concept(client, request, "gpt-4o")
    except ProviderError as exc:
        assert exc.code == "provider_bad_output"
    assert len(client.bodies) == estimate.CONCEPT_ATTEMPTS
    worst = StepUsage(
        purpose="concept",
        provider="openai",
        model="gpt-4o",
        tokens_in=sum(map(_prompt_tokens_at_most, client.bodies)),
        tokens_out=sum(b["max_tokens"] for b in client.bodies),
    )
    bound = estimate.bound(
        "concept",
        Choice("openai", "platform", model="gpt-4o"),
        request=request,
        scenes=len(scene_durations(60)),
        narration_chars=0,
        seconds=60,
    )
    assert bound is not None and prices.cost_micros(worst) <= bound


def test_the_repair_quotes_at_most_its_share_of_the_problem():
    client = Recorder()
    try:
        openai_steps.write_concept(client, {"prompt": "x", "duration_s": 15}, "gpt-4o-mini")
    except ProviderError:
        pass
    first, second = client.bodies
    repair = second["messages"][len(first["messages"]) :]
    assert len(repair) == 1
    assert len(repair[0]["content"].encode()) + CHAT_FORMAT_TOKENS <= estimate.CONCEPT_REPAIR_TOKENS


def test_a_replicate_image_is_bounded_and_priced_per_image_of_its_model():
    for model, each in [(None, 3_000), ("black-forest-labs/flux-dev", 25_000)]:
        choice = Choice("replicate", "platform", model=model)
        upper = estimate.bound(
            "image", choice, request={"aspect": "9:16"}, scenes=4, narration_chars=0, seconds=0
        )
        made = StepUsage(
            purpose="image", provider="replicate", model=model or "black-forest-labs/flux-schnell"
        )
        made.images = 4
        assert upper == prices.cost_micros(made) == 4 * each
    unpriced = Choice("replicate", "platform", model="someone/unpriced-model")
    assert estimate.bound("image", unpriced, request={}, scenes=1, narration_chars=0, seconds=0) is None


def test_replicate_clips_are_bounded_at_the_longest_clip_per_scene_of_the_video_model():
    choice = Choice("replicate", "platform")  # no model named: REPLICATE_VIDEO_MODEL (Kling v2.1)
    upper = estimate.bound(
        "video", choice, request={"aspect": "9:16"}, scenes=3, narration_chars=0, seconds=9
    )
    made = StepUsage(purpose="video", provider="replicate", model="kwaivgi/kling-v2.1", video_s=3 * 10)
    assert upper == prices.cost_micros(made) == 3 * estimate.MAX_CLIP_S * 50_000
    unpriced = Choice("replicate", "platform", model="someone/unpriced-video-model")
    assert estimate.bound("video", unpriced, request={}, scenes=1, narration_chars=0, seconds=0) is None
