"""Captions that follow the voice: phrases from the word timings, burned in by libass.

A phrase is a few words (at most two lines) of one scene; while it is on screen the word being
spoken is highlighted. Each phrase becomes consecutive ASS events, one per word (and one for a
real pause), all at the same \\pos: no two events overlap, so libass draws the text once per
frame, and the lines never re-wrap between words because we break them ourselves (WrapStyle 2)
with the font's real metrics and the language's rules: languages written without spaces break
between characters, never before closing punctuation.

The phrases are also the cues of captions.srt and captions.vtt, so the files and the picture
agree.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from chalicelib.pipeline.media.captions import FONT_DIR, load_font
from chalicelib.pipeline.media.words import Word, joiner

FONT_NAME = "DejaVu Sans"
WHITE, HIGHLIGHT, OUTLINE = "&H00FFFFFF", "&H0000D7FF", "&H00000000"  # ASS colours are &HAABBGGRR
SHADOW = "&H80000000"
MAX_LINES = 2
MAX_WORDS = 8  # per phrase: more is a paragraph, not a caption
MAX_CHARACTERS = 16  # the same, where a "word" is a character (languages without spaces)
PAUSE_S = 0.7  # a longer gap between words starts a new phrase
HOLD_S = 0.3  # gaps shorter than this keep the previous word lit (no flicker)
LINGER_S = 0.6  # a phrase stays this long after its last word (unless the next starts)
SENTENCE_END = tuple(".!?;:。！？；：")
# Safe area per aspect: (bottom margin, side margin) as fractions of the frame. 9:16 keeps
# clear of the apps' bottom bar and caption text (Shorts, Reels, TikTok cover ~20%).
SAFE_AREA = {"9:16": (0.24, 0.08), "16:9": (0.09, 0.1), "1:1": (0.12, 0.08)}


@dataclass
class Phrase:
    words: list[Word]
    lines: list[list[int]]  # word indexes per line
    start: float
    end: float


def font_size(size: tuple[int, int]) -> int:
    return round(min(size) * 0.066)


def _lines(words: list[str], language: str, max_width: float, px: int) -> list[list[int]]:
    """Greedy line breaking by rendered width (the same font libass draws, measured by Pillow,
    which reads a little wider than libass at the same size: a safe margin)."""
    font, sep = load_font(px, bold=True), joiner(language)
    lines: list[list[int]] = [[]]
    for i in range(len(words)):
        candidate = sep.join(words[j] for j in lines[-1] + [i])
        if lines[-1] and font.getlength(candidate) > max_width:
            lines.append([i])
        else:
            lines[-1].append(i)
    return lines


def phrases(
    scenes: list[list[Word]], size: tuple[int, int], aspect: str, language: str, until: float
) -> list[Phrase]:
    """The scenes' words cut into phrases of at most MAX_LINES lines: a phrase also ends at a
    sentence's end, at a pause, or with its scene. Nothing shows after `until` (the end)."""
    width = size[0] * (1 - 2 * SAFE_AREA[aspect][1])
    px = font_size(size)
    most = MAX_WORDS if joiner(language) else MAX_CHARACTERS
    out: list[Phrase] = []
    for scene in scenes:
        current: list[Word] = []
        for k, word in enumerate(scene):
            trial = current + [word]
            fits = len(_lines([w.text for w in trial], language, width, px)) <= MAX_LINES
            if current and (not fits or len(trial) > most):
                out.append(_phrase(current, language, width, px))
                current = []
            current.append(word)
            nxt = scene[k + 1] if k + 1 < len(scene) else None
            ends = word.text.endswith(SENTENCE_END) and len(current) >= 2
            if nxt is None or ends or nxt.start - word.end > PAUSE_S:
                out.append(_phrase(current, language, width, px))
                current = []
    for a, b in zip(out, out[1:] + [None]):
        a.end = min(a.end, b.start if b else until)
    return out


def _phrase(words: list[Word], language: str, width: float, px: int) -> Phrase:
    return Phrase(
        words=list(words),
        lines=_lines([w.text for w in words], language, width, px),
        start=words[0].start,
        end=words[-1].end + LINGER_S,
    )


