"""The image step's offline provider: one PNG per scene, drawn from the scene's description.

Palette and shapes come from a hash of the visual text, so a scene always gets the same picture
and two scenes look different. Text stays in the top half: the bottom third is kept for the
captions the video step burns in, and a 7% margin survives the video's slow zoom.
"""

from __future__ import annotations

import colorsys
import hashlib
import random
from pathlib import Path

from PIL import Image, ImageDraw, ImageFilter, ImageOps

from chalicelib.pipeline.concept.storyboard import Concept, Scene
from chalicelib.pipeline.media.captions import load_font, wrap_text
from chalicelib.uploads import image_limits

ASPECTS: dict[str, tuple[int, int]] = {"9:16": (1080, 1920), "16:9": (1920, 1080), "1:1": (1080, 1080)}
image_limits.enforce_pixel_limit()  # worker side: an over-limit image is an error, not a warning
SOFT_SCALE = 4  # blurred shapes are drawn at 1/4 size, then upscaled: same look, ~16x cheaper
REFERENCE_WEIGHT = 0.6  # how much of the user's reference image shows through the gradient


def _palette(rng: random.Random) -> list[tuple[int, int, int]]:
    """Three colours around a seeded hue: dark base, bright accent, complementary highlight."""
    hue = rng.random()
    specs = [(hue, 0.65, 0.22), ((hue + 0.08) % 1, 0.75, 0.85), ((hue + 0.5) % 1, 0.55, 0.95)]
    rgb = [colorsys.hsv_to_rgb(*s) for s in specs]
    return [(int(r * 255), int(g * 255), int(b * 255)) for r, g, b in rgb]


def _background(size: tuple[int, int], top: tuple, bottom: tuple, rng: random.Random) -> Image.Image:
    mask = (
        Image.linear_gradient("L")
        .rotate(rng.uniform(-35, 35), resample=Image.Resampling.BILINEAR, expand=False, fillcolor=128)
        .resize(size, Image.Resampling.BILINEAR)
    )
    return Image.composite(Image.new("RGB", size, bottom), Image.new("RGB", size, top), mask)


def _soft_shapes(size: tuple[int, int], colors: list[tuple], rng: random.Random) -> Image.Image:
    """Blurred glowing discs ("bokeh"), drawn small and scaled up."""
    small = (size[0] // SOFT_SCALE, size[1] // SOFT_SCALE)
    layer = Image.new("RGBA", small, (0, 0, 0, 0))
    draw = ImageDraw.Draw(layer)
    for _ in range(rng.randint(5, 9)):
        r = rng.uniform(0.08, 0.3) * min(small)
        x, y = rng.uniform(0, small[0]), rng.uniform(0, small[1])
        draw.ellipse((x - r, y - r, x + r, y + r), fill=(*rng.choice(colors[1:]), rng.randint(60, 150)))
    return layer.filter(ImageFilter.GaussianBlur(min(small) / 40)).resize(size, Image.Resampling.BILINEAR)


def _crisp_shapes(
    draw: ImageDraw.ImageDraw, size: tuple[int, int], colors: list[tuple], rng: random.Random
) -> None:
    width, height = size
    unit = min(size)
    for _ in range(rng.randint(4, 8)):
        color = (*rng.choice(colors), rng.randint(90, 200))
        x, y, r = rng.uniform(0, width), rng.uniform(0, height), rng.uniform(0.04, 0.16) * unit
        kind = rng.choice(("ring", "triangle", "bar", "dots"))
        if kind == "ring":
            draw.ellipse((x - r, y - r, x + r, y + r), outline=color, width=max(4, int(r / 8)))
        elif kind == "triangle":
            draw.regular_polygon((x, y, r), 3, rotation=rng.uniform(0, 120), fill=color)
        elif kind == "bar":
            draw.rounded_rectangle((x - r * 2, y - r / 5, x + r * 2, y + r / 5), radius=r / 5, fill=color)
        else:
            for k in range(5):
                dot = r / 6
                draw.ellipse((x + k * dot * 3 - dot, y - dot, x + k * dot * 3 + dot, y + dot), fill=color)


def _text_block(
    draw: ImageDraw.ImageDraw, text: str, size: tuple[int, int], top: float, font_size: int, max_lines: int
) -> float:
    """Centred, outlined text so it reads on any part of the gradient; returns its bottom (px)."""
    width, height = size
    font = load_font(font_size, bold=True)
    lines = wrap_text(text, font, width * 0.80)[:max_lines]
    stroke = max(2, font_size // 14)
    y = height * top
    for line in lines:
        x = (width - font.getlength(line)) / 2
        draw.text(
            (x, y),
            line,
            font=font,
            fill=(255, 255, 255, 255),
            stroke_width=stroke,
            stroke_fill=(0, 0, 0, 200),
        )
        y += font_size * 1.2
    return y


def load_reference(reference: Path, aspect: str) -> Image.Image:
    """The user's image as every scene's backdrop: checked against the pixel limit before it
    decodes (ImageRejected), cover-cropped to the aspect and softly blurred. Once per job."""
    size = ASPECTS[aspect]
    with image_limits.open_checked(reference) as ref:
        fitted = ImageOps.fit(ImageOps.exif_transpose(ref).convert("RGB"), size, Image.Resampling.BILINEAR)
    return fitted.filter(ImageFilter.GaussianBlur(min(size) / 150))


def _with_reference(background: Image.Image, backdrop: Image.Image) -> Image.Image:
    """The prepared reference tinted by the scene's gradient: it reads as the scene's backdrop
    while shapes and text stay legible on top."""
    return Image.blend(background, backdrop, REFERENCE_WEIGHT)


def render_scene_image(
    concept: Concept, scene: Scene, aspect: str, path: Path, reference: Path | Image.Image | None = None
) -> Path:
    """Draw the scene as a PNG at the aspect's exact resolution, over the user's `reference`
    image when given (a path, or `load_reference`'s result to decode it once for all scenes);
    ValueError for an unknown aspect."""
    if aspect not in ASPECTS:
        raise ValueError(f"unknown aspect {aspect!r}; expected one of {sorted(ASPECTS)}")
    size = ASPECTS[aspect]
    if isinstance(reference, Path):
        reference = load_reference(reference, aspect)
    rng = random.Random(hashlib.sha256(f"{scene.visual}\x00{scene.index}".encode()).digest())
    colors = _palette(rng)
    image = _background(size, colors[0], tuple(c // 3 for c in colors[1]), rng)
    if reference is not None:
        image = _with_reference(image, reference)
    image = image.convert("RGBA")
    image.alpha_composite(_soft_shapes(size, colors, rng))
    overlay = Image.new("RGBA", size, (0, 0, 0, 0))
    draw = ImageDraw.Draw(overlay)
    _crisp_shapes(draw, size, colors, rng)
    unit = min(size)
    title_end = _text_block(draw, concept.title or scene.visual, size, 0.11, unit // 14, 2)
    visual_top = max(title_end + unit * 0.04, size[1] * (0.3 if size[1] > size[0] else 0))
    _text_block(draw, scene.visual, size, visual_top / size[1], unit // 20, 3)
    _text_block(draw, f"{scene.index + 1} / {len(concept.scenes)}", size, 0.07, unit // 40, 1)
    image.alpha_composite(overlay)
    path.parent.mkdir(parents=True, exist_ok=True)
    image.convert("RGB").save(path, format="PNG", compress_level=1)
    return path
