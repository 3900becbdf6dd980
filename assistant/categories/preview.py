"""Merchandiser preview: what a draft category would take from the catalog, before anything is saved.

``preview_category(...)`` builds the draft's prototype (text, plus photos if given), adds its column to
the catalog's similarity table in memory and re-decides every product: the products the draft would
take (with probabilities), how many come from each existing category, the nearest existing category
and the margin. Nothing is written until ``apply()``; ``discard()`` drops the draft.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from assistant.catalog import Catalog, Product
from assistant.categories.catalog_labels import CATEGORY, CatalogCategories, RefreshReport
from assistant.categories.classifier import Classifier
from assistant.categories.registry import UNKNOWN, Category, CategoryRegistry, RegistryError
from assistant.clip.embedder import Embedder, ImageSource


@dataclass
class TakenProduct:
    product: Product
    probability: float  # of the draft category, as the catalog would classify the product
    similarity: float  # cosine to the draft prototype
    previous: str  # the product's label before the draft ("unknown" included)


@dataclass
class Preview:
    """A draft category's effect on the catalog. ``apply()`` saves it; ``discard()`` forgets it."""

    category: Category
    prototype: np.ndarray
    taken: list[TakenProduct]
    taken_from: dict[str, int]  # previous label -> how many products the draft takes from it
    nearest_category: str | None  # the existing category whose prototype is most similar to the draft's
    nearest_similarity: float | None  # cosine between the two prototypes
    margin: float | None  # median, over taken products, of (cosine to draft - cosine to nearest category)
    is_update: bool
    _owner: CatalogCategories = field(repr=False)
    _photos: list[ImageSource] = field(default_factory=list, repr=False)
    state: str = "draft"

    def apply(self) -> RefreshReport:
        """Save the draft (and its photos) in the registry and re-classify the catalog incrementally."""
        self._check_draft()
        if self.is_update:
            c = self.category
            report = self._owner.update(
                c.name, photos=self._photos, description=c.description, synonyms=c.synonyms, zh=c.zh, parent=c.parent
            )
        else:
            report = self._owner.add(Category(**{**self.category.to_dict(), "examples": []}), photos=self._photos)
        self.state = "applied"
        return report

    def discard(self) -> None:
        self._check_draft()
        self.state = "discarded"

    def _check_draft(self) -> None:
        if self.state != "draft":
            raise RegistryError(f"this preview of {self.category.name!r} was already {self.state}")

    def to_dict(self, limit: int = 50) -> dict:
        return {
            "category": self.category.name,
            "taken": len(self.taken),
            "taken_from": self.taken_from,
            "nearest_category": self.nearest_category,
            "nearest_similarity": self.nearest_similarity,
            "margin": self.margin,
            "products": [
                {
                    "sku": t.product.sku,
                    "title": t.product.title,
                    "probability": round(t.probability, 4),
                    "similarity": round(t.similarity, 4),
                    "previous": t.previous,
                }
                for t in self.taken[:limit]
            ],
        }


def preview_draft(
    owner: CatalogCategories,
    name: str,
    description: str = "",
    photos: Sequence[ImageSource] | None = None,
    synonyms: Sequence[str] = (),
    zh: Sequence[str] = (),
    parent: str | None = None,
) -> Preview:
    """Preview a new category, or a change to an existing one of the same name, on ``owner``'s catalog."""
    registry = owner.registry
    draft = Category(
        name=name, description=description, synonyms=list(synonyms), zh=list(zh), parent=parent
    ).validated()
    is_update = draft.name in registry
    if is_update:
        draft.examples = registry.get(draft.name).examples
    others = [c for c in registry if c.name != draft.name]
    drafted = CategoryRegistry([*others, draft], registry.root, registry.unknown_below)  # raises on a bad parent
    photo_vectors = owner.builder.photo_vectors(list(photos or []))
    labels = owner.builder.category_labels(drafted, owner.head, {draft.name: photo_vectors})

    table, before = owner.decisions(CATEGORY)
    ids, vectors = owner.product_vectors()
    matrix = labels.similarities(vectors) if len(ids) else np.zeros((0, len(labels)), np.float32)
    after = Classifier(labels, registry.unknown_below).decide(matrix)
    position = labels.position(draft.name)
    prototype = labels.vectors[position]
    taken_rows = np.flatnonzero(after.label_index == position)
    previous = [table.keys[c] if c >= 0 else UNKNOWN for c in before.label_index[taken_rows]]
    nearest = [(k, s) for k, s in labels.nearest(prototype, 2) if k != draft.name][:1]
    margin = None
    if len(taken_rows) and nearest:
        nearest_column = matrix[taken_rows, labels.position(nearest[0][0])]
        margin = float(np.median(matrix[taken_rows, position] - nearest_column))
    products = {p.id: p for p in owner.catalog.get(ids[taken_rows].tolist())}
    taken = [
        TakenProduct(products[int(ids[r])], float(after.label_probability[r]), float(matrix[r, position]), prev)
        for r, prev in zip(taken_rows, previous)
        if int(ids[r]) in products
    ]
    taken.sort(key=lambda t: -t.probability)
    return Preview(
        category=draft,
        prototype=prototype,
        taken=taken,
        taken_from=dict(Counter(previous).most_common()),
        nearest_category=nearest[0][0] if nearest else None,
        nearest_similarity=float(nearest[0][1]) if nearest else None,
        margin=margin,
        is_update=is_update,
        _owner=owner,
        _photos=list(photos or []),
    )


def preview_category(
    catalog: Catalog,
    embedder: Embedder,
    name: str,
    description: str = "",
    photos: Sequence[ImageSource] | None = None,
    **fields,
) -> Preview:
    """Preview a draft category on a catalog (see ``preview_draft``); ``fields``: synonyms, zh, parent."""
    return preview_draft(CatalogCategories(catalog, embedder), name, description, photos, **fields)
