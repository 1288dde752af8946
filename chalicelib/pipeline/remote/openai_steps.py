"""The "openai" provider of each step, over an OpenAI-compatible API with the user's key:
chat completions (concept), image generation (scene stills), speech (narration). Every paid
answer goes through the job's call cache (call_cache.py): a resumed job never buys it twice."""

from __future__ import annotations

import base64
import binascii
import json
import time
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from pathlib import Path
from typing import Any

from PIL import Image, ImageOps, UnidentifiedImageError
from pydantic import Field, ValidationError

from chalicelib.billing import estimate
from chalicelib.core.model_base import Model
from chalicelib.core.settings import get_settings
from chalicelib.http.schemas.jobs import StepUsage
from chalicelib.pipeline import providers
from chalicelib.pipeline.call_cache import NO_CACHE, Call, CallCache, Paid, digest_file
from chalicelib.pipeline.concept.storyboard import Concept, Scene, scene_durations
from chalicelib.pipeline.errors import ProviderError
from chalicelib.pipeline.media import ffmpeg, ffmpeg_inputs
from chalicelib.pipeline.media import words as words_mod
from chalicelib.pipeline.media.images import ASPECTS
from chalicelib.pipeline.media.narration import SAMPLE_RATE, Narration, wav_duration
from chalicelib.pipeline.media.words import Timing, Word
from chalicelib.pipeline.remote.openai_api import OpenAIClient
from chalicelib.uploads import image_limits

PROVIDER = "openai"
OPENAI_VOICES = frozenset(providers.OPENAI_VOICES)
PARALLEL_CALLS = 3  # image and speech requests in flight at once


class DraftScene(Model):
    narration: str = Field(min_length=1, max_length=400)
    visual: str = Field(min_length=1, max_length=600)


class ConceptDraft(Model):
    """What we ask the model for; timing and indexes are ours (see `scene_durations`)."""

    title: str = Field(min_length=1, max_length=200)
    scenes: list[DraftScene] = Field(min_length=1, max_length=60)
    hashtags: list[str] = Field(default_factory=list, max_length=20)


def _concept_messages(request: dict, count: int) -> list[dict]:
    language = request.get("language", "en")
    style = f" Visual style: {request['style']}." if request.get("style") else ""
    return [
        {
            "role": "system",
            "content": (
                "You write short narrated videos. Answer with one JSON object only: "
                '{"title": str, "scenes": [{"narration": str, "visual": str}], "hashtags": [str]}. '
                f"Write exactly {count} scenes. Each narration is one spoken sentence of at most "
                f"{int(request['duration_s'] / count * 2.2)} words in language '{language}'; each visual "
                "describes the scene's picture without any text in it."
            ),
        },
        {"role": "user", "content": f"Video idea: {request['prompt']}.{style}"},
    ]


def _draft(answer: dict) -> ConceptDraft:
    content = answer["choices"][0]["message"]["content"]
    return ConceptDraft.model_validate_json(content)


def _chat(client: OpenAIClient, body: dict, key: str | None) -> tuple[bytes, dict[str, float]]:
    response = client.post("chat/completions", body, idempotency_key=key)
    try:
        tokens = response.json().get("usage") or {}
        billed: dict[str, float] = {"tokens_in": int(tokens.get("prompt_tokens") or 0)}
        billed["tokens_out"] = int(tokens.get("completion_tokens") or 0)
    except (ValueError, TypeError, AttributeError):
        billed = {}
    return response.content, billed


