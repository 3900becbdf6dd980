"""Labelled image sets (``path,label[,split]`` CSV + folder): reading, content-hash deduplication,
splits, and matching labels to registry categories. Used by the evaluation and by head training."""

from __future__ import annotations

import csv
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from assistant.categories.registry import Category, CategoryRegistry, normalize_name
from assistant.errors import AssistantError
from assistant.images import ImageError, read_image_bytes, sha256_bytes

TRAIN_SPLITS = {"train", "training"}
TEST_SPLITS = {"test", "testing", "val", "valid", "validation", "eval"}


class LabelledSetError(AssistantError):
    """The labels file or image folder cannot be used; the message names the file and row."""


@dataclass
class LabelledImage:
    row: int
    path: Path
    label: str
    split: str  # "train" or "test"
    sha256: str = ""


def read_labels(labels_csv: Path, images_dir: Path) -> list[LabelledImage]:
    """Rows of ``path,label[,split]``; every problem names its row. Paths are relative to ``images_dir``."""
    labels_csv, images_dir = Path(labels_csv), Path(images_dir)
    if not images_dir.is_dir():
        raise LabelledSetError(f"image folder {images_dir} does not exist")
    try:
        with open(labels_csv, newline="", encoding="utf-8-sig") as f:
            reader = csv.DictReader(f)
            columns = {c.strip().lower(): c for c in reader.fieldnames or []}
            missing = {"path", "label"} - set(columns)
            if missing:
                raise LabelledSetError(
                    f"{labels_csv}: missing column(s) {', '.join(sorted(missing))}; need path,label[,split]"
                )
            rows = list(reader)
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise LabelledSetError(f"cannot read {labels_csv}: {exc}") from exc
    items, split_given = [], "split" in columns
    for number, row in enumerate(rows, start=2):
        rel, label = (row.get(columns["path"]) or "").strip(), (row.get(columns["label"]) or "").strip()
        if not rel or not label:
            raise LabelledSetError(f"{labels_csv}, row {number}: empty {'path' if not rel else 'label'}")
        split = (row.get(columns["split"]) or "").strip().lower() if split_given else ""
        if split and split not in TRAIN_SPLITS | TEST_SPLITS:
            raise LabelledSetError(f"{labels_csv}, row {number}: split {split!r} is neither train nor test")
        path = images_dir / rel
        if not path.is_file():
            raise LabelledSetError(f"{labels_csv}, row {number}: image {path} does not exist")
        items.append(LabelledImage(number, path, label, "train" if split in TRAIN_SPLITS else "test" if split else ""))
    if not items:
        raise LabelledSetError(f"{labels_csv} has no rows")
    return items


@dataclass
class DedupReport:
    images: int
    kept: int
    duplicates_removed: int
    conflicting_labels_removed: int


def deduplicate(items: list[LabelledImage]) -> tuple[list[LabelledImage], DedupReport]:
    """One image per content hash; a hash seen with two labels is dropped; test copies win over train ones."""
    groups: dict[str, list[LabelledImage]] = {}
    for item in items:
        try:
            item.sha256 = sha256_bytes(read_image_bytes(item.path))
        except ImageError as exc:
            raise LabelledSetError(f"row {item.row}: {exc}") from exc
        groups.setdefault(item.sha256, []).append(item)
    kept, conflicting = [], 0
    for group in groups.values():
        if len({normalize_name(i.label) for i in group}) > 1:
            conflicting += len(group)
            continue
        kept.append(min(group, key=lambda i: (i.split != "test", i.row)))
    kept.sort(key=lambda i: i.row)
    dropped = len(items) - len(kept) - conflicting
    return kept, DedupReport(len(items), len(kept), dropped, conflicting)


def assign_splits(items: list[LabelledImage]) -> None:
    """Items without a split alternate train/test within their label, in content-hash order."""
    by_label: dict[str, list[LabelledImage]] = {}
    for item in items:
        if not item.split:
            by_label.setdefault(normalize_name(item.label), []).append(item)
    for group in by_label.values():
        for n, item in enumerate(sorted(group, key=lambda i: i.sha256)):
            item.split = "train" if n % 2 == 0 else "test"


def resolve_categories(labels: Sequence[str], registry: CategoryRegistry) -> tuple[list[Category], dict[str, str]]:
    """The category of each distinct label (a name-only category when the registry has none)."""
    label_map: dict[str, str] = {}
    categories: dict[str, Category] = {}
    for label in sorted(set(labels)):
        name = registry.match_label(label)
        category = registry.get(name) if name else Category(name=label).validated()
        label_map[label] = category.name
        categories.setdefault(category.name, category)
    return [categories[n] for n in sorted(categories)], label_map
