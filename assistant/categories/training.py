"""Meta-train a catalog's few-shot head, from labelled photos or from the catalog's own categorised products.

Once a head is installed, the catalog's categories are learned by MAML (text prior blended with the
example photos, then a few adaptation steps), which won the evaluation; without one they use the
prototype blend.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from assistant.catalog import Catalog, now_iso
from assistant.categories.catalog_labels import CatalogCategories
from assistant.categories.fewshot import MamlConfig, meta_train_head
from assistant.categories.labelled import LabelledSetError, deduplicate, read_labels, resolve_categories
from assistant.categories.prototypes import category_prompts
from assistant.clip.embedder import Embedder
from assistant.errors import TrainingDataError
from assistant.metalearning import final_loss


@dataclass
class TrainingSet:
    vectors: np.ndarray  # [n, d] unit rows
    labels: list[str]  # raw labels, matched to categories by name or synonym
    source: str


def catalog_training_set(catalog: Catalog) -> TrainingSet:
    """The catalog's products that have a category, with their stored vectors."""
    labelled = [p for p in catalog.products() if p.category]
    ids, vectors = catalog.vectors([p.id for p in labelled])
    by_id = {p.id: p.category for p in labelled}
    return TrainingSet(vectors, [by_id[int(i)] for i in ids], f"catalog {catalog.root} (product categories)")


def image_training_set(
    embedder: Embedder, labels_csv: Path, images_dir: Path, progress: Callable[[int, int], None] | None = None
) -> TrainingSet:
    """Deduplicated labelled photos; rows marked as test are left out so an evaluation on them stays fair."""
    items, _ = deduplicate(read_labels(labels_csv, images_dir))
    items = [i for i in items if i.split != "test"]
    result = embedder.embed_images([i.path for i in items], progress=progress)
    return TrainingSet(result.vectors, [items[i].label for i in result.ok], f"{labels_csv} (non-test rows)")


def train_catalog_head(
    owner: CatalogCategories, data: TrainingSet, config: MamlConfig, progress: Callable[[int, int], None] | None = None
) -> dict:
    """Meta-train on ``data``, install the head in the catalog and re-classify; returns what it trained on."""
    if not data.labels:
        raise LabelledSetError(f"{data.source} has no labelled items to meta-train on")
    categories, label_map = resolve_categories(data.labels, owner.registry)
    names = [c.name for c in categories]
    class_text = np.stack([owner.builder.text_prototype(category_prompts(c)) for c in categories])
    item_classes = np.array([names.index(label_map[label]) for label in data.labels])
    try:
        maml, report = meta_train_head(
            data.vectors, item_classes, class_text, owner.builder.logit_scale, config, progress
        )
    except TrainingDataError as exc:
        raise TrainingDataError(f"{data.source}: {exc}") from exc
    summary = {
        "source": data.source,
        "trained_at": now_iso(),
        "categories": sorted(names[c] for c in report.classes_seen),
        "items_seen": len(report.items_seen),
        "final_loss": final_loss(report.losses),
        "config": asdict(maml.config),
    }
    owner.install_head(maml, summary)
    return summary