def write_concept(
    client: OpenAIClient, request: dict, model: str | None = None, cache: CallCache = NO_CACHE
) -> tuple[Concept, StepUsage]:
    """Chat completion in JSON mode, validated; a malformed answer is retried once with the
    validation error in the prompt, then it is a `provider_bad_output`. Scene counts the model
    gets wrong are repaired by re-timing its scenes, not by asking again."""
    started, model = time.monotonic(), model or get_settings().openai_chat_model
    count = len(scene_durations(request["duration_s"]))
    messages = _concept_messages(request, count)
    usage = StepUsage(purpose="concept", provider=PROVIDER, model=model)
    problem = ""
    for _ in range(estimate.CONCEPT_ATTEMPTS):
        body: dict[str, Any] = {
            "model": model,
            "messages": messages,
            "temperature": 0.7,
            "max_tokens": estimate.concept_max_tokens(count),  # bounds the cost (billing.estimate)
            "response_format": {"type": "json_object"},
        }
        call = Call(PROVIDER, body["model"], "chat/completions", body)
        paid = cache.remember(call, partial(_chat, client, body))
        paid.add_to(usage)
        usage.bytes += len(paid.content)
        try:
            draft = _draft(json.loads(paid.content))
            break
        except (ValueError, KeyError, IndexError, TypeError, AttributeError) as exc:
            cache.forget(call)  # a retried job asks again
            problem = _short(exc)
            quoted = problem.encode("ascii", "backslashreplace")[: estimate.REPAIR_PROBLEM_MAX_BYTES]
            messages = messages + [
                {
                    "role": "user",
                    "content": (
                        f"Your previous answer was not valid: {quoted.decode()}. Answer again with only "
                        "the JSON object in the required shape."
                    ),
                }
            ]
    else:
        raise ProviderError(
            "provider_bad_output",
            "the model's concept was not valid JSON of the expected shape",
            transient=True,
            detail=problem,
        )
    durations = scene_durations(request["duration_s"], len(draft.scenes))
    scenes = [
        Scene(
            index=i,
            narration=_fit(s.narration.strip(), estimate.narration_cap(d)),
            visual=s.visual.strip(),
            duration_s=d,
        )
        for i, (s, d) in enumerate(zip(draft.scenes, durations))
    ]
    hashtags = [t if t.startswith("#") else f"#{t}" for t in draft.hashtags if t.strip()]
    usage.wall_s = round(time.monotonic() - started, 3)
    return Concept(title=draft.title.strip(), scenes=scenes, hashtags=hashtags), usage


def _fit(narration: str, cap: int) -> str:
    """A narration within `cap` characters (what the scene has time to say; it also bounds the
    speech's cost), cut at a word."""
    if len(narration) <= cap:
        return narration
    cut = narration[: cap + 1].rsplit(" ", 1)[0] if " " in narration[:cap] else narration[:cap]
    return cut[:cap].rstrip(" ,;:") or narration[:cap]


