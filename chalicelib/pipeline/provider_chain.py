"""Runs one purpose (concept, image, narration) through its providers, worker side.

Every provider of a purpose has the same small interface: `(task, client) -> (value, usage)`,
where `client` is the keyed provider's client with the user's key or the platform's (None
offline) and usage one StepUsage record or a list (one per model called); providers are found
in the registry (registry.py: ours and installed plug-ins). The chain (providers.choose) is the
job's choice, else what its plan includes and the configured default, then offline. A platform
call is made only when it has a price and fits both what the job still holds in credits and the
daily ceilings; its cost is counted against them. A provider that still fails after its own
retries hands over to the next one, and the job gets a note saying so; only a rejected key of
the user's own stops the job (the user must fix it; an offline video would hide that it is bad).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from chalicelib.accounts import byok
from chalicelib.billing import ceilings, estimate, prices
from chalicelib.billing.plans import plan_named
from chalicelib.core.settings import get_settings
from chalicelib.http.schemas.jobs import StepUsage
from chalicelib.pipeline import breaker, platform_accounts, providers, registry
from chalicelib.pipeline.call_cache import CallCache
from chalicelib.pipeline.concept.offline import write_concept
from chalicelib.pipeline.concept.storyboard import Concept, Scene, scene_durations
from chalicelib.pipeline.errors import ProviderError, StepError
from chalicelib.pipeline.media import images, narration, scene_media
from chalicelib.pipeline.providers import Choice
from chalicelib.pipeline.remote import clips, fal, openai_steps, pexels
from chalicelib.pipeline.remote.openai_api import OpenAIClient
from chalicelib.uploads import image_limits

log = logging.getLogger(__name__)


@dataclass
class Task:
    """What a provider needs to do its part of a job."""

    request: dict
    user_id: str
    job_id: str = ""  # names the job's caches (stock footage, paid results: call_cache.py)
    concept: Concept | None = None
    paths: list[Path] = field(default_factory=list)  # one output file per scene
    reference: Path | None = None  # the user's reference image, if any
    on_progress: Callable[[int], None] = lambda percent: None
    keep: frozenset[int] = frozenset()  # scenes showing the user's own media
    notes: list[str] = field(default_factory=list)  # what a provider wants the user to know
    plan: str = "free"  # the plan the job was accepted on: what platform AI it includes
    claim: Callable[[int], int | None] = lambda upper: 0  # a platform call's go-ahead (Context.claim_credits)
    choice: Choice | None = None  # the provider being tried, its account, model and quality
    should_stop: Callable[[], bool] = lambda: False  # the job's cancel (Context.should_stop)

    def written_concept(self) -> Concept:
        """The job's concept: every step after `concept` (the step that writes it) has one."""
        if self.concept is None:
            raise RuntimeError("this step needs the job's concept, which the concept step writes")
        return self.concept

    def model(self, default: str) -> str:
        """The model to call: the plan's on the platform's account, else the configured one."""
        return (self.choice.model if self.choice and self.choice.model else None) or default

    def todo(self) -> list[tuple[Scene, Path]]:
        """(scene, output path) of the scenes a provider must make (not the user's own)."""
        return [(s, p) for s, p in zip(self.written_concept().scenes, self.paths) if s.index not in self.keep]


@dataclass
class Outcome:
    value: Any
    provider: str
    usage: list[StepUsage]  # one record per model called
    notes: list[str]


def offline_concept(task: Task, _client) -> tuple[Concept, StepUsage]:
    started, req = time.monotonic(), task.request
    result = write_concept(req["prompt"], req["duration_s"], req.get("style"), req.get("language", "en"))
    return result, StepUsage(
        purpose="concept",
        provider=providers.OFFLINE,
        bytes=len(result.model_dump_json()),
        wall_s=round(time.monotonic() - started, 3),
    )


