"""Word timings: when each word of a narration is spoken, and the files made from them.

Every engine ends here: piper's phoneme alignments, espeak-ng's word events, a transcription's
word timestamps, a per-character alignment (ElevenLabs), or a proportional estimate. Whatever the source, `settle` leaves every word
with a start and an end inside the audio, in script order, so captions, the ducking envelope,
`words.json`, `captions.srt` and `captions.vtt` all read one list.
"""

from __future__ import annotations

import difflib
import json
import math
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import asdict, dataclass

# Languages written without spaces between words: a "word" is a character (plus its punctuation).
NO_SPACE_LANGUAGES = frozenset({"zh", "ja", "th", "lo", "km", "my", "bo"})
MIN_WORD_S = 0.04  # a word shorter than one video frame could not be highlighted


class Timing:
    """How a narration's word times were found (recorded per narration and in words.json)."""

    PIPER = "piper-alignment"  # piper's per-phoneme sample counts
    ESPEAK = "espeak-events"  # espeak-ng's espeakEVENT_WORD callbacks
    TRANSCRIPTION = "transcription"  # the provider's word timestamps (OpenAI-compatible)
    ALIGNMENT = "alignment"  # the provider's per-character timestamps of the speech (ElevenLabs)
    ESTIMATE = "estimate"  # proportional to the words' lengths over the voiced audio


@dataclass
class Word:
    text: str
    start: float
    end: float


def base_language(language: str) -> str:
    return (language or "en").split("-")[0].split("_")[0].lower()


def joiner(language: str) -> str:
    """What goes between two words on screen."""
    return "" if base_language(language) in NO_SPACE_LANGUAGES else " "


def _is_punctuation(token: str) -> bool:
    return all(unicodedata.category(c)[0] in "PSZ" for c in token)


def tokenize(text: str, language: str = "en") -> list[str]:
    """The script's words as shown on screen: split at spaces (or per character in languages
    written without them); punctuation-only tokens stick to the word before them."""
    raw = list(text.replace(" ", "")) if joiner(language) == "" else text.split()
    words: list[str] = []
    pending = ""  # opening punctuation waits for the word it opens
    for token in raw:
        if token.isspace():
            continue
        if _is_punctuation(token):
            opening = unicodedata.category(token[-1]) in ("Ps", "Pi")
            if words and not opening:
                words[-1] += token
            else:
                pending += token
            continue
        words.append(pending + token)
        pending = ""
    return words


def weight(token: str) -> int:
    """Rough speaking weight of a word: its letters and digits (digits take longer to say)."""
    return max(1, sum(3 if c.isdigit() else 1 for c in token if c.isalnum()))


def spread(tokens: list[str], weights: Sequence[float], spans: list[tuple[float, float]]) -> list[Word]:
    """Tokens laid over a stream of sound units (`spans`, in order): word i takes the units
    its share of the total weight covers. Exact when every word has its own units (piper's
    phonemes per word), and still local when an engine merged or split words."""
    total, units = sum(weights) or 1.0, len(spans)
    words, done = [], 0.0
    for token, share in zip(tokens, weights):
        first = min(units - 1, int(round(done / total * units)))
        done += share
        last = max(first, min(units - 1, int(round(done / total * units)) - 1))
        words.append(Word(token, spans[first][0], spans[last][1]))
    return words


def estimate(tokens: list[str], start: float, end: float) -> list[Word]:
    """Proportional estimate over the voiced part of the audio [start, end]."""
    weights = [weight(t) for t in tokens]
    total, words, at = sum(weights) or 1, [], start
    for token, share in zip(tokens, weights):
        length = (end - start) * share / total
        words.append(Word(token, at, at + length))
        at += length
    return words


def _norm(text: str) -> str:
    return re.sub(r"\W+", "", text.lower())


