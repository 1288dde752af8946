"""What every concept provider produces, and what the later steps read: a title, scenes and
hashtags. The offline writer (offline_concept.py), OpenAI (openai_steps.py), a user's own script
(script.py) and plug-ins all return these types; images, narration and the render consume them.
"""

from __future__ import annotations

import re

from pydantic import Field

from chalicelib.core.model_base import Model

SECONDS_PER_SCENE = 5.0
WORDS_PER_SECOND = 2.6  # speech rate for a length estimate before the narration exists

STOPWORDS = frozenset(
    [
        "a",
        "an",
        "and",
        "are",
        "as",
        "at",
        "be",
        "but",
        "by",
        "for",
        "from",
        "has",
        "have",
        "how",
        "i",
        "in",
        "into",
        "is",
        "it",
        "its",
        "make",
        "me",
        "my",
        "of",
        "on",
        "or",
        "our",
        "show",
        "that",
        "the",
        "their",
        "them",
        "then",
        "there",
        "these",
        "this",
        "to",
        "was",
        "we",
        "what",
        "when",
        "where",
        "which",
        "who",
        "why",
        "will",
        "with",
        "about",
        "video",
        "short",
        "clip",
        "create",
        "please",
        "your",
        "you",
        "explain",
        "tell",
        "us",
        "story",
    ]
)


class Scene(Model):
    index: int
    narration: str = Field(description="one narration line, spoken and shown as the caption")
    visual: str = Field(description="what the scene's image shows")
    duration_s: float


class Concept(Model):
    title: str
    scenes: list[Scene]
    hashtags: list[str]


def key_words(prompt: str, limit: int = 8) -> list[str]:
    """The prompt's content words in order of first appearance, without stopwords or repeats."""
    words = re.findall(r"[^\W\d_][\w'-]*", prompt.lower())
    seen: list[str] = []
    for word in words:
        if word not in STOPWORDS and len(word) > 1 and word not in seen:
            seen.append(word)
    return seen[:limit] or words[:limit] or ["this idea"]


def scene_durations(duration_s: int, count: int | None = None) -> list[float]:
    """`count` scenes (default ~5 s each, at least 3); millisecond values summing to duration_s."""
    count = count or max(3, round(duration_s / SECONDS_PER_SCENE))
    total_ms = int(round(duration_s * 1000))
    base, extra = divmod(total_ms, count)
    return [(base + (1 if i < extra else 0)) / 1000 for i in range(count)]


# Characters said per second, by script: CJK characters are about a syllable each (1000 Chinese
# characters take ~240 s), letters and digits of alphabetic scripts ~15 a second.
CJK_PER_SECOND = 4.2
LETTERS_PER_SECOND = 15.0
_CJK = re.compile(r"[\u1100-\u11ff\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff]")


def estimate_duration(text: str) -> float:
    """Roughly how long the text takes to say; before the narration exists (and for a silent one).
    By words and by characters, whichever is longer: words alone made `hello,hello,...` (one
    word) or a paragraph of Chinese (no spaces) a second long."""
    cjk = len(_CJK.findall(text))
    letters = sum(ch.isalnum() for ch in text) - cjk
    by_characters = cjk / CJK_PER_SECOND + letters / LETTERS_PER_SECOND
    by_words = len(_CJK.sub(" ", text).split()) / WORDS_PER_SECOND
    return max(1.0, round(max(by_words, by_characters), 2))
