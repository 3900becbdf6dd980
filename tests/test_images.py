"""Photo decoding: every PIL mode to faithful 8-bit RGB, EXIF orientation, messages that name the file."""

from __future__ import annotations

import io
import os

import numpy as np
import pytest
from PIL import Image

from assistant.images import ImageError, decode_image, read_image_bytes


def encoded(img: Image.Image, fmt: str, **options) -> bytes:
    buffer = io.BytesIO()
    img.save(buffer, fmt, **options)
    return buffer.getvalue()


def pixel(data: bytes) -> tuple[int, int, int]:
    rgb = decode_image(data, "test.img")
    assert rgb.mode == "RGB"
    return rgb.getpixel((0, 0))


def grey16(value: int, mode: str) -> Image.Image:
    dtype = "<u2" if mode == "I;16" else ">u2"
    return Image.frombytes(mode, (4, 4), np.full((4, 4), value, dtype).tobytes())


def palette_with_red(transparent: bool) -> Image.Image:
    img = Image.new("P", (4, 4), 1)
    img.putpalette([255, 0, 0, 0, 0, 255] + [0] * 762)  # index 0 red, index 1 blue
    if transparent:
        img.info["transparency"] = 0
    img.putpixel((0, 0), 0)
    return img


@pytest.mark.parametrize(
    "image, fmt, expected",
    [
        (Image.new("1", (4, 4), 1), "PNG", (255, 255, 255)),
        (Image.new("1", (4, 4), 0), "PNG", (0, 0, 0)),
        (Image.new("L", (4, 4), 77), "PNG", (77, 77, 77)),
        (grey16(30000, "I;16"), "PNG", (117, 117, 117)),  # 30000 / 65535 of white, not clipped to white
        (grey16(65535, "I;16"), "PNG", (255, 255, 255)),
        (grey16(1000, "I;16B"), "TIFF", (4, 4, 4)),
        (grey16(30000, "I;16B"), "TIFF", (117, 117, 117)),
        (Image.fromarray(np.full((4, 4), 30000, np.int32)), "TIFF", (117, 117, 117)),  # "I" holding 16-bit data
        (Image.fromarray(np.full((4, 4), 0.25, np.float32)), "TIFF", (64, 64, 64)),  # "F" in [0, 1]
        (Image.new("LA", (4, 4), (50, 255)), "PNG", (50, 50, 50)),
        (Image.new("LA", (4, 4), (50, 0)), "PNG", (255, 255, 255)),  # transparent: white, as on a product page
        (palette_with_red(transparent=True), "PNG", (255, 255, 255)),
        (palette_with_red(transparent=False), "PNG", (255, 0, 0)),
        (palette_with_red(transparent=True).convert("RGB"), "PNG", (255, 255, 255)),  # an RGB colour key
        (Image.new("CMYK", (4, 4), (0, 255, 255, 0)), "TIFF", (255, 0, 0)),
        (Image.new("CMYK", (4, 4), (0, 0, 0, 255)), "TIFF", (0, 0, 0)),
        (Image.new("RGBA", (4, 4), (10, 20, 30, 255)), "PNG", (10, 20, 30)),
        (Image.new("RGBA", (4, 4), (10, 20, 30, 0)), "PNG", (255, 255, 255)),
        (Image.new("RGB", (4, 4), (10, 20, 30)), "PNG", (10, 20, 30)),
    ],
    ids=lambda v: v.mode if isinstance(v, Image.Image) else str(v),
)
def test_every_mode_converts_to_faithful_rgb(image, fmt, expected):
    data = encoded(image, fmt)
    assert Image.open(io.BytesIO(data)).mode == image.mode, "the file keeps the mode under test"
    assert pixel(data) == expected


def test_the_rest_of_a_palette_image_keeps_its_colour():
    rgb = decode_image(encoded(palette_with_red(transparent=True), "PNG"), "p.png")
    assert rgb.getpixel((1, 1)) == (0, 0, 255)


def test_a_32_bit_image_beyond_16_bits_is_scaled_by_its_range():
    values = np.array([[-100, 100_000]], np.int32).repeat(2, axis=0)
    rgb = decode_image(encoded(Image.fromarray(values), "TIFF"), "deep.tif")
    assert rgb.getpixel((0, 0)) == (0, 0, 0) and rgb.getpixel((1, 0)) == (255, 255, 255)


def test_a_float_image_beyond_unit_range_is_scaled_by_its_range():
    values = np.array([[0.0, 500.0, 1000.0]], np.float32)
    rgb = decode_image(encoded(Image.fromarray(values), "TIFF"), "float.tif")
    assert [rgb.getpixel((x, 0))[0] for x in range(3)] == [0, 128, 255]


@pytest.mark.parametrize("fmt", ["JPEG", "PNG"])
def test_exif_orientation_is_applied(fmt):
    """A 40x20 photo, red left and blue right, tagged 'rotate 90 degrees clockwise to view' (orientation 6)."""
    img = Image.new("RGB", (40, 20), (0, 0, 255))
    img.paste((255, 0, 0), (0, 0, 20, 20))
    exif = Image.Exif()
    exif[0x0112] = 6
    upright = decode_image(encoded(img, fmt, exif=exif.tobytes(), **({"quality": 95} if fmt == "JPEG" else {})), "r")
    assert upright.size == (20, 40)
    top, bottom = np.asarray(upright)[5, 10], np.asarray(upright)[34, 10]
    assert top[0] > 200 and top[2] < 60, "the left (red) half is on top once turned"
    assert bottom[2] > 200 and bottom[0] < 60


def test_an_unreadable_photo_is_named_by_the_caller_and_not_by_a_python_object():
    with pytest.raises(ImageError) as refused:
        decode_image(b"\xff\xd8 not really a jpeg", "rings/corrupt.jpg")
    message = str(refused.value)
    assert message.startswith("rings/corrupt.jpg is not a readable image")
    assert "BytesIO" not in message and "0x" not in message


def test_a_truncated_photo_is_named(tmp_path):
    data = encoded(Image.new("RGB", (64, 64), (1, 2, 3)), "PNG")
    with pytest.raises(ImageError, match=r"^half\.png is not a readable image"):
        decode_image(data[: len(data) // 2], "half.png")


def test_reading_refuses_pipes_and_devices_without_blocking(tmp_path):
    os.mkfifo(tmp_path / "pipe.png")
    with pytest.raises(ImageError, match="named pipe"):
        read_image_bytes(tmp_path / "pipe.png")
    with pytest.raises(ImageError, match="character device"):
        read_image_bytes("/dev/zero")
    with pytest.raises(ImageError, match="does not exist"):
        read_image_bytes(tmp_path / "missing.png")
