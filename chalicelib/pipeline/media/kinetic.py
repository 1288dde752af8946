"""Kinetic typography for offline scenes: each scene's key phrase, large, word by word on the
voice, as ASS events burned in by the same libass pass as the captions (karaoke.py).

The key phrase is a few content words of the narration (stop words and interrogatives
skipped, in the narration's language and script), stacked one per line: the longest word is
the loudest (biggest, in the look's accent), the others follow at a smaller size. Each word
arrives when it is spoken, with the look's motion (`\\move`, `\\t` on scale or spacing,
`\\fad`), and all leave with the scene. The block sits between the top safe margin and the
top of the captions' two lines, so the two never collide. Languages written without spaces
get one line of up to MAX_CHARACTERS characters; right-to-left scripts align to the right.
A phrase the fonts cannot draw is left out: the backdrop and captions still play.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from functools import lru_cache

from PIL import ImageFont

from chalicelib.pipeline.concept.storyboard import STOPWORDS, STOPWORDS_BY_LANGUAGE
from chalicelib.pipeline.media import karaoke
from chalicelib.pipeline.media.captions import FONT_DIR
from chalicelib.pipeline.media.looks import FONT_FILES, Look
from chalicelib.pipeline.media.words import Word, base_language, joiner

MAX_WORDS = 3  # stacked lines: more is a sentence, not a key phrase
MAX_CHARACTERS = 6  # the same, for languages written without spaces
TOP_MARGIN = {"9:16": 0.12, "16:9": 0.1, "1:1": 0.09}  # apps' top bars in 9:16
LEADING = 1.02  # display type sets tight
SECONDARY = 0.62  # a secondary word's size, of the loudest word's
RULE_GAP = 0.14  # room under the loudest word for its rule, of its size
FALLBACK_FONT = ("DejaVu Sans", "DejaVuSans.ttf", False)  # wider coverage (Arabic, Hebrew)
ARRIVAL_S = 0.42  # the longest arrival (_motion's): a word stands still after it


@dataclass
class KeyLine:
    text: str  # as shown (capitals for a look that sets them)
    at: float  # when it appears (its word is spoken), in seconds of the video
    x: int
    y: int  # its top
    px: int  # font size
    loud: bool  # the loudest word: the accent colour, and the rule under it


@dataclass
class Block:
    lines: list[KeyLine]
    font: str
    bold: bool
    anchor: int  # ASS \\an: 7 left, 8 centre, 9 right (top row)
    bottom: float  # the block's lowest pixel: above the captions


def _shown(text: str) -> str:
    """The word without its punctuation, elisions kept ("n'est")."""
    kept = "".join(c for c in text if unicodedata.category(c)[0] in "LNM" or c in "'\u2019")
    return kept.strip("'\u2019")


def _bare(text: str) -> str:
    """The word as a stop list spells it: an elided article or negation dropped ("n'est": "est")."""
    return _shown(text).replace("\u2019", "'").split("'")[-1].lower()


def is_rtl(text: str) -> bool:
    return any(unicodedata.bidirectional(c) in ("R", "AL") for c in text)


def key_phrase(words: list[Word], language: str, topic: frozenset[str] = frozenset()) -> list[int]:
    """Indexes of the scene's key words: content words (not stop words), the video's `topic`
    words first (its title's and hashtags': "octopuses" before a template's "closer"), then
    the longest, kept in spoken order; for languages without spaces, the line's first
    characters."""
    if not joiner(language):
        return [i for i, w in enumerate(words) if _bare(w.text)][:MAX_CHARACTERS]
    stop = STOPWORDS_BY_LANGUAGE.get(base_language(language), STOPWORDS) | STOPWORDS
    content = [i for i, w in enumerate(words) if len(_bare(w.text)) > 1 and _bare(w.text) not in stop]
    content = list({_bare(words[i].text): i for i in reversed(content)}.values())[::-1]  # no repeats
    ranked = sorted(content, key=lambda i: (_bare(words[i].text) not in topic, -len(_bare(words[i].text))))
    longest = ranked[:MAX_WORDS]
    return sorted(longest)


@lru_cache(maxsize=64)
def _font(file: str, px: int) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(str(FONT_DIR / file), px)


@lru_cache(maxsize=1024)
def _draws(file: str, char: str) -> bool:
    """The font has a glyph for `char` (not the .notdef box it draws for what it lacks)."""
    font = _font(file, 32)
    return char.isspace() or bytes(font.getmask(char)) != bytes(font.getmask("\U0010fffd"))


def _font_for(text: str, look: Look) -> tuple[str, str, bool] | None:
    """(ASS family, file, bold) of the first font that draws every character, or None."""
    for family, file, bold in ((look.font, FONT_FILES[look.font], True), FALLBACK_FONT):
        try:
            if all(_draws(file, c) for c in text):
                return family, file, bold
        except OSError:  # no such font on this machine
            continue
    return None


def caption_top(size: tuple[int, int], aspect: str) -> float:
    """The highest pixel the captions' MAX_LINES lines can reach (karaoke's layout)."""
    px = karaoke.font_size(size)
    return size[1] * (1 - karaoke.SAFE_AREA[aspect][0]) - karaoke.MAX_LINES * px * 1.25


def layout(
    texts: list[str], times: list[float], size: tuple[int, int], aspect: str, look: Look, language: str
) -> Block | None:
    """Sizes and places the key words: the loudest fills the width (within the safe margins)
    up to a third of the free height, the others are SECONDARY of it; the whole block shrinks
    until it fits between the top margin and the captions."""
    width, height = size
    side = width * karaoke.SAFE_AREA[aspect][1]
    top, bottom = height * TOP_MARGIN[aspect], caption_top(size, aspect) - height * 0.03
    spaced = bool(joiner(language))
    if not spaced:  # one line of characters, each timed
        texts, times = ["".join(texts)], [times[0]] if times else []
    shown = [t.upper() if look.caps else t for t in texts]
    chosen = _font_for("".join(shown), look)
    if chosen is None or not shown:
        return None
    family, file, bold = chosen
    loud = max(range(len(shown)), key=lambda i: len(shown[i]))
    room = width - 2 * side

    def fit(text: str, px: int) -> int:
        while px > 12 and _font(file, px).getlength(text) > room:
            px = int(px * 0.93)
        return px

    first = fit(shown[loud], int((bottom - top) / 3))
    sizes = [first if i == loud else fit(t, int(first * SECONDARY)) for i, t in enumerate(shown)]
    while (sum(sizes) * LEADING + first * RULE_GAP) > bottom - top and max(sizes) > 12:
        sizes, first = [int(s * 0.9) for s in sizes], int(first * 0.9)
    rtl = is_rtl("".join(shown))
    align = "right" if rtl and look.align == "left" else look.align
    anchor, x = {"left": (7, side), "center": (8, width / 2), "right": (9, width - side)}[align]
    y = top + (bottom - top - sum(sizes) * LEADING - sizes[loud] * RULE_GAP) / 2
    lines = []
    for i, (text, px) in enumerate(zip(shown, sizes)):
        lines.append(KeyLine(text, times[i] if i < len(times) else 0.0, round(x), round(y), px, i == loud))
        y += px * (LEADING + (RULE_GAP if i == loud else 0))
    return Block(lines, family, bold, anchor, y)


def _color(rgb: tuple[int, int, int]) -> str:
    r, g, b = rgb
    return f"&H{b:02X}{g:02X}{r:02X}&"


def _motion(look: Look, line: KeyLine, anchor: int) -> str:
    if look.motion == "rise":
        drop = round(line.px * 0.35)
        return f"\\an{anchor}\\move({line.x},{line.y + drop},{line.x},{line.y},0,280)\\fad(220,200)"
    if look.motion == "track":
        return (
            f"\\an{anchor}\\pos({line.x},{line.y})\\fsp{round(line.px * 0.25)}\\t(0,420,\\fsp0)\\fad(260,200)"
        )
    return (
        f"\\an{anchor}\\pos({line.x},{line.y})\\fscx55\\fscy55"
        f"\\t(0,110,\\fscx108\\fscy108)\\t(110,200,\\fscx100\\fscy100)\\fad(90,200)"
    )


def events(block: Block, look: Look, end: float, dark_ink: bool) -> list[str]:
    """The block's ASS Dialogue lines: each word from when it is said until the scene ends."""
    out = []
    outline = "\\bord0\\shad0" if dark_ink else "\\3c&H000000&\\4c&H000000&\\4a&H90&"
    for line in block.lines:
        if line.at >= end - 0.05:
            continue
        color = look.accent if line.loud else look.ink
        border = "" if dark_ink else f"\\bord{max(2, line.px // 28)}\\shad{max(2, line.px // 24)}"
        tags = (
            f"{{{_motion(look, line, block.anchor)}\\fn{block.font}\\b{int(block.bold)}\\fs{line.px}"
            f"\\1c{_color(color)}{outline}{border}}}"
        )
        text = karaoke.escape(line.text)
        out.append(f"Dialogue: 1,{karaoke.ts(line.at)},{karaoke.ts(end)},Key,,0,0,0,,{tags}{text}")
        if line.loud:  # a rule under the loudest word, drawn out from its edge
            w, h = round(line.px * 1.1), max(4, round(line.px * 0.07))
            x = {7: line.x, 8: line.x - w // 2, 9: line.x - w}[block.anchor]
            y = round(line.y + line.px * (LEADING + RULE_GAP / 4))
            rule = (
                f"{{\\an7\\pos({x},{y})\\p1\\bord0\\shad0\\1c{_color(look.accent)}\\fscx0"
                f"\\t(60,360,\\fscx100)\\fad(0,200)}}m 0 0 l {w} 0 {w} {h} 0 {h}{{\\p0}}"
            )
            if block.anchor == 9:
                rule = rule.replace("\\an7", "\\an9").replace(f"\\pos({x},{y})", f"\\pos({line.x},{y})")
            out.append(f"Dialogue: 1,{karaoke.ts(line.at)},{karaoke.ts(end)},Key,,0,0,0,,{rule}")
    return out


STYLE = (
    "Style: Key,DejaVu Sans,72,&H00FFFFFF,&H00FFFFFF,&H00000000,&H80000000,-1,0,0,0,100,100,0,0,"
    "1,0,0,7,0,0,0,1"
)


@dataclass
class KeyWords:
    events: list[str]  # the ASS Dialogue lines of every offline scene's key phrase
    shown_at: list[float | None]  # per scene: when its last key word arrives (None: no phrase)


def scene_events(
    scene_words: list[list[Word]],
    narrations: list[str],
    scene_looks: list[tuple[Look, bool] | None],
    windows: list[tuple[float, float]],
    size: tuple[int, int],
    aspect: str,
    language: str,
    topic: str = "",
) -> KeyWords:
    """Every offline scene's key phrase as ASS events. `scene_looks`: per scene, its look and
    whether the ink is dark (a light backdrop), or None for a scene that is not offline.
    A scene without word timings (no narration) times its words through its first half."""
    from chalicelib.pipeline.media.words import tokenize  # light; kept beside its only use

    found = KeyWords([], [None] * len(scene_looks))
    for k, chosen in enumerate(scene_looks):
        if chosen is None:
            continue
        look, dark_ink = chosen
        start, end = windows[k]
        words = scene_words[k] if k < len(scene_words) and scene_words[k] else []
        if not words:
            said = tokenize(narrations[k], language)
            step = (end - start) * 0.5 / max(1, len(said))
            words = [
                Word(t, start + 0.3 + i * step, start + 0.3 + (i + 1) * step) for i, t in enumerate(said)
            ]
        picked = key_phrase(words, language, frozenset(_bare(t) for t in topic.split()))
        texts = [_shown(words[i].text) for i in picked]
        times = [max(start, words[i].start) for i in picked]
        block = layout(texts, times, size, aspect, look, language)
        if block is not None:
            found.events += events(block, look, end, dark_ink)
            arrivals = [line.at + ARRIVAL_S for line in block.lines if line.at < end - 0.05]
            found.shown_at[k] = max(arrivals) if arrivals else None
    return found
