"""The concept step's offline provider: a prompt becomes a title, scenes and hashtags
(the types are in storyboard.py).

Deterministic (same input, same concept) and network-free, so retries reproduce the same
artifacts and the whole pipeline runs on a laptop. Network providers return the same model.
"""

from __future__ import annotations

import hashlib
import re

from chalicelib.pipeline.concept import phrases
from chalicelib.pipeline.concept.storyboard import Concept, Scene, key_words, phrase_title, scene_durations

SPEECH_WORDS_PER_SECOND = 2.2  # keeps most lines inside their scene at espeak's default rate

# Other languages' lines: (opening, middle, closing); a middle line with {k} names a key word
# after a colon, so it reads well whatever the word's gender, number or case.
TEMPLATES: dict[str, tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]]] = {
    "en": (
        ("Let's talk about {k}.",),
        ("Look closer: {k}.", "Every detail matters.", "Now picture it in motion.", "Remember this: {k}."),
        ("And that is the story. Follow for more.",),
    ),
    "fr": (
        ("Parlons de ceci : {k}.",),
        ("Regardez bien : {k}.", "Chaque détail compte.", "Et ce n'est pas tout.", "Retenez ceci : {k}."),
        ("Et voilà. Abonnez-vous pour la suite.",),
    ),
    "es": (
        ("Hablemos de esto: {k}.",),
        ("Mira de cerca: {k}.", "Cada detalle importa.", "Y eso no es todo.", "Recuerda esto: {k}."),
        ("Y eso es todo. Síguenos para más.",),
    ),
    "de": (
        ("Reden wir darüber: {k}.",),
        ("Schau genau hin: {k}.", "Jedes Detail zählt.", "Und das ist noch nicht alles.", "Merk dir: {k}."),
        ("Das war's. Folge uns für mehr.",),
    ),
}
# An indirect question's verb comes last ("warum der Himmel blau ist"): without its question
# word it is no sentence, so it keeps it ("Merk dir: warum der Himmel blau ist.").
VERB_FINAL = ("de",)
QUESTION_MARKS = {"fr": ("", " ?"), "es": ("¿", "?")}  # French sets "?" apart; Spanish opens one
# A question prompt ("pourquoi les chats dorment autant") answered in its language:
# (question words, "here is <question>" line, "now you know <question>" line).
QUESTIONS: dict[str, tuple[tuple[str, ...], str, str]] = {
    "fr": (
        ("pourquoi", "comment", "quand", "où", "qui", "quel", "quelle"),
        "Voici {q}.",
        "Maintenant, vous savez {q}.",
    ),
    "es": (
        ("por qué", "cómo", "cuándo", "dónde", "quién", "cuál", "qué"),
        "Te contamos {q}.",
        "Ahora ya sabes {q}.",
    ),
    "de": (
        ("warum", "wieso", "weshalb", "wie", "wann", "wo", "wer", "was", "welche"),
        "Hier erfährst du, {q}.",
        "Jetzt weißt du, {q}.",
    ),
}
NOT_SETTINGS = ("with", "without", "to", "for", "about", "of")  # "to the gills" is no place
WH_WORDS = ("why", "how", "what", "when", "where", "who", "which")
YES_NO = ("can", "could", "do", "does", "did", "is", "are", "was", "were", "should", "will", "would")
COPULAS = frozenset("is are was were has have had can could will would should may might must".split())  # noqa: SIM905
# Lines about a noun phrase; each reads well with a singular or a plural ("the smartest animals").
NOUN_LINES = (
    "Look closer at {n}.",
    "Keep your eyes on {n}.",
    "Every detail of {n} matters.",
    "Picture {n} in motion.",
    "Think about {n} for a second.",
)
HOW_TO_LINES = ("It starts with {n}.", "Take it one step at a time.", "Small details make the difference.")
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


def _capital(line: str) -> str:
    return line[:1].upper() + line[1:]


def _lower(text: str) -> str:
    """Lower the first letter unless the first word is a name or an acronym ("NASA", "I")."""
    first = text.split(" ", 1)[0]
    return text if first[1:] != first[1:].lower() or first == "I" else text[:1].lower() + text[1:]


