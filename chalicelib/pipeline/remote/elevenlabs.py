"""The "elevenlabs" narration provider: ElevenLabs' text to speech with timestamps
(`POST /v1/text-to-speech/{voice_id}/with-timestamps`, the key in `xi-api-key`), on the user's
own key or the platform's. Each scene is asked once, several at a time (ELEVENLABS_PARALLEL_CALLS),
its answer kept by the job's call cache (a resumed job never buys it twice); the MP3 is decoded
to the narration WAV with the caps every network speech gets, and the per-character alignment
times the script's words for the karaoke captions. ElevenLabs' 429 means "too many at once":
waited out (ELEVENLABS_RATE_LIMIT_WAIT_S per call), not counted as a failure.
"""

from __future__ import annotations

import base64
import binascii
import json
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import ValidationError

from chalicelib.core.model_base import Model
from chalicelib.core.settings import get_settings
from chalicelib.http.schemas.jobs import StepUsage
from chalicelib.infra import outbound
from chalicelib.pipeline import providers
from chalicelib.pipeline.call_cache import NO_CACHE, Call, CallCache, Paid
from chalicelib.pipeline.concept.storyboard import Concept
from chalicelib.pipeline.errors import ProviderError
from chalicelib.pipeline.media import words as words_mod
from chalicelib.pipeline.media.narration import Narration, wav_duration
from chalicelib.pipeline.media.words import Timing
from chalicelib.pipeline.remote.openai_api import OpenAIClient
from chalicelib.pipeline.remote.openai_steps import to_wav

if TYPE_CHECKING:
    from chalicelib.pipeline.provider_chain import Task

PROVIDER = "elevenlabs"
OUTPUT_FORMAT = "mp3_44100_128"  # ElevenLabs' default; decoded to the narration rate here
ENDPOINT = "text-to-speech/with-timestamps"  # names the call in the cache (the voice is in the ask)


@dataclass
class ElevenLabsClient(OpenAIClient):
    """ElevenLabs' JSON API: the OpenAI client's deadline, size cap, pinned address, retries and
    key redaction, with the key in `xi-api-key` and patience for its concurrency 429s."""

    rate_limit_patience_s: float = field(default_factory=lambda: get_settings().elevenlabs_rate_limit_wait_s)

    def auth_headers(self) -> dict[str, str]:
        return {"xi-api-key": self.api_key}

    def _raise_permanent(self, response: outbound.Reply, path: str) -> None:
        if response.status == 401 and _status(response) == "quota_exceeded":  # a 401, but the key is fine
            raise ProviderError(
                "provider_unavailable",
                "the ElevenLabs account has no characters left this month",
                transient=False,
                detail=self._text(response),
            )
        super()._raise_permanent(response, path)


def _status(response: outbound.Reply) -> str | None:
    """ElevenLabs' error kind (`detail.status`), if the answer says one."""
    try:
        detail = response.json().get("detail")
        return str(detail.get("status")) if isinstance(detail, dict) else None
    except (ValueError, AttributeError):
        return None


class _Alignment(Model):
    characters: list[str]
    character_start_times_seconds: list[float]
    character_end_times_seconds: list[float]


def voice_id(voice: str | None) -> tuple[str, str]:
    """(voice id, the name the job shows) for a job's `voice`: one of the premade voices, a
    voice id of the account ("elevenlabs:<id>"), else the configured default (ELEVENLABS_VOICE)."""
    if voice in providers.ELEVENLABS_VOICES:
        return providers.ELEVENLABS_VOICES[voice], voice
    found = providers.ELEVENLABS_VOICE_ID.match(voice or "")
    if found:
        return found[1], voice or ""
    default = get_settings().elevenlabs_voice
    return default, f"{PROVIDER}:{default}"


def _speech(
    client: ElevenLabsClient, voice: str, body: dict, _key: str | None
) -> tuple[bytes, dict[str, float]]:
    # ElevenLabs takes no Idempotency-Key: the call cache alone keeps a retry from paying twice
    response = client.post(f"v1/text-to-speech/{voice}/with-timestamps?output_format={OUTPUT_FORMAT}", body)
    return response.content, {"characters": len(body["text"])}


