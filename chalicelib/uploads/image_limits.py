"""Bounds on the images we read: users' uploads and what provider servers send back.

An image's memory cost is its pixel count, not its file size: a 0.5 MB PNG of 13000x13000
decodes to ~500 MB per copy. So dimensions are read from the header only (Pillow's `open` is
lazy) and checked against IMAGE_MAX_PIXELS before anything decodes: at upload confirmation
(the upload is rejected with code `image_too_large`), and in the worker, where Pillow's own
limit is set to the same value and its over-limit warning is made an error.
"""

from __future__ import annotations

import io
import warnings
from pathlib import Path
from typing import IO

from chalicelib.core.settings import get_settings

Source = Path | str | bytes | IO[bytes]
IMAGE_TOO_LARGE = "image_too_large"
UNREADABLE_IMAGE = "unreadable_image"


class ImageRejected(ValueError):
    """The image may not be decoded. `code`: image_too_large or unreadable_image."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code, self.message = code, message


def enforce_pixel_limit() -> None:
    """Pillow's own guard at IMAGE_MAX_PIXELS, raising instead of warning (it only raises past
    twice its limit by default). Idempotent; the worker's image code calls it on import."""
    from PIL import Image

    Image.MAX_IMAGE_PIXELS = get_settings().image_max_pixels
    warnings.filterwarnings("error", category=Image.DecompressionBombWarning)


def check_size(width: int, height: int) -> None:
    limit = get_settings().image_max_pixels
    if width * height > limit:
        raise ImageRejected(
            IMAGE_TOO_LARGE, f"the image is {width}x{height} pixels, over the limit of {limit} pixels"
        )


def _too_large() -> ImageRejected:
    """Pillow itself refused the header's dimensions (far over its own limit)."""
    return ImageRejected(
        IMAGE_TOO_LARGE, f"the image is over the limit of {get_settings().image_max_pixels} pixels"
    )


def dimensions(head: bytes) -> tuple[int, int]:
    """(width, height) from an image file's first bytes, without decoding any pixel."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(head)) as image:  # lazy: parses the header only
            return image.size
    except (
        UnidentifiedImageError,
        OSError,
        ValueError,
        SyntaxError,
        Image.DecompressionBombError,
        Image.DecompressionBombWarning,
    ) as exc:
        if isinstance(exc, (Image.DecompressionBombError, Image.DecompressionBombWarning)):
            raise _too_large() from None
        raise ImageRejected(UNREADABLE_IMAGE, "the image's header cannot be read") from None


def open_checked(source: Source):
    """A PIL image, opened lazily and checked: ImageRejected before any pixel is decoded when
    it is over the limit (or not an image)."""
    from PIL import Image, UnidentifiedImageError

    enforce_pixel_limit()
    fp = io.BytesIO(source) if isinstance(source, bytes) else source
    try:
        image = Image.open(fp)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise _too_large() from None
    except (UnidentifiedImageError, OSError, SyntaxError) as exc:
        raise ImageRejected(UNREADABLE_IMAGE, f"not an image ({type(exc).__name__})") from None
    try:
        check_size(*image.size)
    except ImageRejected:
        image.close()
        raise
    return image
