"""Reading product photos safely: size limits, EXIF orientation, every colour mode to faithful 8-bit RGB.

Invariant: ``decode_image`` returns an upright 8-bit RGB image or raises ``ImageError`` whose message names the
photo by the name the caller gave (a file name, never a Python object). Deep modes keep their tones: 16-bit
grey (``I;16*``) is scaled by 65535, 32-bit integer grey (``I``) by 65535 when its values fit 16 bits (how
16-bit PNG and TIFF greys load) or else by its own range, float grey (``F``) by 1.0 when its values lie
within [0, 1] or else by its own range; transparency is laid on white, as on a product page. ``dhash`` and
``near_pairs`` find near-duplicate photos (perceptual difference hashes).
"""

from __future__ import annotations

import hashlib
import io
import os
import stat
from pathlib import Path
from typing import BinaryIO

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from assistant.errors import AssistantError
from assistant.reasons import Reason

MAX_IMAGE_BYTES = 25 * 1024 * 1024
MAX_IMAGE_PIXELS = 64_000_000
IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".webp", ".bmp", ".gif", ".tif", ".tiff"}
#: Modes with an alpha channel, or a palette that may mark a colour transparent: composited on white.
_TRANSPARENT_MODES = {"RGBA", "RGBa", "LA", "La", "PA"}
_SIXTEEN_BIT_MAX = 65535.0


class ImageError(AssistantError):
    """A photo that cannot be used: unreadable, not an image, or too large. Raised with a ``Reason`` (its
    ``str`` is the English sentence), so a page can say it in its reader's language."""


def megabytes(size: int) -> str:
    return f"{size / 2**20:.1f} MB"


