"""Captions: the SRT file and the burned-in caption images.

Captions are drawn with Pillow as transparent PNGs and overlaid by ffmpeg, so the video never
depends on ffmpeg's font configuration (fontconfig is often missing on slim workers).
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

FONT_DIR = Path("/usr/share/fonts/truetype/dejavu")
Font = ImageFont.FreeTypeFont | ImageFont.ImageFont


@lru_cache(maxsize=32)
def load_font(size: int, bold: bool = False) -> Font:
    """DejaVu when the machine has it, else Pillow's bundled font (always present)."""
    path = FONT_DIR / ("DejaVuSans-Bold.ttf" if bold else "DejaVuSans.ttf")
    try:
        return ImageFont.truetype(str(path), size)
    except OSError:
        return ImageFont.load_default(size=size)


def srt_timestamp(seconds: float) -> str:
    ms = max(0, round(seconds * 1000))
    hours, ms = divmod(ms, 3_600_000)
    minutes, ms = divmod(ms, 60_000)
    secs, ms = divmod(ms, 1000)
    return f"{hours:02d}:{minutes:02d}:{secs:02d},{ms:03d}"


def build_srt(cues: list[tuple[float, float, str]]) -> str:
    """SRT text: cues numbered from 1, one block per (start_s, end_s, text)."""
    blocks = [
        f"{i}\n{srt_timestamp(start)} --> {srt_timestamp(end)}\n{text.strip()}\n"
        for i, (start, end, text) in enumerate(cues, start=1)
    ]
    return "\n".join(blocks)


def wrap_text(text: str, font: Font, max_width: float) -> list[str]:
    """Greedy word wrap by rendered width; a word wider than a line is cut into pieces."""
    lines: list[str] = []
    line = ""
    for word in text.split():
        while len(word) > 1 and font.getlength(word) > max_width:
            cut = next((i for i in range(len(word) - 1, 1, -1) if font.getlength(word[:i]) <= max_width), 1)
            if line:
                lines.append(line)
                line = ""
            lines.append(word[:cut])
            word = word[cut:]
        candidate = f"{line} {word}".strip()
        if line and font.getlength(candidate) > max_width:
            lines.append(line)
            line = word
        else:
            line = candidate
    if line:
        lines.append(line)
    return lines


def render_caption(text: str, frame_width: int, path: Path, max_lines: int = 4) -> tuple[int, int]:
    """A caption PNG (semi-transparent box, outlined white text) sized to its text, at most
    ~88% of the frame width; returns its (width, height) so the caller can place it."""
    size = max(28, frame_width // 20)
    font = load_font(size, bold=True)
    max_text_width = frame_width * 0.88 - 2 * (size // 2)
    lines = wrap_text(text, font, max_text_width)
    while len(lines) > max_lines and size > 20:  # long line: shrink rather than cover the frame
        size -= 4
        font = load_font(size, bold=True)
        lines = wrap_text(text, font, frame_width * 0.88 - size)
    pad, gap, stroke = size // 2, size // 4, max(2, size // 16)
    line_height = size + gap
    text_width = max((font.getlength(line) for line in lines), default=0)
    width = int(text_width) + 2 * pad + 2 * stroke
    height = len(lines) * line_height - gap + 2 * pad + 2 * stroke
    image = Image.new("RGBA", (width, height), (0, 0, 0, 0))
    draw = ImageDraw.Draw(image)
    draw.rounded_rectangle((0, 0, width - 1, height - 1), radius=pad, fill=(0, 0, 0, 150))
    for i, line in enumerate(lines):
        x = (width - font.getlength(line)) / 2
        y = pad + stroke + i * line_height
        draw.text(
            (x, y),
            line,
            font=font,
            fill=(255, 255, 255, 255),
            stroke_width=stroke,
            stroke_fill=(0, 0, 0, 255),
        )
    image.save(path, compress_level=1)
    return width, height