def _said(text: str, seconds: float, end: str = ".") -> str | None:
    """The prompt itself as the opening line, when it can be said within the scene."""
    said = " ".join(text.split()).rstrip(".!?")
    if 0 < len(said.split()) <= seconds * SPEECH_WORDS_PER_SECOND:
        return _capital(said) + end
    return None


def _first_noun(text: str) -> str:
    """The leading noun phrase of a clause no verb was found in ("volcanoes form" -> "volcanoes")."""
    words = text.split()
    dets = next((i for i, w in enumerate(words) if w.lower() not in phrases.DETERMINERS), len(words))
    return phrases.definite(" ".join(words[: dets + 1]))


def _question(text: str) -> tuple[str, str]:
    """(form, rest) of an English prompt: "why", "how to", "what is" (rest reordered so it reads
    as a statement: "what a black hole is"), "yes-no", or "" for anything else."""
    words = text.split()
    head = words[0].lower() if words else ""
    if head == "how" and len(words) > 2 and words[1].lower() == "to":
        return "how to", " ".join(words[2:])
    if head in WH_WORDS and len(words) > 1:
        rest = words[1:]
        if head in ("what", "who", "where", "when", "which") and rest[0].lower() in COPULAS and len(rest) > 1:
            rest = rest[1:] + [rest[0].lower()]  # "what is a black hole" -> "a black hole is"
        return head, " ".join(rest)
    if head in YES_NO and len(words) > 2:
        return "yes-no", text
    return "", text


