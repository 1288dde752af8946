"""The concept step's offline provider: a prompt becomes a title, scenes and hashtags
(the types are in storyboard.py).

Deterministic (same input, same concept) and network-free, so retries reproduce the same
artifacts and the whole pipeline runs on a laptop. Network providers return the same model.
"""

from __future__ import annotations

import hashlib
import re

from chalicelib.pipeline.concept import phrases
from chalicelib.pipeline.concept.storyboard import Concept, Scene, key_words, scene_durations

SPEECH_WORDS_PER_SECOND = 2.2  # keeps most lines inside their scene at espeak's default rate

# (opening, middle, closing) narration templates per language; {k} is a key word of the prompt.
TEMPLATES: dict[str, tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]]] = {
    "en": (
        ("Meet {k}, seen like never before.", "Let's talk about {k}.", "This is {k}."),
        (
            "Look closer at {k}.",
            "Here {k} takes the stage.",
            "Now picture {k} in motion.",
            "Every detail of {k} tells a story.",
            "{k} changes everything.",
        ),
        ("And that is {k}. Follow for more.", "Remember {k}. See you next time."),
    ),
    "fr": (
        ("Voici {k}, comme jamais.", "Parlons de {k}."),
        ("Regardez {k} de plus près.", "Maintenant, {k} entre en scène.", "Chaque détail de {k} compte."),
        ("Et voilà {k}. Abonnez-vous.", "Souvenez-vous de {k}."),
    ),
    "es": (
        ("Esto es {k}, como nunca.", "Hablemos de {k}."),
        ("Mira {k} de cerca.", "Ahora {k} entra en escena.", "Cada detalle de {k} importa."),
        ("Y eso es {k}. Síguenos.", "Recuerda {k}."),
    ),
    "de": (
        ("Das ist {k}, wie nie zuvor.", "Sprechen wir über {k}."),
        ("Sieh dir {k} genauer an.", "Jetzt kommt {k} ins Spiel.", "Jedes Detail von {k} zählt."),
        ("Das war {k}. Folge uns.", "Denk an {k}."),
    ),
}
NOUN_LINES = (
    "Look closer at {n}.",
    "Here comes {n}.",
    "Every detail of {n} matters.",
    "Picture {n} in motion.",
    "Keep your eyes on {n}.",
)
SHOTS = (
    "close-up of {k}",
    "wide shot of {k}",
    "{k} at golden hour",
    "aerial view of {k}",
    "{k} in soft studio light",
    "{k} against a night sky",
    "abstract shapes around {k}",
)
# For a focus that is a setting ("on a stormy night"), not a thing: "aerial view of on ..." won't do.
SETTING_SHOTS = ("a wide view {k}", "the world {k}", "the sky {k}", "a quiet moment {k}")
PREPOSITIONS = frozenset(
    [
        "on",
        "in",
        "at",
        "by",
        "during",
        "under",
        "over",
        "with",
        "from",
        "across",
        "through",
        "into",
        "near",
        "inside",
        "outside",
        "beyond",
        "above",
        "below",
        "before",
        "after",
    ]
)


def _order(options: tuple[str, ...], seed: bytes) -> list[str]:
    """A seeded permutation, so consecutive scenes do not repeat a template."""
    return sorted(options, key=lambda o: hashlib.sha256(seed + o.encode()).digest())


def _subjects(words: list[str]) -> list[str]:
    """Key words in consecutive pairs ("cat astronaut", "rings saturn"), for the templates."""
    return [" ".join(words[i : i + 2]) for i in range(0, len(words), 2)]


def _capital(line: str) -> str:
    return line[:1].upper() + line[1:]


def _said(prompt: str, seconds: float) -> str | None:
    """The prompt itself as the opening line, when it can be said within the scene."""
    said = " ".join(prompt.split()).rstrip(".!?")
    if 0 < len(said.split()) <= seconds * SPEECH_WORDS_PER_SECOND:
        return _capital(said) + "."
    return None


