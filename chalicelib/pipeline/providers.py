"""Which provider makes each step's artifact: the catalog, safe to import in the API (no media
libraries here). The worker-side implementations and the provider chain are in `provider_chain.py`.

Offline providers need no key and no network. "openai" speaks the OpenAI API with the user's own
key (BYOK; with a base_url it reaches any compatible server: Ollama, vLLM, LM Studio) or on the
platform's account when the user's plan includes it (`choose`).
"pexels" finds stock footage for the image step with the user's Pexels key; "elevenlabs"
speaks the narration with word timings from its alignment (a user's key, or the platform's).
The providers themselves are registered in `registry.py` (plug-ins too).
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass, replace
from typing import Any, Literal

from chalicelib.core.settings import Settings, get_settings

OFFLINE = "offline"


def __getattr__(name: str):
    """AVAILABLE (step -> provider names) and KEYED_PROVIDERS (name -> default endpoint of those
    taking the user's own key), read from the registry (ours and installed plug-ins) on first use."""
    if name not in ("AVAILABLE", "KEYED_PROVIDERS"):
        raise AttributeError(name)
    from chalicelib.pipeline import registry

    if name == "AVAILABLE":
        return {purpose: tuple(table) for purpose, table in registry.providers().items()}
    return registry.keyed()


# Voices a job may name: name -> (provider, engine, languages). The offline default is piper's
# neural voice (its package ships the model); espeak-ng speaks every other language.
# "espeak-ng:<language>" picks one of espeak-ng's voices, e.g. "espeak-ng:fr".
OPENAI_VOICES = (
    "alloy",
    "ash",
    "ballad",
    "coral",
    "echo",
    "fable",
    "nova",
    "onyx",
    "sage",
    "shimmer",
    "verse",
)
# ElevenLabs' premade voices (in every account): "elevenlabs:<name>" -> voice id. Any other
# voice of the account (a cloned one) is "elevenlabs:<its 20-character voice id>".
ELEVENLABS_VOICES = {
    "elevenlabs:aria": "9BWtsMINqrJLrRacOk9x",
    "elevenlabs:roger": "CwhRBWXzGAHq8TQ4Fs17",
    "elevenlabs:sarah": "EXAVITQu4vr4xnSDxMaL",
    "elevenlabs:laura": "FGY2WhTYpPnrIDTdsKH5",
    "elevenlabs:charlie": "IKne3meq5aSn9XLyUdCD",
    "elevenlabs:george": "JBFqnCBsd6RMkjVDRZzb",
    "elevenlabs:callum": "N2lVS1w4EtoT3dr4eOWO",
    "elevenlabs:river": "SAz9YHcvj6GT2YYXdXww",
    "elevenlabs:alice": "Xb7hH8MSUJpSbSDYk0k2",
    "elevenlabs:bill": "pqHfZKP75CvOlQylNhV4",
    "elevenlabs:rachel": "21m00Tcm4TlvDq8ikWAM",
}
VOICES: dict[str, tuple[str, str, tuple[str, ...]]] = {
    "en_US-joe-medium": (OFFLINE, "piper", ("en",)),
    "espeak-ng": (OFFLINE, "espeak-ng", ("*",)),
    **{name: ("openai", "openai", ("*",)) for name in OPENAI_VOICES},
    **{name: ("elevenlabs", "elevenlabs", ("*",)) for name in ELEVENLABS_VOICES},
}
DEFAULT_VOICE = "en_US-joe-medium"
_ESPEAK_VOICE = re.compile(r"^espeak-ng:[a-z]{2,3}(-[a-z0-9]{2,8})*$")
ELEVENLABS_VOICE_ID = re.compile(r"^elevenlabs:([A-Za-z0-9]{20})$")


def known_voice(name: str) -> bool:
    return name in VOICES or bool(_ESPEAK_VOICE.match(name) or ELEVENLABS_VOICE_ID.match(name))


def voice_provider(voice: str | None) -> str:
    """The provider whose voice `voice` is (offline for piper's and espeak-ng's; "" for none)."""
    if voice and ELEVENLABS_VOICE_ID.match(voice):
        return "elevenlabs"
    return VOICES.get(voice or "", ("",))[0]


def unknown_providers(choice: dict[str, str]) -> dict[str, str]:
    """The (step -> name) pairs of `choice` that name no available provider."""
    available = __getattr__("AVAILABLE")
    return {step: name for step, name in choice.items() if name not in available.get(step, ())}


def missing_keys(choice: dict[str, str], stored: set[str]) -> dict[str, str]:
    """The (step -> name) pairs of `choice` whose provider needs a key the user has not stored."""
    return {
        step: name
        for step, name in choice.items()
        if name in __getattr__("KEYED_PROVIDERS") and name not in stored
    }


def check_settings(settings: Settings) -> None:
    """The pipeline's part of the settings: PIPELINE names a registered pipeline (a command one
    with its PIPELINE_COMMAND), DEFAULT_PROVIDERS available providers. The worker checks at start."""
    from chalicelib.pipeline import registry

    if settings.pipeline not in registry.pipelines():
        raise ValueError(f"unknown PIPELINE {settings.pipeline!r}; one of {sorted(registry.pipelines())}")
    if settings.pipeline == "command" and not settings.pipeline_command:
        raise ValueError("PIPELINE=command needs PIPELINE_COMMAND (a JSON list, the argv)")
    if unknown_providers(settings.default_providers):
        raise ValueError(f"unknown DEFAULT_PROVIDERS: {unknown_providers(settings.default_providers)}")


def defaults() -> dict[str, str]:
    """Per step, the provider used when a job names none (settings DEFAULT_PROVIDERS)."""
    settings = get_settings()
    if unknown_providers(settings.default_providers):
        raise ValueError(f"unknown DEFAULT_PROVIDERS: {unknown_providers(settings.default_providers)}")
    return {step: settings.default_providers.get(step, OFFLINE) for step in __getattr__("AVAILABLE")}


@dataclass(frozen=True)
class Choice:
    """One provider to try for a purpose, and whose account pays: the user's own key ("own"),
    the platform's ("platform": the plan includes it, with `model` and `quality`), or nobody's
    ("none": offline and plug-ins without a key)."""

    provider: str
    account: Literal["platform", "own", "none"]
    explicit: bool = False
    model: str | None = None
    quality: str | None = None


def choose(
    purpose: str,
    request: dict,
    tiers: Mapping[str, Any] | None = None,
    own: Collection[str] = (),
    platform: Collection[str] = (),
) -> list[Choice]:
    """The providers to try for `purpose`, in order, then offline: the job's own choice, else
    the provider of the voice it names (narration), what the plan includes (`tiers`: purpose ->
    AITier) and the configured default. A keyed provider runs on the user's key when they stored
    one (`own`), else on the platform's when the operator configured it (`platform`) and the plan
    includes the purpose: on the plan's model, or the provider's configured one when the job
    picked another provider (by name or voice). A keyed default without either is left out, an
    explicit choice without either fails at run (provider_key_missing)."""
    keyed = __getattr__("KEYED_PROVIDERS")
    tier = (tiers or {}).get(purpose)
    explicit = (request.get("providers") or {}).get(purpose)
    voiced = voice_provider(request.get("voice")) if purpose == "narration" else ""

    def account(name: str) -> Choice | None:
        if name not in keyed:
            return Choice(name, "none")
        if name in own:
            return Choice(name, "own")
        if tier is not None and name in platform:
            if tier.provider == name:
                return Choice(name, "platform", model=tier.model, quality=tier.quality)
            if name in (explicit, voiced):
                return Choice(name, "platform")
        return None

    if explicit:
        found = account(explicit)
        picked = [replace(found, explicit=True) if found else Choice(explicit, "own", explicit=True)]
    else:
        names = (
            ([voiced] if voiced in keyed else [])  # the voice the job names speaks, where it can
            + ([tier.provider] if tier is not None else [])
            + [defaults()[purpose]]
        )
        picked = [c for c in map(account, dict.fromkeys(names)) if c is not None]
    picked = [c for c in picked if c.provider != OFFLINE]
    return picked + [Choice(OFFLINE, "none")]


def image_size(model: str | None, aspect: str) -> str:
    """The generated image size closest to the aspect (dall-e-3 and gpt-image-1 differ)."""
    dalle = bool(model and model.startswith("dall-e"))
    tall, wide = ("1024x1792", "1792x1024") if dalle else ("1024x1536", "1536x1024")
    return {"9:16": tall, "16:9": wide}.get(aspect, "1024x1024")
