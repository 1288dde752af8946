"""Script mode: the user's own words become the scenes, kept exactly as written.

A job gives either `script` (plain text, split into one scene per sentence, and always at a
paragraph break) or `scenes` (one object per scene). Each line is narrated and captioned as
written; the title is its first line's first phrase, the hashtags its key words. A scene without `duration_s` lasts as
long as its narration (an estimate in the concept, the real length once the narration exists,
see `timed`). Safe to import in the API: no media libraries here.
"""

from __future__ import annotations

import re

from chalicelib.pipeline.concept.storyboard import Concept, Scene, estimate_duration, key_words, phrase_title

# After the line is said: the caption switches mid-crossfade (0.25 s in), the speech starts
# 0.05 s later and keeps a 0.15 s tail; the rest is breathing room before the next scene.
SPEECH_MARGIN_S = 0.6
MIN_SCENE_S = 1.5
MAX_SCENE_S = 60.0
PARAGRAPH = re.compile(r"\n\s*\n")
# A sentence ends at . ! ? or an ellipsis, after any closing quotes or brackets, before white
# space; CJK full stops end one without a space.
SENTENCE_END = re.compile(r"(?<=[.!?\u2026])[\"'\u201d\u2019)\]]*\s+|(?<=[\u3002\uff01\uff1f])")


def split_script(text: str) -> list[str]:
    """The script's sentences, in order: their words exactly as written, runs of white space
    (line breaks inside a paragraph) read as one space."""
    lines: list[str] = []
    for paragraph in PARAGRAPH.split(text):
        cuts = [m.end() for m in SENTENCE_END.finditer(paragraph)]
        starts = [0] + cuts
        for start, end in zip(starts, cuts + [len(paragraph)]):
            line = " ".join(paragraph[start:end].split())
            if line:
                lines.append(line)
    return lines


def is_script(request: dict) -> bool:
    return bool(request.get("script") or request.get("scenes"))


def script_scenes(request: dict) -> list[dict]:
    """The request's scenes as dicts (text, visual?, duration_s?, image_upload_id?)."""
    if request.get("scenes"):
        return [dict(s) for s in request["scenes"]]
    return [{"text": line} for line in split_script(request.get("script") or "")]


def spoken_length(text: str) -> float:
    """How long a scene whose length follows its narration lasts, before the narration exists."""
    return scene_length(estimate_duration(text))


def scene_length(speech_s: float) -> float:
    return round(min(MAX_SCENE_S, max(MIN_SCENE_S, speech_s + SPEECH_MARGIN_S)), 3)


def estimated_total(request: dict) -> float:
    return sum(s.get("duration_s") or spoken_length(s["text"]) for s in script_scenes(request))


def _visual(text: str, style: str | None) -> str:
    shot = " ".join(key_words(text, 4))
    return f"{shot}, {style} style" if style else shot


def to_concept(request: dict) -> Concept:
    """The concept of a script-mode job: one scene per line, the user's words untouched."""
    given = script_scenes(request)
    scenes = [
        Scene(
            index=i,
            narration=s["text"],
            visual=s.get("visual") or _visual(s["text"], request.get("style")),
            duration_s=s.get("duration_s") or spoken_length(s["text"]),
        )
        for i, s in enumerate(given)
    ]
    language = request.get("language", "en")
    words = key_words(" ".join(s["text"] for s in given), language=language)
    hashtags = ["#" + re.sub(r"\W", "", w) for w in words[:5] if re.sub(r"\W", "", w)]
    title = phrase_title(given[0]["text"], language) if given else "Untitled"
    return Concept(title=title, scenes=scenes, hashtags=hashtags)


def total_length(concept: Concept) -> float:
    """The timeline's length: every scene's duration (crossfades only shorten it)."""
    return round(sum(scene.duration_s for scene in concept.scenes), 3)


def timed(concept: Concept, request: dict, speech_s: list[float]) -> Concept:
    """Scenes whose request gave no duration last as long as their narration really takes.
    Without narration (`narration: false`: no speech at all) they keep their estimated length."""
    if not is_script(request) or not speech_s:
        return concept
    given = script_scenes(request)
    scenes = [
        scene.model_copy(update={"duration_s": scene_length(said)}) if not (spec.get("duration_s")) else scene
        for scene, spec, said in zip(concept.scenes, given, speech_s)
    ]
    return concept.model_copy(update={"scenes": scenes})
