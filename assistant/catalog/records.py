"""The values that cross the product store's interface: products as written and as read, filters, errors.

Invariant: nothing here knows how or where products are stored. A product store (SQLite today, a server
database later) takes and returns only these types, numpy arrays and plain Python values.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime

import numpy as np

from assistant.errors import AssistantError

#: Facets a shopper filters on; stored lower-case.
FACET_COLUMNS = ("category", "metal", "stone")
#: Fields a merchandiser may edit; the ones CLIP reads (TEXT_FIELDS) change the product's vector too.
EDITABLE_FIELDS = frozenset({"title", "description", "category", "metal", "stone", "price", "currency"})
TEXT_FIELDS = frozenset({"title", "description", "category", "metal", "stone"})


class CatalogError(AssistantError):
    """The catalog cannot be opened or changed as asked; the message says what to do."""


class PhotosMissing(CatalogError):
    """A write named stored photos that a concurrent delete removed, and brought no copy of them; nothing was
    written. ``skus`` are the products concerned: the caller may write the others without them."""

    def __init__(self, missing: dict[str, str]):
        self.skus = frozenset(missing)
        named = ", ".join(f"{sku} ({photo!r})" for sku, photo in sorted(missing.items()))
        super().__init__(f"photos no longer in the catalog: {named}; ingest those rows again with their photos")


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


@dataclass(kw_only=True)
class ProductFields:
    """What a shop says about a product."""

    sku: str
    title: str
    description: str = ""
    category: str = ""
    metal: str = ""
    stone: str = ""
    price: float | None = None
    currency: str = ""
    image: str | None = None
    image_sha256: str | None = None
    attributes: dict[str, str] = field(default_factory=dict)


@dataclass(kw_only=True)
class Product(ProductFields):
    """A stored product, as read back from the catalog."""

    id: int
    created_at: str = ""
    updated_at: str = ""

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(kw_only=True)
class ProductRecord(ProductFields):
    """What a write needs: the product's fields, its embedding, the hash of what was embedded, and the
    photo's bytes when it has one, or a loader returning them (the catalog keeps the photo in the same write
    as the row)."""

    vector: np.ndarray
    content_hash: str
    photo: bytes | Callable[[], bytes] | None = field(default=None, repr=False)


@dataclass(frozen=True)
class RemovedProduct:
    """A product a delete took out: what the photo store needs to drop its photo if nothing else uses it."""

    id: int
    sku: str
    image: str | None
    image_sha256: str | None


@dataclass(frozen=True)
class TrashedProduct:
    """A soft-deleted product waiting in the trash: who deleted it and when, and its photo (kept until purged)."""

    id: int
    sku: str
    title: str
    image: str | None
    image_sha256: str | None
    embed_model: str
    deleted_at: str
    deleted_by: str

    def removed(self) -> RemovedProduct:
        return RemovedProduct(self.id, self.sku, self.image, self.image_sha256)


@dataclass(frozen=True)
class AuditEntry:
    """One write: when (ISO UTC), who, which action, on what (a sku, a category, a file), and its details
    (plain JSON values: before and after for an edit, counts for an import)."""

    at: str
    actor: str
    action: str
    target: str = ""
    details: dict = field(default_factory=dict)
    id: int | None = None


@dataclass(frozen=True)
class AuditQuery:
    """Which audit entries to list, newest first: by action, by actor, by target (a substring), since a time, or
    the one entry with ``entry_id``."""

    action: str | None = None
    actor: str | None = None
    target: str | None = None
    since: str | None = None
    limit: int = 500
    entry_id: int | None = None


@dataclass(frozen=True)
class VectorChanges:
    """What changed in the vectors after a generation, read in one snapshot of the store.

    ``ids``/``vectors`` are products added or re-embedded after ``since``, ``removed`` the ids deleted
    after it; ``generation`` and ``count`` (how many products there are) describe the snapshot itself.
    """

    since: int
    generation: int
    count: int
    ids: np.ndarray
    vectors: np.ndarray
    removed: np.ndarray


@dataclass
class StoredRow:
    """A product exactly as stored: every column but the vector (JSON values: ``attributes`` a dict), and its
    vector. What an undo writes back."""

    fields: dict
    vector: np.ndarray

    @property
    def image(self) -> tuple[str, str | None] | None:
        """(sha256, file name) of its photo, or None."""
        sha = self.fields.get("image_sha256")
        return (sha, self.fields.get("image")) if sha else None


@dataclass
class Revision:
    """One product in one audited change (``change``, the id its audit entry names): the row before (None: there
    was no such product) and its stored columns after (None: the change removed it), the latter to tell whether
    anything changed the product since."""

    change: str
    sku: str
    before: StoredRow | None
    after: dict | None
    at: str


@dataclass(frozen=True)
class Filters:
    """Facet filters; text fields match case-insensitively, any of several values when given a list."""

    category: str | Sequence[str] | None = None
    metal: str | Sequence[str] | None = None
    stone: str | Sequence[str] | None = None
    min_price: float | None = None
    max_price: float | None = None

    def is_empty(self) -> bool:
        values = (self.category, self.metal, self.stone, self.min_price, self.max_price)
        return all(v in (None, "", []) for v in values)

    def facets(self) -> dict[str, list[str]]:
        """{facet: the lower-case values it may take} for each facet that is constrained."""
        chosen = {}
        for column in FACET_COLUMNS:
            value = getattr(self, column)
            values = [value] if isinstance(value, str) else list(value or [])
            values = [v.strip().lower() for v in values if v and v.strip()]
            if values:
                chosen[column] = values
        return chosen


def normalise_edit(fields: dict) -> dict:
    """Check that only editable fields are named and store facets lower-case, as ingest does."""
    unknown = set(fields) - EDITABLE_FIELDS
    if unknown:
        raise CatalogError(f"cannot edit {', '.join(sorted(unknown))}; editable: {', '.join(sorted(EDITABLE_FIELDS))}")
    fields = dict(fields)
    for key in FACET_COLUMNS:
        if key in fields:
            fields[key] = (fields[key] or "").strip().lower()
    return fields
