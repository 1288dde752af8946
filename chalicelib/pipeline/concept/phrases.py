"""Just enough English grammar to narrate a prompt offline: clauses, their subject, verb and
object, and the prepositional phrases around them ("during a storm"). No tagger: a verb is the
word right before a determiner ("keeper *befriends* a curious octopus"), which holds for the
way people write video prompts; when no verb is found the whole clause is a noun phrase.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

DETERMINERS = frozenset(
    [
        "a",
        "an",
        "the",
        "his",
        "her",
        "their",
        "its",
        "our",
        "my",
        "your",
        "this",
        "that",
        "these",
        "those",
        "some",
        "two",
        "three",
        "four",
        "five",
        "every",
        "each",
    ]
)
PREPOSITIONS = frozenset(
    [
        "during",
        "with",
        "in",
        "on",
        "at",
        "under",
        "over",
        "across",
        "through",
        "into",
        "near",
        "beside",
        "around",
        "above",
        "below",
        "before",
        "after",
        "from",
        "inside",
        "outside",
        "along",
        "beyond",
        "among",
        "between",
        "toward",
        "towards",
        "without",
        "by",
        "to",
        "for",
        "about",
        "behind",
        "beneath",
    ]
)
NOT_VERBS = frozenset(["of", "to", "for", "and", "or", "not", "very"])
# A noun phrase ends before these ("the stars | can talk"): what follows is a clause of its own.
CLAUSE_WORDS = frozenset(
    ["can", "could", "will", "would", "is", "are", "was", "were", "that", "who", "which"]
)
# "Make a video about ...", "explain ...": what the user asks of us, not the topic. Making verbs
# count only with what is made ("make your coffee better" is the topic, an imperative).
INSTRUCTION = re.compile(
    r"^(?:please\s+)?(?:"
    r"(?:make|create|generate|write|render)(?:\s+(?:me|us))?(?:\s+(?:a|an))?\s+(?:short\s+)?"
    r"(?:video|clip|story|film|reel|short)"
    r"|(?:show|explain|tell)(?:\s+(?:me|us))?(?:\s+(?:a|an))?(?:\s+short)?"
    r"(?:\s+(?:video|clip|story|film|reel))?"
    r")(?:\s+(?:about|of|on))?\s+",
    re.IGNORECASE,
)
CLAUSE_BREAK = re.compile(r"[.;:!?]+|,|\s+(?:and then|then|while|but|as|when|and)\s+", re.IGNORECASE)


@dataclass
class Clause:
    subject: str  # "A lighthouse keeper" (or the whole noun phrase)
    verb: str = ""  # "befriends" ("" for a noun phrase)
    object: str = ""  # "a curious octopus"
    settings: list[str] = field(default_factory=list)  # ["during a storm"]

    @property
    def sentence(self) -> str:
        return " ".join(p for p in (self.subject, self.verb, self.object, *self.settings) if p)

    def nouns(self) -> list[str]:
        """The noun phrases, with "the" for things already introduced ("the curious octopus")."""
        phrases = [self.subject, self.object] + [s.split(" ", 1)[1] for s in self.settings if " " in s]
        return [definite(_head(p)) for p in phrases if _head(p)]


def _head(phrase: str) -> str:
    words = phrase.split()
    return " ".join(words[: next((i for i, w in enumerate(words) if w.lower() in CLAUSE_WORDS), len(words))])


def definite(phrase: str) -> str:
    """ "A curious octopus" -> "the curious octopus", "Two robots" -> "two robots"."""
    words = phrase.split()
    if len(words) > 1 and words[0].lower() == "top" and words[1].isdigit():
        return " ".join(["the", "top", *words[1:]])  # "top 5 facts" -> "the top 5 facts"
    if words and words[0].lower() in ("a", "an"):
        words[0] = "the"
    elif words and words[0].lower() in DETERMINERS:
        words[0] = words[0].lower()
    return " ".join(words)


def _split_settings(words: list[str], first: int = 1) -> tuple[list[str], list[str]]:
    """Words up to the first preposition (from index `first`), and the prepositional phrases."""
    cut = next((i for i, w in enumerate(words) if w.lower() in PREPOSITIONS and i >= first), len(words))
    settings: list[str] = []
    current: list[str] = []
    for word in words[cut:]:
        if word.lower() in PREPOSITIONS and current:
            settings.append(" ".join(current))
            current = []
        current.append(word)
    if current:
        settings.append(" ".join(current))
    return words[:cut], settings


def _is_verb(words: list[str], i: int) -> bool:
    """Before a determiner ("befriends a"), or a verb-looking word before a preposition after a
    noun ("magma rises through"), never a determiner or preposition itself."""
    word, after = words[i].lower(), words[i + 1].lower()
    before = words[i - 1].lower() if i else ""
    if word in DETERMINERS or word in PREPOSITIONS or word in NOT_VERBS:
        return False
    if after in DETERMINERS:
        return True
    return (
        after in PREPOSITIONS
        and i > 0
        and before not in DETERMINERS
        and not before.isdigit()  # "5 facts about": a count comes before a noun
        and word.endswith(("s", "ed", "ing"))
        and not word.endswith(("ous", "ss", "us", "is"))
    )


def parse_clause(text: str) -> Clause | None:
    """A clause starting with its verb ("finds a lost glove") gets an empty subject."""
    words = text.split()
    if not words:
        return None
    verb_at = next((i for i in range(len(words) - 1) if _is_verb(words, i)), None)
    if verb_at is None:
        head, settings = _split_settings(words)
        return Clause(subject=" ".join(head or words), settings=settings if head else [])
    rest, settings = _split_settings(words[verb_at + 1 :], first=0)
    return Clause(
        subject=" ".join(words[:verb_at]), verb=words[verb_at], object=" ".join(rest), settings=settings
    )


def clauses(prompt: str) -> list[Clause]:
    """The prompt's clauses in order; a clause without its own subject ("and sings a song")
    borrows the previous one's."""
    found: list[Clause] = []
    for part in CLAUSE_BREAK.split(INSTRUCTION.sub("", " ".join(prompt.split()))):
        clause = parse_clause(part.strip(" -\"'"))
        if clause is None:
            continue
        if found and not clause.verb and clause.subject.lower().split()[0] in PREPOSITIONS:
            found[-1].settings.append(clause.subject)  # ", during a storm"
            continue
        if not clause.subject:
            clause.subject = definite(found[-1].subject) if found else ""
        found.append(clause)
    return found