def _middle_lines(parsed: list[phrases.Clause], extra: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """(line, focus) about the prompt's things and settings, after any form-specific lines."""
    nouns = list(dict.fromkeys(n for c in parsed for n in c.nouns()))
    settings = [s for c in parsed for s in c.settings if s.split()[0].lower() not in NOT_SETTINGS]
    middle = list(extra)
    for i, noun in enumerate(nouns):
        middle.append((NOUN_LINES[i % len(NOUN_LINES)].format(n=noun), noun))
        if i < len(settings):
            middle.append((f"It all happens {settings[i]}.", settings[i].split(" ", 1)[-1]))
    return middle


def _english_beats(prompt: str, durations: list[float]) -> list[tuple[str, str]] | None:
    """(line, what the scene shows) per scene, grammatical for the shapes prompts come in:
    questions ("why ...", "how to ..."), imperatives, statements and noun phrases. It opens
    with the prompt (or its answer's promise), walks its things and settings, and closes by
    saying it again in other words. None when the prompt has no words to build on."""
    text = phrases.INSTRUCTION.sub("", " ".join(prompt.split())).strip().rstrip(".!?") or prompt
    text = _lower(text)  # "Octopuses ..." mid-sentence is "octopuses"; lines are raised again
    form, rest = _question(text)
    topic = rest
    if form in ("what", "who", "where", "when", "which") and rest.split()[-1] in COPULAS:
        topic = rest.rsplit(" ", 1)[0]  # "a black hole is": the thing is "a black hole"
    elif form == "yes-no":
        topic = rest.split(" ", 1)[1]
    parsed = phrases.clauses(topic if form else text)
    if not parsed:
        return None
    main = next((c for c in parsed if c.verb), parsed[0])
    if form in ("why", "how", "yes-no") and not main.verb:  # "how volcanoes form": the volcanoes
        parsed = [phrases.Clause(subject=_first_noun(topic))]
        main = parsed[0]
    focus = (main.nouns() or [rest])[0]
    extra: list[tuple[str, str]] = []
    if form == "how to":
        verb, _, thing = rest.partition(" ")
        thing_clause = phrases.parse_clause(thing) if thing else None
        noun = thing_clause.subject if thing_clause and thing_clause.subject else thing or verb
        parsed = [phrases.Clause(subject=noun, settings=thing_clause.settings if thing_clause else [])]
        focus = noun
        opening, closing = f"Here is how to {rest}.", f"Now you know how to {rest}."
        extra = [(line.format(n=noun), noun) for line in HOW_TO_LINES]
    elif form in WH_WORDS:
        opening, closing = f"Here is {form} {rest}.", f"Now you know {form} {rest}."
    elif form == "yes-no":
        opening, closing = _capital(text) + "?", "Now you know the answer. Follow for more."
        extra = [(f"Start with {focus}.", focus)]
    else:
        said = _said(text, durations[0])
        opening = said or _capital(parsed[0].sentence) + "."
        if not said:
            extra = [(_capital(c.sentence) + ".", (c.nouns() or [c.sentence])[0]) for c in parsed[1:]]
        if main.verb and not main.subject:  # an imperative: "plant a tree this weekend"
            closing = f"So go on: {_lower(main.sentence)}."
        elif main.verb and main.verb.lower() not in COPULAS:
            closing = f"That is how {_lower(main.sentence)}."
        elif main.verb:
            closing = f"Remember: {_lower(main.sentence)}."
        else:
            closing = f"That's it for {phrases.definite(main.subject)}. Follow for more."  # any number
    middle = _middle_lines(parsed, extra) or [(NOUN_LINES[0].format(n=focus), focus)]
    beats = [(opening, focus)]
    for i in range(len(durations) - 2):
        line, seen = middle[i % len(middle)]
        if i >= len(middle):  # a long video: the same thing again, seen another way
            line = NOUN_LINES[(i + 1) % len(NOUN_LINES)].format(n=seen)
        beats.append((_capital(line), seen))
    return beats + [(closing, focus)] if len(durations) > 1 else beats


def _template_beats(
    prompt: str, words: list[str], language: str, durations: list[float]
) -> list[tuple[str, str]]:
    """Other languages: the prompt opens (a question is promised an answer), the templates walk
    its key words, a question closes with "now you know ..."."""
    opening, middle, closing = TEMPLATES.get(language, TEMPLATES["en"])
    text = " ".join(prompt.split()).rstrip(".!?¿¡")
    asked = QUESTIONS.get(language)
    question = asked and next((q for q in asked[0] if text.lower().startswith(q + " ")), None)
    phrase = text[:1].lower() + text[1:]
    for q in asked[0] if asked else ():
        if phrase.lower().startswith(q + " "):
            phrase = phrase[len(q) + 1 :]  # "pourquoi les chats ..." -> "les chats ..."
    named = text[:1].lower() + text[1:] if question and language in VERB_FINAL else phrase
    beats = []
    for i, seconds in enumerate(durations):
        first, last = i == 0, i == len(durations) - 1
        subject = phrase if first or i % 3 == 1 else words[(i - 1) % len(words)]
        if first:
            said = _said(text, seconds, "?" if question else ".")
            if said and question and language in QUESTION_MARKS:
                before, after = QUESTION_MARKS[language]
                said = before + said[:-1] + after
            line = said or opening[0].format(k=subject)
        elif last and asked and question:
            line = asked[2].format(q=text[:1].lower() + text[1:])
        elif last:
            line = closing[0].format(k=subject)
        elif i == 1 and asked and question:
            line = asked[1].format(q=text[:1].lower() + text[1:])
        else:  # lines naming the phrase alternate with lines that need no word of it
            line = middle[(i - 1) % len(middle)].format(k=named)
        beats.append((_capital(line), subject))
    return beats


def write_concept(prompt: str, duration_s: int, style: str | None = None, language: str = "en") -> Concept:
    """Offline provider: deterministic scenes whose lines and pictures come from the prompt."""
    lang = language.split("-")[0].lower()
    words = key_words(prompt, language=lang)
    seed = f"{prompt}\x00{style}\x00{language}".encode()
    durations = scene_durations(duration_s)
    beats = _english_beats(prompt, durations) if lang == "en" else None
    beats = beats or _template_beats(prompt, words, lang, durations)
    shots = _order(SHOTS, seed)
    scenes = []
    for i, ((line, focus), seconds) in enumerate(zip(beats, durations)):
        options = SETTING_SHOTS if focus.split(" ", 1)[0].lower() in PREPOSITIONS else shots
        shot = options[i % len(options)].format(k=focus)
        visual = f"{shot}, {style} style" if style else shot
        scenes.append(Scene(index=i, narration=line, visual=visual, duration_s=seconds))
    title = phrase_title(phrases.INSTRUCTION.sub("", " ".join(prompt.split())) or prompt, lang)
    hashtags = ["#" + re.sub(r"\W", "", w) for w in words[:5] if re.sub(r"\W", "", w)]
    return Concept(title=title, scenes=scenes, hashtags=hashtags)