def _short(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        return "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors()[:5])
    return f"{type(exc).__name__}: {exc}"[:300]


def _unusable_image(why: str, exc: Exception) -> ProviderError:
    return ProviderError(
        "provider_bad_output", f"the image answer is unusable: {why}", transient=True, detail=_short(exc)
    )


def _generated_image(client: OpenAIClient, body: dict, key: str | None) -> tuple[bytes, dict[str, float]]:
    """The image's bytes (kept decoded: a third smaller than the answer's base64)."""
    response = client.post("images/generations", body, idempotency_key=key)
    try:
        return base64.b64decode(response.json()["data"][0]["b64_json"], validate=True), {"images": 1}
    except (ValueError, KeyError, IndexError, TypeError, binascii.Error) as exc:
        raise _unusable_image("not an image", exc) from None


def render_images(
    client: OpenAIClient,
    concept: Concept,
    aspect: str,
    style: str | None,
    paths: list[Path],
    model: str | None = None,
    quality: str | None = None,
    cache: CallCache = NO_CACHE,
) -> StepUsage:
    """One generated still per scene, scaled and centre-cropped to the aspect's exact size."""
    started, model = time.monotonic(), model or get_settings().openai_image_model
    variant = estimate.image_variant(model, aspect, quality)
    size, quality = variant.split(":")
    body = {"model": model, "n": 1, "size": size, "quality": quality}
    if model.startswith("dall-e"):
        body["response_format"] = "b64_json"  # gpt-image-1 always answers b64_json

    def one(scene: Scene, path: Path) -> Paid:
        prompt = f"{scene.visual}." + (f" Style: {style}." if style else "") + " No text or letters."
        request = {**body, "prompt": prompt}
        call = Call(PROVIDER, model, "images/generations", request)
        paid = cache.remember(call, partial(_generated_image, client, request))
        try:
            with image_limits.open_checked(paid.content) as image:  # bounded before it decodes
                fitted = ImageOps.fit(image.convert("RGB"), ASPECTS[aspect], Image.Resampling.LANCZOS)
        except (ValueError, UnidentifiedImageError, OSError) as exc:
            cache.forget(call)
            why = exc.message if isinstance(exc, image_limits.ImageRejected) else "not an image"
            raise _unusable_image(why, exc) from None
        path.parent.mkdir(parents=True, exist_ok=True)
        fitted.save(path, format="PNG", compress_level=1)
        return paid

    with ThreadPoolExecutor(PARALLEL_CALLS) as pool:
        results = list(pool.map(one, concept.scenes, paths))
    usage = StepUsage(purpose="image", provider=PROVIDER, model=model, variant=variant)
    for paid in results:
        paid.add_to(usage)
        usage.bytes += len(paid.content)
    usage.wall_s = round(time.monotonic() - started, 3)
    return usage


def to_wav(audio: bytes, path: Path) -> None:
    """WAV or MP3 -> mono 16-bit WAV at the narration rate, at most SPEECH_MAX_S long. The
    demuxer is chosen from the first bytes, never by ffmpeg's auto-detection, and the decoded
    output is capped in time and size (`-t`, `-fs`): the bytes come from the user's server, and
    8 kbps MP3 inflates ~44 times. A line that reaches the cap is refused, not cut short."""
    max_s = get_settings().speech_max_s
    fmt = ffmpeg_inputs.audio_format(audio[:16])
    result = (
        None
        if fmt is None
        else ffmpeg.run(
            ffmpeg.command(
                *ffmpeg_inputs.stdin_input(fmt),
                "-t",
                f"{max_s:g}",
                "-ac",
                "1",
                "-ar",
                str(SAMPLE_RATE),
                "-c:a",
                "pcm_s16le",
                "-map_metadata",
                "-1",
                "-fs",
                str(wav_bytes(max_s)),
                "-f",
                "wav",
                str(path),
                overwrite=True,
                loglevel="error",
            ),
            timeout_s=60,
            stdin=audio,
        )
    )
    if result is None or result.returncode != 0:
        path.unlink(missing_ok=True)
        raise ProviderError(
            "provider_bad_output", "the speech answer is not audio ffmpeg can read", transient=True
        )
    if wav_duration(path) >= max_s - 0.05:
        path.unlink()
        raise ProviderError(
            "provider_bad_output", f"the speech answer lasts {max_s:g} s or more", transient=False
        )


def wav_bytes(seconds: float) -> int:
    """The size of `seconds` of narration WAV (mono, 16-bit), its header included."""
    return int(seconds * SAMPLE_RATE) * 2 + 1024


def _transcription(
    client: OpenAIClient, form: dict, file: tuple, seconds: float, key: str | None
) -> tuple[bytes, dict[str, float]]:
    response = client.post("audio/transcriptions", form, files={"file": file}, idempotency_key=key)
    return response.content, {"audio_s": round(seconds, 3)}  # billed by the second heard


def word_times(
    client: OpenAIClient,
    path: Path,
    text: str,
    language: str,
    duration: float,
    cache: CallCache = NO_CACHE,
    hear: bool = True,
) -> tuple[list[Word], str]:
    """The script's words timed by an OpenAI-compatible transcription with word timestamps
    (the script goes along as the prompt, which steers recognition toward it); a proportional
    estimate when the server offers no such call, its words do not match the script, or the
    caller says not to `hear` it (a transcription that could pass the job's cost bound)."""
    tokens = words_mod.tokenize(text, language)
    settings = get_settings()
    form = {
        "model": settings.openai_transcription_model,
        "response_format": "verbose_json",
        "timestamp_granularities[]": "word",
        "language": words_mod.base_language(language),
        "prompt": text[:800],
    }
    heard: list[tuple[str, float, float]] = []
    if hear and path.stat().st_size <= settings.transcription_max_bytes:  # else: the estimate
        call = Call(PROVIDER, form["model"], "audio/transcriptions", {**form, "file": digest_file(path)})
        try:
            with path.open("rb") as wav:  # streamed from the file, never read whole
                paid = cache.remember(
                    call, partial(_transcription, client, form, (path.name, wav, "audio/wav"), duration)
                )
        except ProviderError:
            pass
        else:
            try:
                heard = [
                    (str(w["word"]), float(w["start"]), float(w["end"]))
                    for w in json.loads(paid.content).get("words") or []
                ]
            except (ValueError, KeyError, TypeError, AttributeError):
                heard = []
                cache.forget(call)
    timed = words_mod.from_transcript(tokens, heard, duration)
    if timed is not None:
        return words_mod.settle(timed, duration), Timing.TRANSCRIPTION
    return words_mod.settle(words_mod.estimate(tokens, 0.0, duration), duration), Timing.ESTIMATE


def _speech(client: OpenAIClient, body: dict, key: str | None) -> tuple[bytes, dict[str, float]]:
    response = client.post("audio/speech", body, idempotency_key=key)
    return response.content, {"characters": len(body["input"])}


def synthesize_all(
    client: OpenAIClient,
    concept: Concept,
    voice: str | None,
    paths: list[Path],
    language: str = "en",
    model: str | None = None,
    cache: CallCache = NO_CACHE,
    heard_share: float | None = None,
) -> tuple[list[Narration], list[StepUsage]]:
    """Per scene its speech and its words' timings; usage: the speech, then the transcription.
    With `heard_share` (the platform's account: billing.estimate's bound), a scene's speech
    longer than heard_share x the scene is not transcribed: its timings are estimated."""
    settings, started = get_settings(), time.monotonic()
    model = model or settings.openai_speech_model
    chosen = voice if voice in OPENAI_VOICES else settings.openai_voice

    def one(scene: Scene, path: Path) -> tuple[Narration, Paid, float]:
        body = {
            "model": model,
            "input": scene.narration,
            "voice": chosen,
            "response_format": "wav",
        }
        call = Call(PROVIDER, body["model"], "audio/speech", body)
        paid = cache.remember(call, partial(_speech, client, body))
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            to_wav(paid.content, path)
        except ProviderError:
            cache.forget(call)
            raise
        duration = wav_duration(path)
        # Within the cost bound only: speech far longer than its scene (a slow voice, a dense
        # script) would cost the platform more transcription than the job holds.
        hear = heard_share is None or duration <= heard_share * scene.duration_s
        timed, timing = word_times(client, path, scene.narration, language, duration, cache=cache, hear=hear)
        return (
            Narration(
                path=path,
                duration_s=duration,
                silent=False,
                words=timed,
                timing=timing,
                voice=f"openai:{chosen}",
            ),
            paid,
            duration if hear else 0.0,
        )

    with ThreadPoolExecutor(PARALLEL_CALLS) as pool:
        results = list(pool.map(one, concept.scenes, paths))
    narrations = [n for n, _, _ in results]
    spoken_s = round(sum(n.duration_s for n in narrations), 3)
    usage = StepUsage(purpose="narration", provider=PROVIDER, model=model, audio_s=spoken_s)
    for _, paid, _ in results:
        paid.add_to(usage)
        usage.bytes += len(paid.content)
    usage.wall_s = round(time.monotonic() - started, 3)
    # The word timings' transcriptions (one per scene, kept with the speech), priced apart.
    heard = StepUsage(
        purpose="narration",
        provider=PROVIDER,
        model=settings.openai_transcription_model,
        audio_s=round(sum(h for _, _, h in results), 3),
    )
    return narrations, [usage, heard]
