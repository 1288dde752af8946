"""One registry of what the pipeline can run: providers (per purpose: concept, image,
narration, video) and pipelines (which steps a job runs). Ours are listed below; any installed
package adds its own through the entry-point group `media_orchestrator.plugins` (each entry a
Provider, a Pipeline, or a list of them), so a new provider is one module (docs/plugins.md).

Implementations are named "module:attribute" and imported on first use, so the API (which
only validates names) never loads Pillow, ffmpeg helpers or HTTP clients.
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import lru_cache
from importlib.metadata import entry_points
from typing import Any

log = logging.getLogger(__name__)

GROUP = "media_orchestrator.plugins"
PURPOSES = ("concept", "image", "narration", "video")


def _resolve(target: Any) -> Any:
    if not isinstance(target, str):
        return target
    module, _, attribute = target.partition(":")
    return getattr(importlib.import_module(module), attribute)


@dataclass(frozen=True)
class Provider:
    """Makes one purpose's artifact: `run(task, client) -> (value, StepUsage)`. A provider with
    a `base_url` uses the user's own key (BYOK) through `client(api_key, base_url)`, where the
    user may name another server; with `user_base_url` False they may not (`client(api_key)`:
    its endpoint is ours, and what it answers goes into renders with less checking)."""

    purpose: str
    name: str
    run: Callable | str
    base_url: str | None = None
    client: Callable | str | None = None
    user_base_url: bool = True

    @property
    def needs_key(self) -> bool:
        return self.base_url is not None

    def implementation(self) -> Callable:
        return _resolve(self.run)

    def make_client(self, api_key: str, base_url: str | None) -> Any:
        if not self.user_base_url:
            return _resolve(self.client)(api_key)  # a base_url stored before it was refused
        return _resolve(self.client)(api_key, base_url or self.base_url)


@dataclass(frozen=True)
class Pipeline:
    """A job's steps: step name -> `fn(ctx, done) -> artifact keys`, or None to skip it."""

    name: str
    steps: dict | str

    def step_functions(self) -> dict:
        return _resolve(self.steps)


_CHAIN = "chalicelib.pipeline.provider_chain"
OPENAI: dict[str, Any] = {
    "base_url": "https://api.openai.com/v1",
    "client": "chalicelib.pipeline.remote.openai_api:OpenAIClient",
}
BUILTIN: tuple[Provider | Pipeline, ...] = (
    Provider("concept", "offline", f"{_CHAIN}:offline_concept"),
    Provider("concept", "openai", f"{_CHAIN}:openai_concept", **OPENAI),
    Provider("image", "offline", f"{_CHAIN}:offline_images"),
    Provider("image", "openai", f"{_CHAIN}:openai_images", **OPENAI),
    Provider(
        "image",
        "pexels",
        f"{_CHAIN}:pexels_images",
        base_url="https://api.pexels.com",  # the default of settings.pexels_api_url
        client="chalicelib.pipeline.remote.pexels:PexelsClient",
        user_base_url=False,
    ),
    Provider(
        "image",
        "fal",
        f"{_CHAIN}:fal_images",
        base_url="https://queue.fal.run",
        client="chalicelib.pipeline.remote.fal:FalClient",
    ),
    Provider(
        "image",
        "replicate",
        "chalicelib.pipeline.remote.replicate:images",
        base_url="https://api.replicate.com",
        client="chalicelib.pipeline.remote.replicate:ReplicateClient",
    ),
    Provider("narration", "offline", f"{_CHAIN}:offline_narration"),
    Provider("narration", "openai", f"{_CHAIN}:openai_narration", **OPENAI),
    Provider(
        "narration",
        "elevenlabs",
        "chalicelib.pipeline.remote.elevenlabs:narrate",
        base_url="https://api.elevenlabs.io",
        client="chalicelib.pipeline.remote.elevenlabs:ElevenLabsClient",
    ),
    Provider("video", "offline", "chalicelib.pipeline.media.video:compose_video"),  # the render itself
    Provider(  # AI motion (`motion: ai`): a clip per scene, composed by the render above
        "video",
        "fal",
        f"{_CHAIN}:fal_clips",
        base_url="https://queue.fal.run",
        client="chalicelib.pipeline.remote.fal:FalClient",
    ),
    Provider(  # AI motion on Replicate: an image-to-video prediction per scene
        "video",
        "replicate",
        "chalicelib.pipeline.remote.replicate:clips",
        base_url="https://api.replicate.com",
        client="chalicelib.pipeline.remote.replicate:ReplicateClient",
    ),
    Pipeline("steps", "chalicelib.pipeline.pipelines:STEPS"),
    Pipeline("command", "chalicelib.pipeline.pipelines:COMMAND_STEPS"),
)


def _flatten(value: Any) -> Iterable[Provider | Pipeline]:
    if isinstance(value, (Provider, Pipeline)):
        yield value
    elif isinstance(value, (list, tuple)):
        for item in value:
            yield from _flatten(item)
    else:
        raise TypeError(f"not a Provider or Pipeline: {value!r}")


@lru_cache(maxsize=1)
def entries() -> tuple[Provider | Pipeline, ...]:
    """Ours, then the installed plug-ins'. A plug-in that fails to load is logged and left out
    (the product keeps working without it); one that reuses a name replaces ours."""
    found: list[Provider | Pipeline] = list(BUILTIN)
    for point in entry_points(group=GROUP):
        try:
            found.extend(_flatten(point.load()))
        except Exception:
            log.exception("plug-in %s (%s) could not be loaded", point.name, point.value)
    return tuple(found)


def reload() -> None:
    """Read the entry points again (after installing a plug-in; tests)."""
    entries.cache_clear()


def providers() -> dict[str, dict[str, Provider]]:
    """purpose -> provider name -> Provider, in registration order (offline first)."""
    table: dict[str, dict[str, Provider]] = {purpose: {} for purpose in PURPOSES}
    for entry in entries():
        if isinstance(entry, Provider) and entry.purpose in table:
            table[entry.purpose][entry.name] = entry
    return table


def provider(purpose: str, name: str) -> Provider:
    return providers()[purpose][name]


def keyed() -> dict[str, str]:
    """Provider name -> default endpoint, for the providers that take the user's own key."""
    return {
        p.name: p.base_url for table in providers().values() for p in table.values() if p.base_url is not None
    }


def keyed_provider(name: str) -> Provider:
    """The keyed provider of that name (its client and endpoint are the same for every purpose)."""
    return next(p for table in providers().values() for p in table.values() if p.name == name and p.needs_key)


def pipelines() -> dict[str, Pipeline]:
    return {e.name: e for e in entries() if isinstance(e, Pipeline)}