def offline_images(task: Task, _client) -> tuple[None, StepUsage]:
    started, todo, aspect = time.monotonic(), task.todo(), task.request["aspect"]
    try:  # decoded once for all scenes, and only within the pixel limit
        backdrop = images.load_reference(task.reference, aspect) if task.reference else None
    except image_limits.ImageRejected as exc:
        raise StepError(
            exc.code, f"the reference image can't be used: {exc.message}", transient=False
        ) from None
    for i, (scene, path) in enumerate(todo):
        images.render_scene_image(
            task.written_concept(), scene, aspect, path, backdrop, task.request.get("style")
        )
        task.on_progress(100 * (i + 1) // len(todo))
    return None, StepUsage(
        purpose="image",
        provider=providers.OFFLINE,
        images=len(todo),
        bytes=sum(p.stat().st_size for _, p in todo),
        wall_s=round(time.monotonic() - started, 3),
    )


def offline_narration(task: Task, _client) -> tuple[list[narration.Narration], StepUsage]:
    started, req = time.monotonic(), task.request
    notes: list[str] = []
    spoken = [
        narration.synthesize(s.narration, path, req.get("voice"), req.get("language", "en"), notes)
        for s, path in zip(task.written_concept().scenes, task.paths)
    ]
    task.notes.extend(dict.fromkeys(notes))  # once each, however many lines hit it
    model = ",".join(dict.fromkeys(n.voice for n in spoken)) or None
    return spoken, StepUsage(
        purpose="narration",
        provider=providers.OFFLINE,
        model=model,
        characters=sum(len(s.narration) for s in task.written_concept().scenes),
        audio_s=round(sum(n.duration_s for n in spoken), 3),
        bytes=sum(n.path.stat().st_size for n in spoken),
        wall_s=round(time.monotonic() - started, 3),
    )


def openai_images(task: Task, client: OpenAIClient) -> tuple[None, StepUsage]:
    todo = task.todo()
    scenes = task.written_concept().model_copy(update={"scenes": [scene for scene, _ in todo]})
    usage = openai_steps.render_images(
        client,
        scenes,
        task.request["aspect"],
        task.request.get("style"),
        [path for _, path in todo],
        model=task.model(get_settings().openai_image_model),
        quality=task.choice.quality if task.choice else None,
        cache=CallCache(task.job_id),
    )
    task.on_progress(100)
    return None, usage


def fal_images(task: Task, client: fal.FalClient) -> tuple[None, StepUsage]:
    """Each scene's still generated on fal.ai (a FLUX model), scenes in parallel."""
    todo, made = task.todo(), [0]
    lock = threading.Lock()

    def done() -> None:
        with lock:
            made[0] += 1
            task.on_progress(100 * made[0] // len(todo))

    usage = fal.render_images(
        client,
        task.written_concept().model_copy(update={"scenes": [scene for scene, _ in todo]}),
        task.request["aspect"],
        task.request.get("style"),
        [path for _, path in todo],
        model=task.model(get_settings().fal_image_model),
        cache=CallCache(task.job_id),
        should_stop=task.should_stop,
        on_done=done,
    )
    if client.throttled:
        task.notes.append(f"image: fal asked us to slow down {client.throttled} times (429)")
    return None, usage


def fal_clips(task: Task, client: fal.FalClient) -> tuple[None, StepUsage]:
    """AI motion: each scene's still (task.paths) turned into a clip beside it (scene_media.
    clip_path) on fal.ai, scenes in parallel; a scene whose clip can't be made keeps its
    moving still, with a note. The clips are probed like the user's own."""
    todo = task.todo()
    usage = fal.render_clips(
        client,
        [scene for scene, _ in todo],
        task.request["aspect"],
        [path for _, path in todo],
        model=task.model(get_settings().fal_video_model),
        check=lambda clip: scene_media.clip_problem(clip, task.user_id),
        notes=task.notes,
        cache=CallCache(task.job_id),
        should_stop=task.should_stop,
        on_done=clips.counting(task.on_progress, len(todo)),
    )
    if client.throttled:
        task.notes.append(f"video: fal asked us to slow down {client.throttled} times (429)")
    return None, usage


def _check_stock(kind: str, target: Path, aspect: str, still: Path, user_id: str) -> None:
    """A fetched clip is probed against the user's plan; a photo is fitted to the scene's still
    within the pixel limit. What fails is removed and raised as a ProviderError."""
    if kind == "video":
        problem = scene_media.clip_problem(target, user_id)
    else:
        try:
            scene_media.fit_image(target, aspect, still)
            problem = None
        except image_limits.ImageRejected as exc:
            problem = exc.message
        except OSError:  # a truncated or corrupt image, found while decoding
            problem = "not an image we can read"
        target.unlink(missing_ok=True)
    if problem:
        target.unlink(missing_ok=True)
        raise ProviderError(
            "provider_bad_output", f"the Pexels {kind} is unusable: {problem}", transient=False
        )


def pexels_images(task: Task, client: pexels.PexelsClient) -> tuple[None, StepUsage]:
    """Per scene a Pexels clip, else a Pexels photo, else the offline still (with a note)."""
    started, todo, aspect = time.monotonic(), task.todo(), task.request["aspect"]
    fetched, clips, photos = 0, 0, 0
    for i, (scene, path) in enumerate(todo):
        words, problem = pexels.search_words(scene), None
        for kind, find, target in (
            ("video", pexels.video_for, scene_media.clip_path(path)),
            ("photo", pexels.photo_for, path.with_suffix(".jpg")),
        ):
            try:
                found = find(client, task.job_id, scene, aspect, target)
                if found is not None:  # the checks a user's own media gets, on what was fetched
                    _check_stock(kind, target, aspect, path, task.user_id)
            except ProviderError as exc:
                if exc.code == "provider_key_rejected":
                    raise
                found, problem = None, f"{exc.code}: {exc.message[:120]}"
            if found is None:
                continue
            fetched += found["fetched_bytes"]
            task.notes.append(f"image: scene {scene.index + 1}: {pexels.credit(kind, found)}")
            if kind == "video":
                clips += 1
            else:
                photos += 1
                task.notes.append(
                    f"image: scene {scene.index + 1} has no Pexels video for '{words}'"
                    + (f" ({problem})" if problem else "")
                    + "; a Pexels photo instead"
                )
            break
        else:
            images.render_scene_image(
                task.written_concept(), scene, aspect, path, task.reference, task.request.get("style")
            )
            task.notes.append(
                f"image: scene {scene.index + 1} has no Pexels video or photo for "
                f"'{words}'" + (f" ({problem})" if problem else "") + "; the offline still instead"
            )
        task.on_progress(100 * (i + 1) // len(todo))
    if client.waited_s:
        task.notes.append(f"image: waited {client.waited_s:.0f} s for Pexels' rate limit")
    return None, StepUsage(
        purpose="image",
        provider=pexels.PROVIDER,
        model="videos",
        images=clips + photos,
        bytes=fetched,
        wall_s=round(time.monotonic() - started, 3),
    )


def openai_concept(task: Task, client: OpenAIClient) -> tuple[Concept, StepUsage]:
    return openai_steps.write_concept(
        client, task.request, task.model(get_settings().openai_chat_model), cache=CallCache(task.job_id)
    )


def openai_narration(task: Task, client: OpenAIClient) -> tuple[list[narration.Narration], list[StepUsage]]:
    return openai_steps.synthesize_all(
        client,
        task.written_concept(),
        task.request.get("voice"),
        task.paths,
        task.request.get("language", "en"),
        model=task.model(get_settings().openai_speech_model),
        cache=CallCache(task.job_id),
        heard_share=estimate.TRANSCRIBED_SHARE if task.choice and task.choice.account == "platform" else None,
    )


def _client_for(choice: Choice, task: Task) -> Any:
    """The keyed provider's client on the account `choice` names; None when it cannot be used
    (an explicit choice without a key is the user's to fix: provider_key_missing)."""
    if choice.account == "platform":
        opened = platform_accounts.credential(choice.provider)
    else:
        opened = byok.open_key(task.user_id, choice.provider)
    if opened is None:
        if choice.explicit and choice.account == "own":
            raise ProviderError(
                "provider_key_missing",
                f"no {choice.provider} key is stored; add it with PUT /v1/provider-keys/{choice.provider}",
                transient=False,
            )
        return None
    key, base_url = opened
    client = registry.keyed_provider(choice.provider).make_client(key, base_url)
    if isinstance(client, OpenAIClient):  # ours over that protocol: the job's cancel ends its waits
        client.should_stop = task.should_stop
    return client


def _platform_refusal(purpose: str, choice: Choice, task: Task) -> str | None:
    """Why a platform call may not be made: no price, over the job's credits, or a ceiling."""
    if task.concept is None:  # the concept itself: its scenes are the request's
        scenes, chars, seconds = len(scene_durations(task.request["duration_s"])), 0, 0.0
    else:
        scenes = len(task.todo()) if purpose in ("image", "video") else len(task.concept.scenes)
        chars = sum(len(s.narration) for s in task.concept.scenes)
        seconds = sum(s.duration_s for s in task.concept.scenes)
    upper = estimate.bound(
        purpose, choice, request=task.request, scenes=scenes, narration_chars=chars, seconds=seconds
    )
    if upper is None:
        return f"{choice.provider} {choice.model} has no price"
    if (why := ceilings.refusal(choice.provider, task.user_id, upper)) is not None:
        return why
    left = task.claim(upper)
    if left is not None:
        return (
            f"the job's credits ({prices.dollars(left)} left) do not cover it (up to {prices.dollars(upper)})"
        )
    return None


def _priced(usage: StepUsage | list[StepUsage], choice: Choice) -> list[StepUsage]:
    """The call's usage records, each with its cost and whose account paid."""
    records = usage if isinstance(usage, list) else [usage]
    for record in records:
        record.account = choice.account
        record.cost_micros = (prices.cost_micros(record) or 0) if choice.account != "none" else 0
    return records


def run(purpose: str, task: Task, offline: Callable | None = None) -> Outcome:
    """The first provider of the chain that succeeds; ProviderError when none does. `offline`
    stands in for the registered offline provider (AI motion: keep the moving stills)."""
    notes: list[str] = []
    error: ProviderError | None = None
    for choice in providers.choose(
        purpose,
        task.request,
        plan_named(task.plan).ai,
        own=byok.stored(task.user_id),
        platform=get_settings().platform_providers,
    ):
        name, client = choice.provider, None
        if registry.provider(purpose, name).needs_key:
            if choice.account == "platform" and (why := _platform_refusal(purpose, choice, task)):
                notes.append(f"{purpose}: {name} on the platform's account skipped: {why}")
                continue
            client = _client_for(choice, task)
            if client is None:
                continue
            owner = task.user_id if choice.account == "own" else "platform"  # BYOK: per owner
            endpoint = breaker.endpoint_id(client.base_url, owner=owner)
            if breaker.is_open(name, endpoint):
                notes.append(f"{purpose}: {name} skipped, it failed repeatedly (circuit open)")
                continue
        task.choice = choice
        try:
            made = offline if offline is not None and name == providers.OFFLINE else None
            value, usage = (made or registry.provider(purpose, name).implementation())(task, client)
        except ProviderError as exc:
            # What the server said goes to the log only; the job gets our words (exc.message).
            log.warning(
                "provider %s failed for %s: %s: %s (%s)", name, purpose, exc.code, exc.message, exc.detail
            )
            if exc.code == "provider_key_rejected" and choice.account == "own":
                raise
            if (
                client is not None
                and exc.code in ("provider_unavailable", "provider_key_rejected")
                and breaker.record_failure(name, endpoint)
            ):
                log.warning("circuit opened for provider %s", name)
            notes.append(f"{purpose}: {name} failed ({exc.code}: {exc.message[:200]})")
            error = exc
            continue
        finally:
            task.choice = None
        if client is not None:
            breaker.record_success(name, endpoint)
        records = _priced(usage, choice)
        if choice.account == "platform":
            ceilings.add(name, task.user_id, sum(r.cost_micros for r in records))
        if notes:
            notes.append(f"{purpose}: made by {name}")
        return Outcome(value, name, records, notes + task.notes)
    raise error or ProviderError(
        "provider_unavailable", f"no provider could make the {purpose}", transient=True
    )
