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
    """a an and are as at be but by can could did do does for from has have how i in into is it
    its make me my of on or our show should that the their them then there these this to was we
    what when where which who why will with about video short clip create please your you explain
    tell us story were would than so very just also""".split()  # noqa: SIM905
)
# Other languages' function words and interrogatives, so key words are the content words.
STOPWORDS_BY_LANGUAGE = {
    "en": STOPWORDS,
    "fr": frozenset(
        """le la les un une des du de d l et ou en au aux ce cet cette ces qui que quoi quel quelle
        quels quelles pourquoi comment quand où est sont a ont il elle ils elles on se sa son ses
        leur leurs pour par avec sans dans sur sous plus très autant ne pas y vous nous je tu""".split()  # noqa: SIM905
    ),
    "es": frozenset(
        """el la los las un una unos unas de del al y o en con sin por para que qué quién cómo
        como cuándo dónde cuál porque es son está están se su sus lo le les mi tu muy más""".split()  # noqa: SIM905
    ),
    "de": frozenset(
        """der die das den dem des ein eine einen einem einer und oder in im am an auf aus mit von
        zu zum zur für über unter wie was warum wieso wann wo wer welche welcher ist sind hat
        haben es sie er wir ihr ich du sich nicht auch so sehr""".split()  # noqa: SIM905
    ),
}
TITLE_WORDS = 8  # a title longer than this is cut at a phrase boundary
# Where a title may end: before these words a phrase is complete ("... keeper | who ...").
TITLE_BREAK = frozenset("and but or while when as because so then that which who".split()) | frozenset(  # noqa: SIM905
    "with without during on in at by over under through across near from after before".split()  # noqa: SIM905
)
SMALL_WORDS = frozenset("a an the of in on at to and or for by with from as but".split())  # noqa: SIM905
CLAUSE_END = re.compile(r"[.;:!?,\u3002\uff01\uff1f\uff0c\u060c]+|\s[-\u2013\u2014]\s")


class Scene(Model):
    index: int
    narration: str = Field(description="one narration line, spoken and shown as the caption")
    visual: str = Field(description="what the scene's image shows")
    duration_s: float


class Concept(Model):
    title: str
    scenes: list[Scene]
    hashtags: list[str]


def key_words(prompt: str, limit: int = 8, language: str = "en") -> list[str]:
    """The prompt's content words in order of first appearance, without the language's stop
    words and interrogatives (English's for a language without a list) or repeats."""
    stop = STOPWORDS_BY_LANGUAGE.get(language.split("-")[0].lower(), STOPWORDS)
    words = re.findall(r"[^\W\d_][\w'-]*", prompt.lower())
    seen: list[str] = []
    for word in words:
        if word not in stop and word not in STOPWORDS and len(word) > 1 and word not in seen:
            seen.append(word)
    return seen[:limit] or words[:limit] or ["this idea"]


def phrase_title(text: str, language: str = "en") -> str:
    """A title that is a phrase of the text: its first clause, cut before a phrase boundary
    when long ("A lighthouse keeper discovers ...", never "Lighthouse Keeper Collects Lost"),
    in title case for English and with only its first letter raised elsewhere."""
    first = next((c.strip(" -\"'") for c in CLAUSE_END.split(" ".join(text.split())) if c.strip(" -\"'")), "")
    words = first.split()
    if len(words) == 1 and len(first) > 24:  # a script without spaces: characters, not words
        return first[:16]
    if len(words) > TITLE_WORDS:
        cut = max((i for i in range(3, TITLE_WORDS + 1) if words[i].lower() in TITLE_BREAK), default=0)
        words = words[: cut or TITLE_WORDS]
    while len(words) > 1 and words[-1].lower() in TITLE_BREAK | SMALL_WORDS:
        words.pop()  # never end on a dangling "the" or "and"
    if not words:
        return "Untitled"
    if language.split("-")[0].lower() != "en":
        return words[0][:1].upper() + words[0][1:] + "".join(" " + w for w in words[1:])
    return " ".join(
        w.lower() if i and w.lower() in SMALL_WORDS else w[:1].upper() + w[1:] for i, w in enumerate(words)
    )


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


def animated(motion: object, count: int) -> frozenset[int]:
    """The scenes (of `count`) a job's `motion` asks to animate: all for "ai", those marked "ai"
    in a per-scene list (scenes past the list are not), none for "none"."""
    if motion == "ai":
        return frozenset(range(count))
    if isinstance(motion, list):
        return frozenset(i for i, kind in enumerate(motion[:count]) if kind == "ai")
    return frozenset()
