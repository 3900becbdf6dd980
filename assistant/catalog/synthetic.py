"""A synthetic demo catalog: CSV rows and PIL-drawn product photos, for first runs, tests and benchmarks.

Everything it writes is labelled synthetic (sku prefix ``SYN-``, "Synthetic demo product" in the text).
"""

from __future__ import annotations

import csv
import math
import random
from pathlib import Path

from PIL import Image, ImageDraw

METAL_COLOURS = {
    "yellow gold": (212, 175, 55),
    "white gold": (214, 216, 222),
    "rose gold": (190, 120, 110),
    "silver": (170, 172, 178),
    "platinum": (229, 228, 226),
}
STONE_COLOURS = {
    "diamond": (200, 240, 255),
    "pearl": (245, 238, 220),
    "emerald": (40, 160, 90),
    "ruby": (200, 20, 70),
    "sapphire": (20, 70, 180),
    "none": None,
}
CATEGORIES = ("ring", "earring", "necklace", "bracelet", "pendant")
STYLES = ("vintage", "minimalist", "classic", "art deco", "bohemian", "modern")
METAL_PRICE = {"yellow gold": 420, "white gold": 460, "rose gold": 430, "silver": 60, "platinum": 900}
STONE_PRICE = {"diamond": 1200, "pearl": 150, "emerald": 700, "ruby": 650, "sapphire": 600, "none": 0}
CATEGORY_PRICE = {"ring": 1.0, "earring": 0.9, "necklace": 1.4, "bracelet": 1.2, "pendant": 0.8}


def draw_product(category: str, metal: str, stone: str, rng: random.Random, size: int = 160) -> Image.Image:
    """A simple line drawing of a jewelry piece in its metal and stone colours, on white."""
    img = Image.new("RGB", (size, size), (255, 255, 255))
    d = ImageDraw.Draw(img)
    m = METAL_COLOURS[metal]
    s = STONE_COLOURS[stone]
    c = size / 2 + rng.uniform(-6, 6)
    w = max(3, size // 24)
    gem = size * rng.uniform(0.07, 0.1)

    def jewel(x: float, y: float, r: float = gem) -> None:
        if s is not None:
            d.ellipse([x - r, y - r, x + r, y + r], fill=s, outline=m, width=2)

    if category == "ring":
        r = size * 0.28
        d.ellipse([c - r, c - r * 0.8, c + r, c + r * 1.1], outline=m, width=w)
        jewel(c, c - r * 0.8)
    elif category == "earring":
        for x in (c - size * 0.2, c + size * 0.2):
            d.ellipse([x - 6, size * 0.2, x + 6, size * 0.2 + 12], outline=m, width=3)
            d.line([x, size * 0.3, x, size * 0.55], fill=m, width=w // 2 + 1)
            jewel(x, size * 0.62, gem * 1.1)
    elif category == "necklace":
        d.arc([size * 0.12, -size * 0.35, size * 0.88, size * 0.75], 20, 160, fill=m, width=w)
        for a in range(30, 151, 30):
            x = c + size * 0.37 * math.cos(math.radians(a))
            y = size * 0.2 + size * 0.55 * math.sin(math.radians(a))
            jewel(x, y, gem * 0.5)
    elif category == "bracelet":
        d.ellipse([size * 0.12, size * 0.3, size * 0.88, size * 0.7], outline=m, width=w)
        for a in range(0, 360, 45):
            angle = math.radians(a)
            jewel(c + size * 0.38 * math.cos(angle), size / 2 + size * 0.2 * math.sin(angle), gem * 0.45)
    else:  # pendant
        d.line([size * 0.2, size * 0.1, c, size * 0.45], fill=m, width=2)
        d.line([size * 0.8, size * 0.1, c, size * 0.45], fill=m, width=2)
        diamond = [(c, size * 0.45), (c - gem * 2, size * 0.62), (c, size * 0.85), (c + gem * 2, size * 0.62)]
        d.polygon(diamond, outline=m, fill=m)
        jewel(c, size * 0.64, gem * 1.2)
    return img


def synthetic_rows(n: int, seed: int = 0) -> list[dict]:
    """n product rows with category, metal, stone, style and a price that follows them."""
    rng = random.Random(seed)
    rows = []
    for i in range(n):
        category = CATEGORIES[i % len(CATEGORIES)]
        metal = rng.choice(list(METAL_COLOURS))
        stone = rng.choice(list(STONE_COLOURS))
        style = rng.choice(STYLES)
        price = (METAL_PRICE[metal] + STONE_PRICE[stone]) * CATEGORY_PRICE[category] * rng.uniform(0.8, 1.25)
        stone_words = "" if stone == "none" else f" {stone}"
        rows.append(
            {
                "sku": f"SYN-{i + 1:05d}",
                "title": f"{style.title()} {metal}{stone_words} {category}",
                "description": f"Synthetic demo product: a {style} {category} in {metal}"
                + (f" set with {stone}." if stone != "none" else " with no stone."),
                "category": category,
                "metal": metal,
                "stone": stone,
                "price": f"{price:.2f}",
                "currency": "USD",
                "image": f"SYN-{i + 1:05d}.png",
                "style": style,
            }
        )
    return rows


def write_synthetic_catalog(out_dir: str | Path, n: int = 60, seed: int = 0, image_size: int = 160) -> Path:
    """Write ``out_dir/products.csv`` and ``out_dir/images/*.png``; returns the CSV path."""
    out_dir = Path(out_dir)
    images = out_dir / "images"
    images.mkdir(parents=True, exist_ok=True)
    rows = synthetic_rows(n, seed)
    rng = random.Random(seed + 1)
    for row in rows:
        draw_product(row["category"], row["metal"], row["stone"], rng, image_size).save(images / row["image"])
    csv_path = out_dir / "products.csv"
    with open(csv_path, "w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return csv_path


def prefixed_copy(source: Path, out: Path, prefix: str, n: int | None = None) -> Path:
    """The first ``n`` rows (all when None) of a CSV with skus renamed PREFIX-...; photo names unchanged, so
    the copy shares the source's photo files (for tests and benchmarks that ingest the same products twice)."""
    with open(source, newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))[:n]
    for row in rows:
        row["sku"] = f"{prefix}-{row['sku']}"
    with open(out, "w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return out