def too_large(name: str | Reason, size: int) -> Reason:
    return Reason("image.too_large", {"name": name, "size": megabytes(size), "limit": MAX_IMAGE_BYTES // 2**20})


def grew_while_read(name: str | Reason) -> Reason:
    return Reason("image.grew", {"name": name, "limit": MAX_IMAGE_BYTES // 2**20})


def _cannot_read(name: str | Reason, exc: OSError) -> Reason:
    return Reason("image.cannot_read", {"name": name, "error": exc.strerror or str(exc)})


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def file_kind(mode: int) -> Reason:
    """What a non-regular file is, in words, for messages (``str()`` is English; a page says it in its language)."""
    kinds = [
        (stat.S_ISDIR, "folder"),
        (stat.S_ISFIFO, "pipe"),
        (stat.S_ISCHR, "character_device"),
        (stat.S_ISBLK, "block_device"),
        (stat.S_ISSOCK, "socket"),
    ]
    return Reason("file.kind." + next((kind for test, kind in kinds if test(mode)), "other"))


def open_regular_file(path: str | Path, name: str | Reason | None = None) -> BinaryIO:
    """Open a regular file for reading; a pipe or device is refused without blocking or reading from it."""
    name = name or str(path)
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except FileNotFoundError as exc:
        raise ImageError(Reason("image.missing", {"name": name})) from exc
    except OSError as exc:
        raise ImageError(_cannot_read(name, exc)) from exc
    mode = os.fstat(fd).st_mode
    if not stat.S_ISREG(mode):
        os.close(fd)
        raise ImageError(Reason("image.not_regular", {"name": name, "kind": file_kind(mode)}))
    return os.fdopen(fd, "rb")


def read_image_bytes(path: str | Path, name: str | Reason | None = None) -> bytes:
    """Read a photo file, refusing non-regular files and files over MAX_IMAGE_BYTES; errors say ``name``."""
    name = name or str(path)
    with open_regular_file(path, name) as handle:
        size = os.fstat(handle.fileno()).st_size
        if size > MAX_IMAGE_BYTES:
            raise ImageError(too_large(name, size))
        try:
            data = handle.read(MAX_IMAGE_BYTES + 1)
        except OSError as exc:
            raise ImageError(_cannot_read(name, exc)) from exc
    if len(data) > MAX_IMAGE_BYTES:
        raise ImageError(grew_while_read(name))
    return data


def _scaled_to_bytes(values: np.ndarray, full_scale: float) -> np.ndarray:
    return np.clip(np.rint(values * np.float32(255.0 / full_scale)), 0, 255).astype(np.uint8)


def _stretched_to_bytes(values: np.ndarray) -> np.ndarray:
    low, high = float(values.min()), float(values.max())
    if high <= low:
        return np.full(values.shape, 255 if high > 0 else 0, np.uint8)
    return _scaled_to_bytes(values - low, high - low)


def _deep_grey_to_rgb(img: Image.Image) -> Image.Image:
    """16-bit, 32-bit integer and float grey images, scaled by their range instead of clipped at 255."""
    values = np.asarray(img).astype(np.float32)  # 4 bytes a pixel: enough precision for 8-bit output
    if img.mode.startswith("I;16"):
        grey = _scaled_to_bytes(values, _SIXTEEN_BIT_MAX)
    elif img.mode == "I":
        fits_16_bits = values.size and values.min() >= 0 and values.max() <= _SIXTEEN_BIT_MAX
        grey = _scaled_to_bytes(values, _SIXTEEN_BIT_MAX) if fits_16_bits else _stretched_to_bytes(values)
    else:  # "F"
        values = np.nan_to_num(values, nan=0.0, posinf=1.0, neginf=0.0)
        in_unit_range = values.size and values.min() >= 0.0 and values.max() <= 1.0
        grey = _scaled_to_bytes(values, 1.0) if in_unit_range else _stretched_to_bytes(values)
    return Image.fromarray(grey, "L").convert("RGB")


def _on_white(img: Image.Image) -> Image.Image:
    rgba = img.convert("RGBA")
    background = Image.new("RGB", img.size, (255, 255, 255))
    background.paste(rgba, mask=rgba.getchannel("A"))
    return background


def to_rgb(img: Image.Image) -> Image.Image:
    """Any PIL mode as 8-bit RGB with its tones kept (see the module docstring)."""
    if img.mode.startswith("I") or img.mode == "F":
        return _deep_grey_to_rgb(img)
    if img.mode in _TRANSPARENT_MODES or "transparency" in img.info:
        return _on_white(img)
    return img if img.mode == "RGB" else img.convert("RGB")


def decode_image(data: bytes, name: str | Reason = "the photo") -> Image.Image:
    """Decode bytes to an upright RGB image; transparent areas become white, as on a product page."""
    if len(data) > MAX_IMAGE_BYTES:
        raise ImageError(too_large(name, len(data)))
    try:
        with Image.open(io.BytesIO(data)) as img:
            if img.width * img.height > MAX_IMAGE_PIXELS:
                size = {"width": img.width, "height": img.height, "limit": f"{MAX_IMAGE_PIXELS:,}"}
                raise ImageError(Reason("image.too_many_pixels", {"name": name, **size}))
            upright = ImageOps.exif_transpose(img)
            rgb = to_rgb(upright)
            rgb.load()
            return rgb
    except ImageError:
        raise
    except UnidentifiedImageError as exc:
        raise ImageError(Reason("image.not_an_image", {"name": name})) from exc
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as exc:
        error = f"{exc.__class__.__name__}: {exc}"
        raise ImageError(Reason("image.unreadable", {"name": name, "error": error})) from exc


def load_image(path: str | Path, name: str | Reason | None = None) -> Image.Image:
    name = name or str(path)
    return decode_image(read_image_bytes(path, name), name)


def dhash(image: Image.Image, size: int = 16) -> np.ndarray:
    """Difference hash, ``size * size`` bits packed into bytes: whether each pixel of a (size+1) x size grey
    thumbnail is brighter than its right neighbour. Re-encoded, resized or lightly edited copies of a photo
    differ in a few percent of the bits; unrelated photos in about half."""
    grey = np.asarray(image.convert("L").resize((size + 1, size), Image.Resampling.LANCZOS), dtype=np.int16)
    return np.packbits(grey[:, :-1] > grey[:, 1:])


def near_pairs(hashes: np.ndarray, max_bits: int) -> list[tuple[int, int]]:
    """Index pairs (a < b) of packed hashes [N, bytes] that differ in at most ``max_bits`` bits."""
    hashes = np.asarray(hashes, dtype=np.uint8)
    pairs = []
    for start in range(0, len(hashes), 128):
        differing = np.unpackbits(hashes[start : start + 128, None, :] ^ hashes[None, :, :], axis=-1).sum(-1)
        for a, b in zip(*np.nonzero(differing <= max_bits)):
            if start + a < b:
                pairs.append((int(start + a), int(b)))
    return pairs
