"""Which provider makes each step's artifact. Offline providers need no key and no network."""
from __future__ import annotations

# step -> provider names available for it; the first is the default.
AVAILABLE: dict[str, tuple[str, ...]] = {
    "concept": ("offline",),
    "image": ("offline",),
    "narration": ("offline",),
    "video": ("offline",),
}


# Providers that take the user's own key (BYOK), and their default endpoint. "openai" speaks the
# OpenAI API; with a base_url it reaches any compatible server (Ollama, vLLM, LM Studio).
KEYED_PROVIDERS: dict[str, str] = {"openai": "https://api.openai.com/v1"}


def unknown_providers(choice: dict[str, str]) -> dict[str, str]:
    """The (step -> name) pairs of `choice` that name no available provider."""
    return {step: name for step, name in choice.items() if name not in AVAILABLE.get(step, ())}


def chosen(request: dict, step: str) -> str:
    return (request.get("providers") or {}).get(step) or AVAILABLE[step][0]
