"""The image step's offline provider: one PNG backdrop per scene, designed in the job's look
(looks.py), with no text on it.

The scene's `visual` guides generation and stock search; it is never drawn. The words on
screen are the video step's: the scene's key phrase as kinetic type and the captions, both
set by libass in the render (kinetic.py, karaoke.py), timed to the voice. Forms and colours
vary per scene from a hash of the title and the scene's index, within the look; the user's
reference image, when given, is every scene's backdrop, darkened so white type reads on it.
"""

from __future__ import annotations

import hashlib
import random
from pathlib import Path

from PIL import Image, ImageDraw, ImageEnhance, ImageFilter, ImageOps, PngImagePlugin

from chalicelib.pipeline.concept.storyboard import Concept, Scene
from chalicelib.pipeline.media import looks
from chalicelib.uploads import image_limits

ASPECTS: dict[str, tuple[int, int]] = {"9:16": (1080, 1920), "16:9": (1920, 1080), "1:1": (1080, 1080)}
image_limits.enforce_pixel_limit()  # worker side: an over-limit image is an error, not a warning
SOFT_SCALE = 4  # blurred forms are drawn at 1/4 size, then upscaled: same look, ~16x cheaper
REFERENCE_DARKEN = 0.55  # the reference's brightness under the type: a photo, still legible


def _gradient(size: tuple[int, int], top: tuple, bottom: tuple, angle: float) -> Image.Image:
    # rotated at twice the size and cropped back, so no corner is left unfilled
    wide = Image.linear_gradient("L").resize((512, 512), Image.Resampling.BILINEAR)
    mask = (
        wide.rotate(angle, resample=Image.Resampling.BILINEAR)
        .crop((128, 128, 384, 384))
        .resize(size, Image.Resampling.BILINEAR)
    )
    return Image.composite(Image.new("RGB", size, bottom), Image.new("RGB", size, top), mask)


