"""A shopper's photo (upload or camera) before it is searched: small enough, and a picture at all.

Invariant: a shopper never sees why in technical terms; ``read_shopper_photo`` returns the decoded picture
or raises ``ShopperPhotoError`` whose ``message_key`` names one friendly sentence in the message catalogue
(the technical reason stays in the exception text for logs). The photo is decoded in memory only.
"""

from __future__ import annotations

from PIL import Image

from assistant.errors import AssistantError
from assistant.images import ImageError, decode_image

#: A shopper's photo may be this large; Streamlit's server.maxUploadSize is global (staff upload catalogs).
MAX_SHOPPER_PHOTO_BYTES = 10 * 2**20


class ShopperPhotoError(AssistantError):
    """A shopper's photo that cannot be searched; ``message_key`` is the sentence to show them."""

    def __init__(self, message_key: str, detail: str):
        super().__init__(detail)
        self.message_key = message_key


def read_shopper_photo(data: bytes) -> Image.Image:
    """The photo as an upright RGB image, or ShopperPhotoError ("photo.too_big" / "photo.unreadable")."""
    if len(data) > MAX_SHOPPER_PHOTO_BYTES:
        raise ShopperPhotoError("photo.too_big", f"shopper photo of {len(data)} bytes > {MAX_SHOPPER_PHOTO_BYTES}")
    try:
        return decode_image(data, "the shopper's photo")
    except ImageError as exc:
        raise ShopperPhotoError("photo.unreadable", str(exc)) from exc
