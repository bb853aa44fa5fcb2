"""Checking that a file is a real picture within the limits, and normalising it for storage."""

import io
from collections import Counter
from dataclasses import dataclass, field

import numpy as np
from PIL import Image, UnidentifiedImageError

from services.errors import InputError

# PIL's format names; MPO is how PIL reports JPEGs written by many cameras.
ALLOWED_FORMATS = {"PNG", "JPEG", "MPO", "WEBP", "BMP", "GIF"}
ACCEPTED = "PNG, JPEG, WebP, BMP or GIF"
# Errors PIL raises on damaged or unreadable data (SyntaxError is what PngImagePlugin raises on bad chunks).
DECODE_ERRORS = (UnidentifiedImageError, OSError, ValueError, SyntaxError, EOFError, IndexError, TypeError)


def read_image(data: bytes, name: str, max_pixels: int, *, field: str = "file", decode: bool = True) -> Image.Image:
    """``data`` as a picture PIL has checked (and decoded, unless ``decode`` is false), or an InputError naming it."""
    too_many = f"{name} has more pixels than allowed (DJ_MAX_IMAGE_PIXELS); refused as a possible decompression bomb"
    try:
        image = Image.open(io.BytesIO(data))
    except Image.DecompressionBombError:
        raise InputError(field, too_many) from None
    except DECODE_ERRORS:
        raise InputError(field, f"{name} is not an image; a dataset may hold only {ACCEPTED} files "
                                "(hidden files such as .DS_Store are ignored)") from None
    if image.format not in ALLOWED_FORMATS:
        raise InputError(field, f"{name} is a {image.format} image; only {ACCEPTED} images are accepted")
    if image.width * image.height > max_pixels:
        raise InputError(field, f"{name} is {image.width}×{image.height} pixels, over the limit of {max_pixels} "
                                "(DJ_MAX_IMAGE_PIXELS); refused as a possible decompression bomb")
    try:
        image.verify()
        if not decode:
            return image
        image = Image.open(io.BytesIO(data))  # verify() leaves the image unusable: decode a fresh one
        image.load()  # a GIF's first frame
    except Image.DecompressionBombError:
        raise InputError(field, too_many) from None
    except DECODE_ERRORS as error:
        raise InputError(field, f"{name} is a damaged or truncated {image.format} image ({error})") from None
    return image


def storable(image: Image.Image) -> Image.Image:
    """The picture as 8-bit L, LA, RGB or RGBA: what PNG stores and the loader converts from without surprises."""
    mode = image.mode
    if mode in ("L", "LA", "RGB", "RGBA"):
        return image
    if mode == "1":
        return image.convert("L")
    if mode.startswith("I") or mode == "F":  # 16-bit (or float) grayscale
        array = np.asarray(image, dtype=np.float64)
        scale = 1.0 if mode == "F" or array.max(initial=0) <= 255 else 255.0 / 65535.0
        return Image.fromarray(np.rint(array * scale).clip(0, 255).astype(np.uint8), "L")
    if mode in ("P", "PA"):
        return image.convert("RGBA" if mode == "PA" or "transparency" in image.info else "RGB")
    if mode in ("La", "RGBa"):
        return image.convert(mode.upper())
    return image.convert("RGBA" if "A" in image.getbands() else "RGB")


@dataclass
class ImageStats:
    """What the images of a dataset look like, for its ``meta``."""

    formats: Counter = field(default_factory=Counter)
    modes: Counter = field(default_factory=Counter)
    sizes: Counter = field(default_factory=Counter)

    def add(self, image: Image.Image, stored_mode: str) -> None:
        self.formats["JPEG" if image.format == "MPO" else image.format] += 1
        self.modes[stored_mode] += 1
        self.sizes[image.size] += 1

    def as_meta(self) -> dict:
        if not self.sizes:
            return {}
        widths, heights = [w for w, _ in self.sizes], [h for _, h in self.sizes]
        return {
            "formats": dict(self.formats.most_common()),
            "modes": dict(self.modes.most_common()),
            "sizes": {f"{w}x{h}": count for (w, h), count in self.sizes.most_common(10)},  # the commonest ten
            "min_size": [min(widths), min(heights)],
            "max_size": [max(widths), max(heights)],
        }