def _glow(size: tuple[int, int], spots: list[tuple[float, float, float, tuple, int]]) -> Image.Image:
    """Soft light: (x, y, radius as fractions of the frame, colour, alpha) discs, blurred."""
    small = (size[0] // SOFT_SCALE, size[1] // SOFT_SCALE)
    layer = Image.new("RGBA", small, (0, 0, 0, 0))
    draw = ImageDraw.Draw(layer)
    unit = min(small)
    for x, y, r, color, alpha in spots:
        cx, cy, rad = x * small[0], y * small[1], r * unit
        draw.ellipse((cx - rad, cy - rad, cx + rad, cy + rad), fill=(*color, alpha))
    return layer.filter(ImageFilter.GaussianBlur(unit / 9)).resize(size, Image.Resampling.BILINEAR)


def _forms(image: Image.Image, look: looks.Look, rng: random.Random) -> None:
    """The look's forms, placed per scene: big and quiet, so the type stays the subject."""
    width, height = image.size
    unit = min(width, height)
    layer = Image.new("RGBA", image.size, (0, 0, 0, 0))  # drawn apart, then blended in
    draw = ImageDraw.Draw(layer)
    side = rng.choice((-0.15, 1.15))  # a form leans in from one edge
    if look.name == "citrus":  # Swiss poster: one big disc off the edge, a ring, a bar
        r = unit * rng.uniform(0.45, 0.6)
        cx, cy = side * width, height * rng.uniform(0.55, 0.85)
        draw.ellipse((cx - r, cy - r, cx + r, cy + r), fill=(*look.shape, 255))
        r2 = unit * 0.16
        x2, y2 = width * rng.uniform(0.6, 0.85), height * rng.uniform(0.08, 0.2)
        draw.ellipse((x2 - r2, y2 - r2, x2 + r2, y2 + r2), outline=(*look.ink, 200), width=unit // 60)
    elif look.name == "paper":  # editorial: a faint disc, hairline rules, grain
        r = unit * rng.uniform(0.35, 0.5)
        cx, cy = width * rng.uniform(0.6, 0.9), height * rng.uniform(0.6, 0.8)
        draw.ellipse((cx - r, cy - r, cx + r, cy + r), fill=(*look.shape, 120))
        for k in range(3):
            y = height * (0.06 + 0.012 * k)
            draw.line((width * 0.08, y, width * (0.3 + 0.1 * k), y), fill=(*look.ink, 160), width=2)
    elif look.name == "neon":  # a thin frame and a horizon of lines
        inset = unit * 0.05
        draw.rectangle((inset, inset, width - inset, height - inset), outline=(*look.shape, 150), width=3)
        for k in range(8):
            y = height * (0.74 + 0.03 * k * k / 4)
            draw.line((0, y, width, y), fill=(*look.accent, 40 + 12 * k), width=2)
    else:  # midnight: a dotted grid fading down, one diagonal beam
        step = unit // 14
        for gx in range(step, width, step):
            for gy in range(step, int(height * 0.5), step):
                alpha = int(70 * (1 - gy / (height * 0.5)))
                draw.ellipse((gx - 2, gy - 2, gx + 2, gy + 2), fill=(*look.ink, alpha))
        x = width * rng.uniform(0.2, 0.8)
        draw.polygon(
            [(x, 0), (x + unit * 0.18, 0), (x - unit * 0.4, height), (x - unit * 0.58, height)],
            fill=(*look.shape, 40),
        )
    image.alpha_composite(layer)


def _designed(size: tuple[int, int], look: looks.Look, rng: random.Random, index: int) -> Image.Image:
    base = look.backgrounds[index % len(look.backgrounds)]
    image = _gradient(size, base, look.shade, rng.uniform(-30, 30)).convert("RGBA")
    x, y = rng.uniform(0.1, 0.9), rng.uniform(0.2, 0.6)
    image.alpha_composite(_glow(size, [(x, y, 0.45, look.shade, 150), (1 - x, y + 0.3, 0.3, look.shape, 70)]))
    _forms(image, look, rng)
    return image


def load_reference(reference: Path, aspect: str) -> Image.Image:
    """The user's image as every scene's backdrop: checked against the pixel limit before it
    decodes (ImageRejected), cover-cropped to the aspect, softly blurred and darkened so the
    type reads on it. Once per job."""
    size = ASPECTS[aspect]
    with image_limits.open_checked(reference) as ref:
        fitted = ImageOps.fit(ImageOps.exif_transpose(ref).convert("RGB"), size, Image.Resampling.BILINEAR)
    soft = fitted.filter(ImageFilter.GaussianBlur(min(size) / 300))
    return ImageEnhance.Brightness(soft).enhance(REFERENCE_DARKEN)


def render_scene_image(
    concept: Concept,
    scene: Scene,
    aspect: str,
    path: Path,
    reference: Path | Image.Image | None = None,
    style: str | None = None,
) -> Path:
    """Draw the scene's backdrop as a PNG at the aspect's exact resolution, in the job's look
    (from `style` and the title), or the user's `reference` image (a path, or `load_reference`'s
    result to decode it once for all scenes); the look's name rides in the PNG for the video
    step. ValueError for an unknown aspect."""
    if aspect not in ASPECTS:
        raise ValueError(f"unknown aspect {aspect!r}; expected one of {sorted(ASPECTS)}")
    size = ASPECTS[aspect]
    look = looks.choose(style, concept.title)
    info = PngImagePlugin.PngInfo()
    info.add_text(looks.LOOK_KEY, look.name)
    if reference is not None:
        image = load_reference(reference, aspect) if isinstance(reference, Path) else reference
        info.add_text(looks.BACKDROP_KEY, "photo")
    else:
        rng = random.Random(hashlib.sha256(f"{concept.title}\x00{scene.index}".encode()).digest())
        image = _designed(size, look, rng, scene.index)
    path.parent.mkdir(parents=True, exist_ok=True)
    image.convert("RGB").save(path, format="PNG", compress_level=1, pnginfo=info)
    return path
