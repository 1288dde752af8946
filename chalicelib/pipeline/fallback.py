"""Runs one purpose (concept, image, narration) through its providers, worker side.

Every provider of a purpose has the same small interface: `(task, client) -> (value, usage)`,
where `client` is an OpenAIClient for keyed providers (None offline). The chain is the job's
choice (or the configured default), then offline. A provider that still fails after its own
retries hands over to the next one, and the job gets a note saying so; only a rejected key
stops the job (the user must fix it, and an offline video would hide that their key is bad).
"""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from chalicelib import provider_keys
from chalicelib.models import StepUsage
from chalicelib.pipeline import breaker, concept, images, narration, openai_steps, providers
from chalicelib.pipeline.errors import ProviderError
from chalicelib.pipeline.openai_api import OpenAIClient

log = logging.getLogger(__name__)


@dataclass
class Task:
    """What a provider needs to do its part of a job."""
    request: dict
    user_id: str
    concept: concept.Concept | None = None
    paths: list[Path] = field(default_factory=list)   # one output file per scene
    reference: Path | None = None                     # the user's reference image, if any
    on_progress: Callable[[int], None] = lambda percent: None


@dataclass
class Outcome:
    value: Any
    provider: str
    usage: StepUsage
    notes: list[str]


def _offline_concept(task: Task, _client) -> tuple[concept.Concept, StepUsage]:
    started, req = time.monotonic(), task.request
    result = concept.write_concept(req["prompt"], req["duration_s"], req.get("style"),
                                   req.get("language", "en"))
    return result, StepUsage(purpose="concept", provider=providers.OFFLINE,
                             bytes=len(result.model_dump_json()),
                             wall_s=round(time.monotonic() - started, 3))


def _offline_images(task: Task, _client) -> tuple[None, StepUsage]:
    started, scenes = time.monotonic(), task.concept.scenes
    for i, (scene, path) in enumerate(zip(scenes, task.paths)):
        images.render_scene_image(task.concept, scene, task.request["aspect"], path, task.reference)
        task.on_progress(100 * (i + 1) // len(scenes))
    return None, StepUsage(purpose="image", provider=providers.OFFLINE, images=len(scenes),
                           bytes=sum(p.stat().st_size for p in task.paths),
                           wall_s=round(time.monotonic() - started, 3))


def _offline_narration(task: Task, _client) -> tuple[list[narration.Narration], StepUsage]:
    started, req = time.monotonic(), task.request
    spoken = [narration.synthesize(s.narration, path, req.get("voice"), req.get("language", "en"))
              for s, path in zip(task.concept.scenes, task.paths)]
    return spoken, StepUsage(purpose="narration", provider=providers.OFFLINE, model="espeak-ng",
                             characters=sum(len(s.narration) for s in task.concept.scenes),
                             audio_s=round(sum(n.duration_s for n in spoken), 3),
                             bytes=sum(n.path.stat().st_size for n in spoken),
                             wall_s=round(time.monotonic() - started, 3))


def _openai_images(task: Task, client: OpenAIClient) -> tuple[None, StepUsage]:
    usage = openai_steps.render_images(client, task.concept, task.request["aspect"],
                                       task.request.get("style"), task.paths)
    task.on_progress(100)
    return None, usage


IMPLEMENTATIONS: dict[str, dict[str, Callable[[Task, OpenAIClient | None], tuple[Any, StepUsage]]]] = {
    "concept": {"offline": _offline_concept,
                "openai": lambda task, client: openai_steps.write_concept(client, task.request)},
    "image": {"offline": _offline_images, "openai": _openai_images},
    "narration": {"offline": _offline_narration,
                  "openai": lambda task, client: openai_steps.synthesize_all(
                      client, task.concept, task.request.get("voice"), task.paths)},
}


def _client_for(name: str, user_id: str, explicit: bool) -> OpenAIClient | None:
    """The client for a keyed provider with the user's key; None when they stored none and the
    provider is only a configured default (it applies only to users who stored that key)."""
    opened = provider_keys.open_key(user_id, name)
    if opened is None:
        if explicit:
            raise ProviderError("provider_key_missing", f"no {name} key is stored; add it with"
                                f" PUT /v1/provider-keys/{name}", transient=False)
        return None
    key, base_url = opened
    return OpenAIClient(key, base_url or providers.KEYED_PROVIDERS[name])


def run(purpose: str, task: Task) -> Outcome:
    """The first provider of the chain that succeeds; ProviderError when none does."""
    notes: list[str] = []
    error: ProviderError | None = None
    for name, explicit in providers.chain(task.request, purpose):
        client = None
        if name in providers.KEYED_PROVIDERS:
            client = _client_for(name, task.user_id, explicit)
            if client is None:
                continue
            endpoint = breaker.endpoint_id(client.base_url, owner=task.user_id)  # BYOK: per owner
            if breaker.is_open(name, endpoint):
                notes.append(f"{purpose}: {name} skipped, it failed repeatedly (circuit open)")
                continue
        try:
            value, usage = IMPLEMENTATIONS[purpose][name](task, client)
        except ProviderError as exc:
            if exc.code == "provider_key_rejected":
                raise
            if client is not None and exc.code == "provider_unavailable" and \
                    breaker.record_failure(name, endpoint):
                log.warning("circuit opened for provider %s", name)
            log.warning("provider %s failed for %s: %s", name, purpose, exc.code)
            notes.append(f"{purpose}: {name} failed ({exc.code}: {exc.message[:200]})")
            error = exc
            continue
        if client is not None:
            breaker.record_success(name, endpoint)
        if notes:
            notes.append(f"{purpose}: made by {name}")
        return Outcome(value, name, usage, notes)
    raise error or ProviderError("provider_unavailable", f"no provider could make the {purpose}",
                                 transient=True)