def escape(text: str) -> str:
    return text.replace("\\", "\u29f5").replace("{", "(").replace("}", ")")


def _text(phrase: Phrase, lit: int | None, language: str) -> str:
    sep = joiner(language)
    lines = []
    for line in phrase.lines:
        lines.append(
            sep.join(
                f"{{\\c{HIGHLIGHT}&}}{escape(phrase.words[i].text)}{{\\c{WHITE}&}}"
                if i == lit
                else escape(phrase.words[i].text)
                for i in line
            )
        )
    return "\\N".join(lines)


def ts(seconds: float) -> str:
    cs = max(0, round(seconds * 100))
    return f"{cs // 360000}:{cs // 6000 % 60:02d}:{cs // 100 % 60:02d}.{cs % 100:02d}"


def spans(phrase: Phrase) -> list[tuple[float, float, int | None]]:
    """(start, end, lit word) segments covering the phrase: a word stays lit until the next one
    starts unless the gap is a real pause, where nothing is lit."""
    out: list[tuple[float, float, int | None]] = []
    for i, word in enumerate(phrase.words):
        nxt = phrase.words[i + 1].start if i + 1 < len(phrase.words) else phrase.end
        lit_end = nxt if nxt - word.end < HOLD_S else word.end
        out.append((word.start, lit_end, i))
        if lit_end < nxt:
            out.append((lit_end, nxt, None))
    return [(a, b, lit) for a, b, lit in out if b - a >= 0.01]


def build_ass(
    items: list[Phrase],
    size: tuple[int, int],
    aspect: str,
    language: str,
    styles: tuple[str, ...] = (),
    layers: tuple[str, ...] = (),
) -> str:
    """The ASS script: the caption phrases, and any other `layers` (Dialogue lines, in their
    own `styles`: the kinetic key words) burned in by the same pass."""
    width, height = size
    px = font_size(size)
    bottom = round(height * SAFE_AREA[aspect][0])
    side = round(width * SAFE_AREA[aspect][1])
    outline, shadow = max(3, round(px / 11)), max(2, round(px / 22))
    header = [
        "[Script Info]",
        "ScriptType: v4.00+",
        f"PlayResX: {width}",
        f"PlayResY: {height}",
        "WrapStyle: 2",
        "ScaledBorderAndShadow: yes",
        "YCbCr Matrix: TV.709",
        "",
        "[V4+ Styles]",
        "Format: Name, Fontname, Fontsize, PrimaryColour, SecondaryColour, OutlineColour, BackColour,"
        " Bold, Italic, Underline, StrikeOut, ScaleX, ScaleY, Spacing, Angle, BorderStyle, Outline,"
        " Shadow, Alignment, MarginL, MarginR, MarginV, Encoding",
        f"Style: Caption,{FONT_NAME},{px},{WHITE},{HIGHLIGHT},{OUTLINE},{SHADOW},-1,0,0,0,100,100,0,0,"
        f"1,{outline},{shadow},2,{side},{side},{bottom},1",
        *styles,
        "",
        "[Events]",
        "Format: Layer, Start, End, Style, Name, MarginL, MarginR, MarginV, Effect, Text",
    ]
    events = []
    position = f"{{\\an2\\pos({width // 2},{height - bottom})}}"
    for phrase in items:
        for start, end, lit in spans(phrase):
            events.append(
                f"Dialogue: 0,{ts(start)},{ts(end)},Caption,,0,0,0,,{position}{_text(phrase, lit, language)}"
            )
    return "\n".join(header + list(layers) + events) + "\n"


def ass_filter(path: Path) -> str:
    """The libass filter burning `path` in; fonts come from our font folder, so a worker
    without fontconfig setup draws the same captions."""
    return f"ass=filename='{_filter_path(path)}':fontsdir='{_filter_path(FONT_DIR)}'"


def _filter_path(path: Path) -> str:
    """A path inside a quoted filter option: quoting covers ':', ',', ';' and brackets; our
    paths are ours (work folder, font folder), so a quote in one is a bug, not input."""
    if "'" in str(path):
        raise ValueError(f"unsupported character in {path}")
    return str(path)
