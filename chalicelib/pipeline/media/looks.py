"""The offline video's designed looks: a palette, a typeface, how the words arrive and how the
backdrop moves, named.

A job gets one look for all its scenes, chosen from its `style` (words people type map to the
look that suits them: "neon" -> Neon, "watercolor" -> Paper) or, for any other style, by a hash
of the style and title: the same job always looks the same, two jobs usually differ. The
image step records the look's name in each still (a PNG text chunk), so the video step, maybe
on another worker, sets the kinetic type in the same look.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, replace
from enum import Enum
from pathlib import Path

from PIL import Image

Rgb = tuple[int, int, int]
LOOK_KEY = "mo:look"  # the PNG text chunk naming the look of an offline still
BACKDROP_KEY = "mo:backdrop"  # "photo" when the reference image is the backdrop


class Camera(str, Enum):
    """How a scene's backdrop moves under the type, in the render's one pass (filtergraph.py)."""

    PUSH = "push"  #: a slow push-in over every scene
    BREATHE = "breathe"  #: in on even scenes, out on odd ones
    DRIFT = "drift"  #: a sideways pan at a fixed zoom, the way alternating per scene
    STILL = "still"  #: no motion: the type is the only thing that moves


@dataclass(frozen=True)
class Look:
    name: str
    backgrounds: tuple[Rgb, ...]  # a scene's base colour, by scene index
    shade: Rgb  # the gradient's other end
    ink: Rgb  # the key words
    accent: Rgb  # the loudest word and the rule
    shape: Rgb  # the backdrop's forms
    font: str  # the ASS family (a file of FONT_FILES)
    caps: bool  # key words in capitals
    motion: str  # how words arrive: "rise", "pop" or "track"
    camera: Camera  # how the backdrop moves
    camera_per_s: float  # its speed: zoom per second, or (drift) the pan's share of the width
    align: str  # "left" or "center" (mirrored for right-to-left scripts)


LOOKS: dict[str, Look] = {
    "midnight": Look(
        "midnight",
        ((14, 20, 48), (24, 16, 56), (10, 30, 52)),
        (44, 62, 120),
        (245, 244, 240),
        (255, 196, 64),
        (90, 120, 220),
        "DejaVu Sans Condensed",
        True,
        "rise",
        Camera.PUSH,
        0.012,
        "left",
    ),
    "citrus": Look(
        "citrus",
        ((238, 92, 52), (246, 170, 40), (40, 92, 200)),
        (200, 40, 70),
        (255, 248, 235),
        (24, 24, 40),
        (178, 34, 52),
        "DejaVu Sans",
        True,
        "pop",
        Camera.BREATHE,
        0.015,
        "center",
    ),
    "paper": Look(
        "paper",
        ((244, 238, 226), (236, 230, 214), (240, 232, 220)),
        (214, 200, 178),
        (28, 26, 30),
        (206, 52, 40),
        (200, 186, 160),
        "DejaVu Serif",
        False,
        "track",
        Camera.DRIFT,
        0.012,
        "left",
    ),
    "neon": Look(
        "neon",
        ((10, 8, 20), (16, 6, 26), (6, 12, 24)),
        (120, 20, 140),
        (255, 255, 255),
        (40, 240, 220),
        (255, 60, 170),
        "DejaVu Sans Condensed",
        True,
        "pop",
        Camera.STILL,
        0.0,
        "center",
    ),
}
FONT_FILES = {
    "DejaVu Sans Condensed": "DejaVuSansCondensed-Bold.ttf",
    "DejaVu Sans": "DejaVuSans-Bold.ttf",
    "DejaVu Serif": "DejaVuSerif-Bold.ttf",
}
STYLE_WORDS = {  # a word of the job's style -> the look that suits it
    "midnight": ("cinematic", "dark", "noir", "night", "space", "moody", "documentary", "epic"),
    "citrus": ("comic", "pop", "bold", "cartoon", "anime", "playful", "fun", "kids", "bright"),
    "paper": ("watercolor", "vintage", "paper", "minimal", "editorial", "pastel", "retro", "sketch"),
    "neon": ("neon", "cyberpunk", "synthwave", "futuristic", "tech", "sci-fi", "scifi", "glow"),
}


def choose(style: str | None, title: str) -> Look:
    """The job's look: by a word of its style, else by a hash of style and title."""
    words = (style or "").lower().replace(",", " ").split()
    for name, hints in STYLE_WORDS.items():
        if any(w in hints for w in words):
            return LOOKS[name]
    names = sorted(LOOKS)
    digest = hashlib.sha256(f"{style}\x00{title}".encode()).digest()
    return LOOKS[names[digest[0] % len(names)]]


def of_still(path: Path) -> tuple[Look, bool] | None:
    """(the look an offline still was drawn in, whether its type is dark ink on a light
    backdrop); None for any other picture (a generated image, the user's own, a stock photo, a
    clip): those get no kinetic type. On the user's reference photo (darkened) the ink is
    white, and a dark accent gives way to the look's brightest colour."""
    if path.suffix.lower() != ".png":
        return None
    try:
        with Image.open(path) as image:
            name, backdrop = image.info.get(LOOK_KEY), image.info.get(BACKDROP_KEY)
    except OSError:
        return None
    look = LOOKS.get(name) if isinstance(name, str) else None
    if look is None:
        return None
    if backdrop == "photo":
        accent = look.accent if sum(look.accent) >= 200 else max((look.shape, *look.backgrounds), key=sum)
        return replace(look, ink=(255, 255, 255), accent=accent), False
    return look, sum(look.ink) < 200
