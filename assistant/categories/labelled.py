"""Labelled image sets (``path,label[,split][,group]`` CSV + folder): reading, deduplication, splits, and
matching labels to registry categories. Used by the evaluations and by head training.

Deduplication keeps one image per content hash and then one per near-duplicate group within a label: the
``group`` column's groups when the CSV has one (e.g. jc5's ``neardup_group``), else photos whose difference
hashes differ in at most NEAR_DUPLICATE_BITS of 256 bits. A kept image is a test image when any copy was."""

from __future__ import annotations

import csv
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from assistant.categories.registry import Category, CategoryRegistry, normalize_name
from assistant.errors import AssistantError
from assistant.images import ImageError, decode_image, dhash, near_pairs, read_image_bytes, sha256_bytes

TRAIN_SPLITS = {"train", "training"}
TEST_SPLITS = {"test", "testing", "val", "valid", "validation", "eval"}
#: Column names that carry near-duplicate groups (ids shared by copies of one photo, within a label).
GROUP_COLUMNS = ("group", "duplicate_group", "near_duplicate_group", "neardup_group")
#: Difference hashes this close (of 256 bits) mark near-duplicates: re-encodes, resizes, small crops and edits.
NEAR_DUPLICATE_BITS = 12


class LabelledSetError(AssistantError):
    """The labels file or image folder cannot be used; the message names the file and row."""


@dataclass
class LabelledImage:
    row: int
    path: Path
    label: str
    split: str  # "train" or "test"
    sha256: str = ""
    group: str = ""  # near-duplicate group from the CSV ("" when it has no group column)


def read_labels(labels_csv: Path, images_dir: Path) -> list[LabelledImage]:
    """Rows of ``path,label[,split][,group]``; every problem names its row. Paths are relative to ``images_dir``."""
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
    group_column = next((columns[c] for c in GROUP_COLUMNS if c in columns), None)
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
        split = "train" if split in TRAIN_SPLITS else "test" if split else ""
        group = (row.get(group_column) or "").strip() if group_column else ""
        items.append(LabelledImage(number, path, label, split, group=group))
    if not items:
        raise LabelledSetError(f"{labels_csv} has no rows")
    return items


@dataclass
class DedupReport:
    images: int
    kept: int
    duplicates_removed: int
    conflicting_labels_removed: int
    near_duplicates_removed: int = 0
    near_duplicates_by: str = ""  # how near-duplicates were found: the CSV's group column or the difference hash


def _representative(group: list[LabelledImage]) -> LabelledImage:
    """The copy kept: a test copy when there is one (so no copy of a test image trains), else the earliest row."""
    return min(group, key=lambda i: (i.split != "test", i.row))


def deduplicate(
    items: list[LabelledImage], near_duplicate_bits: int | None = NEAR_DUPLICATE_BITS
) -> tuple[list[LabelledImage], DedupReport]:
    """One image per content hash (a hash seen with two labels is dropped), then one per near-duplicate group
    within a label (``near_duplicate_bits=None`` skips that step). Test copies win over train ones."""
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
        kept.append(_representative(group))
    exact_kept = len(kept)
    method = ""
    if near_duplicate_bits is not None:
        kept, method = _drop_near_duplicates(kept, near_duplicate_bits)
    kept.sort(key=lambda i: i.row)
    dropped = len(items) - exact_kept - conflicting
    return kept, DedupReport(len(items), len(kept), dropped, conflicting, exact_kept - len(kept), method)


def _drop_near_duplicates(items: list[LabelledImage], max_bits: int) -> tuple[list[LabelledImage], str]:
    """One image per near-duplicate group of each label: the CSV's groups when given, else difference hashes."""
    if any(i.group for i in items):
        keys = [(normalize_name(i.label), i.group or f"row {i.row}") for i in items]
        method = "group column"
    else:
        keys = [(normalize_name(i.label), root) for i, root in zip(items, _dhash_clusters(items, max_bits))]
        method = f"difference hash within {max_bits} bits"
    groups: dict[tuple[str, object], list[LabelledImage]] = {}
    for key, item in zip(keys, items):
        groups.setdefault(key, []).append(item)
    return [_representative(g) for g in groups.values()], method


def _dhash_clusters(items: list[LabelledImage], max_bits: int) -> list[int]:
    """Cluster id per item: items of one label linked by chains of hashes at most ``max_bits`` apart."""
    hashes = [_dhash_of(item) for item in items]
    parent = list(range(len(items)))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    labels = [normalize_name(i.label) for i in items]
    for a, b in near_pairs(np.stack(hashes), max_bits):
        if labels[a] == labels[b]:
            parent[root(a)] = root(b)
    return [root(i) for i in range(len(items))]


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


def remove_overlap(
    train: list[LabelledImage], test: list[LabelledImage], max_bits: int = NEAR_DUPLICATE_BITS
) -> tuple[list[LabelledImage], int]:
    """Training images that are not copies (same bytes, or difference hashes within ``max_bits``) of any test
    image, whatever its label, and how many were removed: for evaluating on another set than the one trained on."""
    test_hashes = {i.sha256 for i in test}
    hashes = np.stack([_dhash_of(i) for i in [*train, *test]])
    near = {a for a, b in near_pairs(hashes, max_bits) if a < len(train) <= b}
    kept = [i for n, i in enumerate(train) if n not in near and i.sha256 not in test_hashes]
    return kept, len(train) - len(kept)


def _dhash_of(item: LabelledImage) -> np.ndarray:
    try:
        return dhash(decode_image(read_image_bytes(item.path), str(item.path)))
    except ImageError as exc:
        raise LabelledSetError(f"row {item.row}: {exc}") from exc
