"""Reading product photos safely: size limits, EXIF orientation, transparency on white; perceptual hashes."""

from __future__ import annotations

import hashlib
import io
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from assistant.errors import AssistantError

MAX_IMAGE_BYTES = 25 * 1024 * 1024
MAX_IMAGE_PIXELS = 64_000_000
IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".webp", ".bmp", ".gif", ".tif", ".tiff"}


class ImageError(AssistantError):
    """A photo that cannot be used: unreadable, not an image, or too large."""


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def read_image_bytes(path: str | Path) -> bytes:
    """Read a photo file, refusing files over MAX_IMAGE_BYTES before reading them."""
    path = Path(path)
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise ImageError(f"cannot read {path}: {exc.strerror or exc}") from exc
    if size > MAX_IMAGE_BYTES:
        raise ImageError(f"{path} is {size / 2**20:.1f} MB, over the {MAX_IMAGE_BYTES / 2**20:.0f} MB limit")
    return path.read_bytes()


def decode_image(data: bytes, name: str = "image") -> Image.Image:
    """Decode bytes to an upright RGB image; transparent areas become white, as on a product page."""
    if len(data) > MAX_IMAGE_BYTES:
        raise ImageError(f"{name} is {len(data) / 2**20:.1f} MB, over the {MAX_IMAGE_BYTES / 2**20:.0f} MB limit")
    try:
        with Image.open(io.BytesIO(data)) as img:
            if img.width * img.height > MAX_IMAGE_PIXELS:
                raise ImageError(f"{name} is {img.width}x{img.height} pixels, over the {MAX_IMAGE_PIXELS:,} limit")
            img = ImageOps.exif_transpose(img)
            if img.mode in ("RGBA", "LA", "P"):
                img = img.convert("RGBA")
                background = Image.new("RGB", img.size, (255, 255, 255))
                background.paste(img, mask=img.getchannel("A"))
                return background
            return img.convert("RGB")
    except ImageError:
        raise
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError) as exc:
        raise ImageError(f"{name} is not a readable image ({exc.__class__.__name__}: {exc})") from exc


def load_image(path: str | Path) -> Image.Image:
    return decode_image(read_image_bytes(path), str(path))


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