def _english_beats(
    prompt: str, parsed: list[phrases.Clause], durations: list[float]
) -> list[tuple[str, str]]:
    """(line, what the scene shows) per scene, as sentences made of the prompt's own clauses and
    noun phrases: it opens with the prompt, walks its clauses, things and settings, and closes
    by saying it again in other words."""
    main = next((c for c in parsed if c.verb), parsed[0])
    nouns = list(dict.fromkeys(n for c in parsed for n in c.nouns()))
    said = _said(prompt, durations[0])
    opening = said or _capital(parsed[0].sentence) + "."
    middle = [] if said else [(_capital(c.sentence) + ".", c.nouns()[0]) for c in parsed[1:]]
    settings = [s for c in parsed for s in c.settings if s.split()[0].lower() not in ("with", "without")]
    for i, noun in enumerate(nouns):
        middle.append((NOUN_LINES[i % len(NOUN_LINES)].format(n=noun), noun))
        if i < len(settings):
            middle.append((f"It all happens {settings[i]}.", settings[i].split(" ", 1)[-1]))
    if main.verb:
        recap = "That was" if main.verb.endswith("ing") else "That is how"
        closing = f"{recap} {main.sentence[:1].lower()}{main.sentence[1:]}."
    else:
        closing = f"And that is {phrases.definite(main.subject)}. Follow for more."
    beats = [(opening, nouns[0])]
    for i in range(len(durations) - 2):
        line, focus = middle[i % len(middle)]
        if i >= len(middle):  # a long video: the same thing again, seen another way
            line, focus = NOUN_LINES[(i + 1) % len(NOUN_LINES)].format(n=focus), focus
        beats.append((_capital(line), focus))
    return beats + [(closing, main.nouns()[0])] if len(durations) > 1 else beats


def _template_beats(
    prompt: str, words: list[str], language: str, seed: bytes, durations: list[float]
) -> list[tuple[str, str]]:
    """Other languages: the prompt opens, then each language's templates walk its key words."""
    opening, middle, closing = TEMPLATES.get(language, TEMPLATES["en"])
    subjects, middles, phrase = _subjects(words), _order(middle, seed), " ".join(words[:3])
    beats = []
    for i, seconds in enumerate(durations):
        first, last = i == 0, i == len(durations) - 1
        subject = phrase if first or last else subjects[(i - 1) % len(subjects)]
        line = _said(prompt, seconds) if first else None
        if line is None:
            template = (
                _order(opening, seed)[0]
                if first
                else _order(closing, seed)[0]
                if last
                else middles[(i - 1) % len(middles)]
            )
            line = _capital(template.format(k=subject))
        beats.append((line, subject))
    return beats


def write_concept(prompt: str, duration_s: int, style: str | None = None, language: str = "en") -> Concept:
    """Offline provider: deterministic scenes whose lines and pictures come from the prompt."""
    words = key_words(prompt)
    lang = language.split("-")[0].lower()
    seed = f"{prompt}\x00{style}\x00{language}".encode()
    durations = scene_durations(duration_s)
    parsed = phrases.clauses(prompt) if lang == "en" else []
    beats = (
        _english_beats(prompt, parsed, durations)
        if parsed
        else _template_beats(prompt, words, lang, seed, durations)
    )
    shots = _order(SHOTS, seed)
    scenes = []
    for i, ((line, focus), seconds) in enumerate(zip(beats, durations)):
        options = SETTING_SHOTS if focus.split(" ", 1)[0].lower() in PREPOSITIONS else shots
        shot = options[i % len(options)].format(k=focus)
        visual = f"{shot}, {style} style" if style else shot
        scenes.append(Scene(index=i, narration=line, visual=visual, duration_s=seconds))
    title = " ".join(w.capitalize() for w in words[:5])
    hashtags = ["#" + re.sub(r"\W", "", w) for w in words[:5] if re.sub(r"\W", "", w)]
    return Concept(title=title, scenes=scenes, hashtags=hashtags)
