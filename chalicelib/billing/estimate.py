"""Upper bounds of what a purpose's provider calls can cost, before they are made: the job's
estimate at submission (what its credits reservation holds) and the worker's check before each
platform call (a call that could pass what the job still holds is not made).

Bounds, per purpose: the concept is one chat completion and at most one repair (JSON mode),
each capped by `max_tokens`, its prompt at most one token per UTF-8 byte (byte-level BPE: no
token is shorter than a byte); images are one per scene made; speech is the narration's
characters, and the word timings a transcription of at most `TRANSCRIBED_SHARE` x each scene on
the platform's account (openai_steps.synthesize_all estimates the timings of longer speech).
A prompt's narration is written by the concept step, which keeps each scene within
`NARRATION_CHARS_PER_S` characters per second of the scene (see openai_steps.write_concept).
"""

from __future__ import annotations

from math import ceil

from chalicelib.billing import prices
from chalicelib.core.settings import get_settings
from chalicelib.http.schemas.jobs import StepUsage
from chalicelib.pipeline.providers import Choice, image_size

CONCEPT_ATTEMPTS = 2
CONCEPT_INSTRUCTIONS_TOKENS = 400  # our ~360 bytes of instructions and the chat format's tokens
CONCEPT_REPAIR_TOKENS = 420  # the repair message: ~100 bytes of ours, the problem, the format
REPAIR_PROBLEM_MAX_BYTES = 300  # the problem as the repair message quotes it (openai_steps)
NARRATION_CHARS_PER_S = 18
TRANSCRIBED_SHARE = 1.5
MAX_CLIP_S = 10  # the longest image-to-video clip asked for a scene (remote/clips.py clip_seconds)


def concept_max_tokens(scenes: int) -> int:
    """The completion cap of the concept call: title, hashtags, and per scene a narration and a visual."""
    return 120 + 160 * scenes


def concept_prompt_tokens(prompt: str, style: str | None) -> int:
    """The first attempt's prompt: at most one token per UTF-8 byte of what varies, plus the
    fixed instructions (a repair resends it with CONCEPT_REPAIR_TOKENS more)."""
    return CONCEPT_INSTRUCTIONS_TOKENS + len(prompt.encode()) + len((style or "").encode())


def narration_cap(scene_s: float) -> int:
    return ceil(scene_s * NARRATION_CHARS_PER_S)


def bound(
    purpose: str,
    choice: Choice,
    *,
    request: dict,
    scenes: int,
    narration_chars: int,
    seconds: float,
) -> int | None:
    """The most `purpose` can cost on `choice`'s provider and model (None: no price known)."""
    model = choice.model or _default_model(choice.provider, purpose)
    usages: list[StepUsage] = []
    if purpose == "concept":
        usages.append(
            StepUsage(
                purpose="concept",
                provider=choice.provider,
                model=model,
                tokens_in=CONCEPT_ATTEMPTS
                * concept_prompt_tokens(request.get("prompt", ""), request.get("style"))
                + (CONCEPT_ATTEMPTS - 1) * CONCEPT_REPAIR_TOKENS,
                tokens_out=CONCEPT_ATTEMPTS * concept_max_tokens(scenes),
            )
        )
    elif purpose == "image":
        usages.append(
            StepUsage(
                purpose="image",
                provider=choice.provider,
                model=model,
                images=scenes,
                variant=image_variant(model, request.get("aspect", "9:16"), choice.quality),
            )
        )
    elif purpose == "narration":
        usages.append(
            StepUsage(purpose="narration", provider=choice.provider, model=model, characters=narration_chars)
        )
        if choice.provider == "openai":  # word timings: one transcription of the speech
            usages.append(
                StepUsage(
                    purpose="narration",
                    provider=choice.provider,
                    model=get_settings().openai_transcription_model,
                    audio_s=round(seconds * TRANSCRIBED_SHARE, 3),
                )
            )
    elif purpose == "video":  # AI motion: at most one clip of the longest length per scene
        usages.append(
            StepUsage(purpose="video", provider=choice.provider, model=model, video_s=scenes * MAX_CLIP_S)
        )
    total = 0
    for usage in usages:
        cost = prices.cost_micros(usage)
        if cost is None:
            return None
        total += cost
    return total


def image_variant(model: str | None, aspect: str, quality: str | None) -> str:
    """What an image's price depends on besides the model: "size:quality"."""
    quality = quality or get_settings().openai_image_quality
    if model and model.startswith("dall-e") and quality not in ("standard", "hd"):
        quality = "standard"
    return f"{image_size(model, aspect)}:{quality}"


def _default_model(provider: str, purpose: str) -> str | None:
    settings = get_settings()
    if provider == "fal":
        return {"image": settings.fal_image_model, "video": settings.fal_video_model}.get(purpose)
    if provider == "replicate":
        return {"image": settings.replicate_image_model, "video": settings.replicate_video_model}.get(purpose)
    if provider != "openai":
        return {
            "pexels": "videos",
            "elevenlabs": settings.elevenlabs_model,
        }.get(provider)
    return {
        "concept": settings.openai_chat_model,
        "image": settings.openai_image_model,
        "narration": settings.openai_speech_model,
    }.get(purpose)
