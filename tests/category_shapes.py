"""A generated labelled image set for category tests: one coloured shape per class, varied in place and size."""

from __future__ import annotations

import csv
import random
from pathlib import Path

from PIL import Image, ImageDraw

SHAPES = {
    "red circle": ((220, 30, 30), "circle"),
    "blue square": ((30, 60, 220), "square"),
    "green triangle": ((30, 170, 60), "triangle"),
    "yellow diamond": ((230, 200, 20), "diamond"),
    "purple bar": ((140, 40, 170), "bar"),
}


def draw_shape(colour: tuple[int, int, int], shape: str, rng: random.Random, size: int = 64) -> Image.Image:
    background = tuple(rng.randint(225, 255) for _ in range(3))
    img = Image.new("RGB", (size, size), background)
    d = ImageDraw.Draw(img)
    r = rng.uniform(0.22, 0.38) * size
    cx, cy = rng.uniform(r, size - r), rng.uniform(r, size - r)
    if shape == "circle":
        d.ellipse([cx - r, cy - r, cx + r, cy + r], fill=colour)
    elif shape == "square":
        d.rectangle([cx - r, cy - r, cx + r, cy + r], fill=colour)
    elif shape == "triangle":
        d.polygon([(cx, cy - r), (cx - r, cy + r), (cx + r, cy + r)], fill=colour)
    elif shape == "diamond":
        d.polygon([(cx, cy - r), (cx + r, cy), (cx, cy + r), (cx - r, cy)], fill=colour)
    else:
        d.rectangle([cx - r, cy - r / 3, cx + r, cy + r / 3], fill=colour)
    return img


def write_shapes_dataset(
    out_dir: Path, per_class: int = 24, seed: int = 0, with_split: bool = True, duplicates: int = 0
) -> Path:
    """Images in ``out_dir/images`` and ``out_dir/labels.csv`` (path,label[,split]); half of each class is test.

    ``duplicates`` extra rows re-list existing images (same bytes) under new names, to exercise deduplication.
    """
    rng = random.Random(seed)
    images = out_dir / "images"
    images.mkdir(parents=True, exist_ok=True)
    rows = []
    for label, (colour, shape) in SHAPES.items():
        for i in range(per_class):
            name = f"{shape}_{i:03d}.png"
            draw_shape(colour, shape, rng).save(images / name)
            rows.append({"path": f"images/{name}", "label": label.upper(), "split": "test" if i % 2 else "training"})
    for i in range(duplicates):
        source = rows[i]
        copy = f"images/dup_{i:03d}.png"
        (out_dir / copy).write_bytes((out_dir / source["path"]).read_bytes())
        rows.append({**source, "path": copy, "split": "training"})
    labels = out_dir / "labels.csv"
    with open(labels, "w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=["path", "label", "split"] if with_split else ["path", "label"])
        writer.writeheader()
        writer.writerows([r if with_split else {k: r[k] for k in ("path", "label")} for r in rows])
    return labels