def from_transcript(
    tokens: list[str], heard: list[tuple[str, float, float]], duration: float
) -> list[Word] | None:
    """Script words timed by a transcription's words: matched words take the heard times,
    the others are spread between their matched neighbours. None when too little matched."""
    if not tokens or not heard:
        return None
    matcher = difflib.SequenceMatcher(
        a=[_norm(t) for t in tokens], b=[_norm(h[0]) for h in heard], autojunk=False
    )
    times: list[tuple[float, float] | None] = [None] * len(tokens)
    for block in matcher.get_matching_blocks():
        for k in range(block.size):
            _, start, end = heard[block.b + k]
            times[block.a + k] = (start, end)
    if sum(t is not None for t in times) < max(1, len(tokens) // 2):
        return None
    words, i = [], 0
    while i < len(tokens):
        timed = times[i]
        if timed is not None:
            words.append(Word(tokens[i], *timed))
            i += 1
            continue
        j = i
        while j < len(tokens) and times[j] is None:
            j += 1
        left = words[-1].end if words else 0.0
        next_timed = times[j] if j < len(tokens) else None
        right = next_timed[0] if next_timed is not None else duration
        words += estimate(tokens[i:j], left, max(left, right))
        i = j
    return words


def from_alignment(
    tokens: list[str],
    characters: Sequence[str],
    starts: Sequence[float],
    ends: Sequence[float],
    duration: float,
    language: str = "en",
) -> list[Word] | None:
    """Script words timed by a per-character alignment of the speech: each run of characters
    between spaces (each character, in languages written without them) is heard from its first
    character's start to its last one's end, then matched to the script like a transcription's
    words. None when the alignment is not one (lengths differ, times not finite or backwards)
    or too little of it matches."""
    if not (len(characters) == len(starts) == len(ends)):
        return None
    if not all(math.isfinite(t) for t in (*starts, *ends)) or any(e < s for s, e in zip(starts, ends)):
        return None
    per_character = joiner(language) == ""
    heard: list[tuple[str, float, float]] = []
    text, start, end = "", 0.0, 0.0
    for char, char_start, char_end in zip(characters, starts, ends):
        if char.isspace() or (per_character and text):
            if _norm(text):
                heard.append((text, start, end))
            text = ""
        if char.isspace():
            continue
        if not text:
            start = char_start
        text, end = text + char, char_end
    if _norm(text):
        heard.append((text, start, end))
    return from_transcript(tokens, heard, duration)


def settle(words: list[Word], duration: float) -> list[Word]:
    """In order, inside [0, duration], each at least MIN_WORD_S long where the audio allows."""
    out: list[Word] = []
    floor = 0.0
    for k, word in enumerate(words):
        room = max(0.0, duration - floor)
        left = len(words) - k
        start = min(max(word.start, floor), max(floor, duration - left * min(MIN_WORD_S, room / left)))
        end = max(word.end, start + min(MIN_WORD_S, room / left))
        end = min(end, duration)
        out.append(Word(word.text, round(start, 3), round(max(start, end), 3)))
        floor = out[-1].end
    return out


def shifted(words: list[Word], offset: float, tempo: float, limit: float) -> list[Word]:
    """A narration's words placed in the video: started at `offset`, sped up by `tempo`,
    cut at `limit` (the end of its scene)."""
    out = []
    for word in words:
        start = min(offset + word.start / tempo, limit)
        out.append(
            Word(word.text, round(start, 3), round(min(max(start, offset + word.end / tempo), limit), 3))
        )
    return out


# ---- files ----------------------------------------------------------------------------------
def to_json(scenes: list[list[Word]], methods: list[str], language: str, voice: str | None) -> str:
    """words.json: every word with start/end in seconds of the video, and how it was timed."""
    return json.dumps(
        {
            "language": language,
            "voice": voice,
            "words": [{**asdict(w), "scene": k} for k, scene in enumerate(scenes) for w in scene],
            "timing": methods,
        },
        ensure_ascii=False,
        indent=1,
    )


def vtt_timestamp(seconds: float) -> str:
    ms = max(0, round(seconds * 1000))
    hours, ms = divmod(ms, 3_600_000)
    minutes, ms = divmod(ms, 60_000)
    secs, ms = divmod(ms, 1000)
    return f"{hours:02d}:{minutes:02d}:{secs:02d}.{ms:03d}"


def to_vtt(cues: list[tuple[float, float, list[Word]]], language: str) -> str:
    """WebVTT with a cue per phrase and each word's start as an inline timestamp, so players
    that support it can highlight word by word."""
    sep = joiner(language)
    blocks = ["WEBVTT", ""]
    for i, (start, end, words) in enumerate(cues, start=1):
        text = sep.join(
            (f"<{vtt_timestamp(w.start)}>" if k else "") + _vtt_escape(w.text) for k, w in enumerate(words)
        )
        blocks += [str(i), f"{vtt_timestamp(start)} --> {vtt_timestamp(end)}", text, ""]
    return "\n".join(blocks)


def _vtt_escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