def _decoded(content: bytes, text: str) -> tuple[bytes, _Alignment | None]:
    """The answer's audio and its alignment (None when absent or not one: the words are then
    estimated). An answer without audio is the provider's failure."""
    try:
        answer = json.loads(content)
        audio = base64.b64decode(answer["audio_base64"], validate=True)
    except (ValueError, KeyError, TypeError, binascii.Error):
        raise ProviderError(
            "provider_bad_output", "the speech answer carries no audio", transient=True
        ) from None
    try:
        alignment = _Alignment.model_validate(answer.get("alignment"))
    except ValidationError:
        return audio, None
    if len(alignment.characters) > 4 * len(text) + 64:  # an alignment of something else
        return audio, None
    return audio, alignment


def synthesize_all(
    client: ElevenLabsClient,
    concept: Concept,
    voice: str | None,
    paths: list[Path],
    language: str = "en",
    model: str | None = None,
    cache: CallCache = NO_CACHE,
    notes: list[str] | None = None,
) -> tuple[list[Narration], StepUsage]:
    """Per scene its speech (previous and next lines sent along, for a continuous delivery)
    and its words timed by the alignment; one usage record, priced per character."""
    settings, started = get_settings(), time.monotonic()
    model = model or settings.elevenlabs_model
    voice_key, shown = voice_id(voice)
    scenes = concept.scenes

    def one(k: int) -> tuple[Narration, Paid]:
        scene, path = scenes[k], paths[k]
        body: dict = {"text": scene.narration, "model_id": model}
        if k > 0:
            body["previous_text"] = scenes[k - 1].narration
        if k + 1 < len(scenes):
            body["next_text"] = scenes[k + 1].narration
        call = Call(
            PROVIDER, model, ENDPOINT, {**body, "voice_id": voice_key, "output_format": OUTPUT_FORMAT}
        )
        paid = cache.remember(call, partial(_speech, client, voice_key, body))
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            audio, alignment = _decoded(paid.content, scene.narration)
            to_wav(audio, path)
        except ProviderError:
            cache.forget(call)  # unusable: a retried job asks again
            raise
        duration = wav_duration(path)
        tokens = words_mod.tokenize(scene.narration, language)
        timed = (
            words_mod.from_alignment(
                tokens,
                alignment.characters,
                alignment.character_start_times_seconds,
                alignment.character_end_times_seconds,
                duration,
                language,
            )
            if alignment is not None
            else None
        )
        timing = Timing.ALIGNMENT if timed is not None else Timing.ESTIMATE
        if timed is None:
            timed = words_mod.estimate(tokens, 0.0, duration)
        narration = Narration(
            path=path,
            duration_s=duration,
            silent=False,
            words=words_mod.settle(timed, duration),
            timing=timing,
            voice=shown,
        )
        return narration, paid

    with ThreadPoolExecutor(settings.elevenlabs_parallel_calls) as pool:
        results = list(pool.map(one, range(len(scenes))))
    narrations = [n for n, _ in results]
    usage = StepUsage(
        purpose="narration",
        provider=PROVIDER,
        model=model,
        audio_s=round(sum(n.duration_s for n in narrations), 3),
    )
    for _, paid in results:
        paid.add_to(usage)
        usage.bytes += len(paid.content)
    usage.wall_s = round(time.monotonic() - started, 3)
    if notes is not None:
        estimated = [str(n + 1) for n, item in enumerate(narrations) if item.timing != Timing.ALIGNMENT]
        if estimated:
            notes.append(
                f"narration: ElevenLabs sent no usable alignment for scenes {', '.join(estimated)};"
                " its word timings are estimated"
            )
        if client.waited_s:
            notes.append(f"narration: waited {client.waited_s:.0f} s for ElevenLabs' rate limit")
    return narrations, usage


def narrate(task: Task, client: ElevenLabsClient) -> tuple[list[Narration], StepUsage]:
    """The registered narration provider (registry.BUILTIN)."""
    return synthesize_all(
        client,
        task.written_concept(),
        task.request.get("voice"),
        task.paths,
        task.request.get("language", "en"),
        model=task.model(get_settings().elevenlabs_model),
        cache=CallCache(task.job_id),
        notes=task.notes,
    )
