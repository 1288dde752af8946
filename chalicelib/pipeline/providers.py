"""Which provider makes each step's artifact: the catalog, safe to import in the API (no media
libraries here). The worker-side implementations and the fallback chain are in `fallback.py`.

Offline providers need no key and no network. "openai" speaks the OpenAI API with the user's own
key (BYOK); with a base_url it reaches any compatible server (Ollama, vLLM, LM Studio).
"pexels" finds stock footage for the image step with the user's Pexels key.
"""
from __future__ import annotations

OFFLINE = "offline"

# step (or purpose inside a step) -> provider names available for it.
AVAILABLE: dict[str, tuple[str, ...]] = {
    "concept": (OFFLINE, "openai"),
    "image": (OFFLINE, "openai", "pexels"),
    "narration": (OFFLINE, "openai"),
    "video": (OFFLINE,),
}

# Providers that take the user's own key, and their default endpoint.
KEYED_PROVIDERS: dict[str, str] = {"openai": "https://api.openai.com/v1",
                                   "pexels": "https://api.pexels.com"}


def unknown_providers(choice: dict[str, str]) -> dict[str, str]:
    """The (step -> name) pairs of `choice` that name no available provider."""
    return {step: name for step, name in choice.items() if name not in AVAILABLE.get(step, ())}


def missing_keys(choice: dict[str, str], stored: set[str]) -> dict[str, str]:
    """The (step -> name) pairs of `choice` whose provider needs a key the user has not stored."""
    return {step: name for step, name in choice.items()
            if name in KEYED_PROVIDERS and name not in stored}


def defaults() -> dict[str, str]:
    """Per step, the provider used when a job names none (settings DEFAULT_PROVIDERS)."""
    from chalicelib.config import get_settings

    return {step: get_settings().default_providers.get(step, OFFLINE) for step in AVAILABLE}


def chain(request: dict, step: str) -> list[tuple[str, bool]]:
    """(provider, explicitly chosen) in the order to try them: the job's choice or the default,
    then offline as the fallback."""
    explicit = (request.get("providers") or {}).get(step)
    first = explicit or defaults()[step]
    return [(first, bool(explicit))] + ([(OFFLINE, False)] if first != OFFLINE else [])
