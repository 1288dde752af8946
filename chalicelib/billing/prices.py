"""What provider calls cost: a dated price table (the defaults below, from the providers'
published prices; the PRICES setting overrides or adds models) and the exact cost of a usage
record in integer micro-dollars (1 USD = 1 000 000), rounded up per record.

Units, all in micro-dollars: `tokens_in` / `tokens_out` per million chat tokens, `characters`
per million characters of speech, `audio_s` per second of audio (speech recognition), `video_s`
per second of generated video, `image` per image by "size:quality" (or "*" for any).
A model missing from the table has no known price: a platform call to it is refused (the chain
falls back), so the operator never pays for something nobody priced.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pydantic import Field

from chalicelib.core.model_base import Model
from chalicelib.core.settings import Settings, get_settings

if TYPE_CHECKING:
    from chalicelib.http.schemas.jobs import StepUsage

PRICES_AS_OF = "2026-11-01"
MICROS = 1_000_000


class Price(Model):
    tokens_in: int = Field(0, ge=0, description="per million prompt tokens")
    tokens_out: int = Field(0, ge=0, description="per million completion tokens")
    characters: int = Field(0, ge=0, description="per million characters spoken")
    audio_s: int = Field(0, ge=0, description="per second of audio heard")
    video_s: int = Field(0, ge=0, description="per second of video made")
    image: dict[str, int] = Field(default_factory=dict, description='per image, by "size:quality"')


# provider/model -> price (OpenAI's list prices as of PRICES_AS_OF; Pexels is free; ElevenLabs' below).
DEFAULT_PRICES: dict[str, dict] = {
    "openai/gpt-4o-mini": {"tokens_in": 150_000, "tokens_out": 600_000},
    "openai/gpt-4o": {"tokens_in": 2_500_000, "tokens_out": 10_000_000},
    "openai/gpt-4.1-mini": {"tokens_in": 400_000, "tokens_out": 1_600_000},
    "openai/gpt-image-1": {
        "image": {
            "1024x1024:low": 11_000,
            "1024x1536:low": 16_000,
            "1536x1024:low": 16_000,
            "1024x1024:medium": 42_000,
            "1024x1536:medium": 63_000,
            "1536x1024:medium": 63_000,
            "1024x1024:high": 167_000,
            "1024x1536:high": 250_000,
            "1536x1024:high": 250_000,
        }
    },
    "openai/dall-e-3": {
        "image": {
            "1024x1024:standard": 40_000,
            "1024x1792:standard": 80_000,
            "1792x1024:standard": 80_000,
            "1024x1024:hd": 80_000,
            "1024x1792:hd": 120_000,
            "1792x1024:hd": 120_000,
        }
    },
    "openai/tts-1": {"characters": 15_000_000},
    "openai/tts-1-hd": {"characters": 30_000_000},
    "openai/gpt-4o-mini-tts": {"characters": 15_000_000},  # ~$0.015 a minute, priced per character
    "openai/whisper-1": {"audio_s": 100},  # $0.006 a minute
    "pexels/videos": {},
    "fal/fal-ai/flux/schnell": {"image": {"*": 3_000}},  # $0.003 a megapixel, ~1 MP an image
    "fal/fal-ai/flux/dev": {"image": {"*": 25_000}},
    "fal/fal-ai/kling-video/v2.1/standard/image-to-video": {"video_s": 56_000},  # $0.28 per 5 s
    # ElevenLabs' API list prices per character (elevenlabs.io/pricing/api, read 2026-06: $0.10 per
    # 1 000 characters for Multilingual v2 / v3, $0.05 for Flash and Turbo; the same on every plan).
    "elevenlabs/eleven_multilingual_v2": {"characters": 100_000_000},
    "elevenlabs/eleven_v3": {"characters": 100_000_000},
    "elevenlabs/eleven_turbo_v2_5": {"characters": 50_000_000},
    "elevenlabs/eleven_flash_v2_5": {"characters": 50_000_000},
    # Replicate's official FLUX models, per output image (replicate.com/pricing, read 2026-11).
    "replicate/black-forest-labs/flux-schnell": {"image": {"*": 3_000}},
    "replicate/black-forest-labs/flux-dev": {"image": {"*": 25_000}},
    "replicate/black-forest-labs/flux-1.1-pro": {"image": {"*": 40_000}},
    # Kling v2.1 on Replicate bills per second of output video: $0.05 a second in its "standard"
    # mode (720p, the mode we ask for), from the model's page replicate.com/kwaivgi/kling-v2.1
    # (as recalled 2026-12, not re-read: check it, PRICES overrides; "pro" is $0.09 a second).
    "replicate/kwaivgi/kling-v2.1": {"video_s": 50_000},
}


_built: tuple[Settings, dict[str, Price]] | None = None  # the table of the settings in force


def table() -> dict[str, Price]:
    """provider/model -> Price, with the PRICES overrides (checked: a bad entry fails loudly)."""
    global _built
    settings = get_settings()
    if _built is None or _built[0] is not settings:
        merged = {**DEFAULT_PRICES, **settings.prices}
        _built = (settings, {name: Price.model_validate(value) for name, value in merged.items()})
    return _built[1]


def price(provider: str, model: str | None) -> Price | None:
    return table().get(f"{provider}/{model}")


def _per_million(units: int, rate: int) -> int:
    return -(-units * rate // MICROS)  # rounded up: never under what the provider bills


def cost_micros(usage: StepUsage) -> int | None:
    """The cost of one usage record, or None when its model (or its image variant) has no price."""
    p = price(usage.provider, usage.model)
    if p is None:
        return None
    image = 0
    if usage.images:
        each = p.image.get(usage.variant or "", p.image.get("*"))
        if each is None and p.image:
            return None
        image = usage.images * (each or 0)
    return (
        _per_million(usage.tokens_in, p.tokens_in)
        + _per_million(usage.tokens_out, p.tokens_out)
        + _per_million(usage.characters, p.characters)
        + -(-round(usage.audio_s * 1000) * p.audio_s // 1000)
        + -(-round(usage.video_s * 1000) * p.video_s // 1000)
        + image
    )


def dollars(micros: int) -> str:
    """For people: "$0.0421" (four decimals, exact to the cent's hundredth)."""
    return f"${micros / MICROS:.4f}"
