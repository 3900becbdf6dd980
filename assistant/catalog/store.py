"""The product store's interface: where products, their vectors and the catalog's generation live.

Invariant: the store is the source of truth, and its generation counts its committed writes. Every
write runs in one all-or-nothing transaction, serialised against every other writer in every process,
that reads the generation it starts from and, when it changed anything, commits the next one together
with the change; every row whose vector a write touched, and every id it deleted, is stamped with that
generation. So ``changes_since(g)`` (read in one snapshot) tells any cache that holds the catalog as of
generation ``g`` exactly what to apply to hold it as of the snapshot's generation.

``SQLiteProductStore`` (``sqlite_store.py``) implements it in the catalog folder; a server database can
implement it too. Implementations take and return only the types of ``records.py``, numpy arrays and
plain values.
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager

import numpy as np

from assistant.catalog.records import (
    AuditEntry,
    AuditQuery,
    Filters,
    Product,
    ProductRecord,
    RemovedProduct,
    Revision,
    StoredRow,
    TrashedProduct,
    VectorChanges,
)


def json_text(value) -> str | None:
    """A JSON column's text (None stays NULL)."""
    return None if value is None else json.dumps(value, ensure_ascii=False, sort_keys=True)


def revision_row(r: Revision, vector_bytes: Callable[[np.ndarray], bytes]) -> tuple:
    """A revision as the revisions table's columns: change, sku, product id, before (JSON), before's vector,
    before's photo hash and file name, after (JSON), at."""
    image = r.before.image if r.before is not None else None
    product_id = (r.before.fields if r.before is not None else r.after or {}).get("id")
    before = None if r.before is None else r.before.fields
    vector = None if r.before is None else vector_bytes(r.before.vector)
    return (r.change, r.sku, product_id, json_text(before), vector, *(image or (None, None)), json_text(r.after), r.at)


class ProductWriter(ABC):
    """The writes of one store transaction; nothing is visible to others until the transaction commits."""

    #: The generation this transaction started from; it commits ``generation + 1`` if it changed anything.
    generation: int

    @abstractmethod
    def upsert(self, records: Sequence[ProductRecord], model_spec: str, stamp: str) -> list[int]:
        """Insert products, or update them by sku (keeping their ids); returns their ids in order."""

    @abstractmethod
    def update(
        self, sku: str, fields: dict, stamp: str, embedding: tuple[np.ndarray, str, str] | None = None
    ) -> int | None:
        """Change editable fields of one product, and with ``embedding`` (vector, content hash, model) its
        vector; returns its id, or None when there is no such sku."""

    @abstractmethod
    def delete(self, skus: Sequence[str]) -> list[RemovedProduct]:
        """Delete products by sku; returns those that existed."""

    @abstractmethod
    def store_vectors(
        self, ids: Sequence[int], vectors: np.ndarray, hashes: Sequence[str], model_spec: str, stamp: str
    ) -> None:
        """Replace the vectors of existing products (a re-embedding with ``model_spec``)."""

    @abstractmethod
    def photo_in_use(self, sha256: str) -> bool:
        """Whether any product, any product in the trash, or any product as a revision kept it (as this
        transaction sees them), still shows the photo with this hash."""

    @abstractmethod
    def trash(self, skus: Sequence[str], stamp: str, actor: str) -> list[TrashedProduct]:
        """Move products to the trash, vectors included: gone from every read, as a delete is, until
        restored; returns those that existed."""

    @abstractmethod
    def restore(self, sku: str, model_spec: str, stamp: str) -> int:
        """Bring the latest trashed product with this sku back, with its id and vector; returns the id.
        Raises ``CatalogError`` when none is trashed, when the sku is in the catalog again, or when its
        vector was made with another model than ``model_spec``."""

    @abstractmethod
    def purge_trash(self, before: str | None) -> list[TrashedProduct]:
        """Drop trashed products for good: all, or those trashed at or before the ISO time ``before``."""

    @abstractmethod
    def append_audit(self, entry: AuditEntry) -> int:
        """Append one entry to the audit trail (commits with this transaction); returns its id."""

    # ------------------------------------------------------------- revisions: what lets a change be undone
    @abstractmethod
    def rows(self, skus: Sequence[str]) -> dict[str, StoredRow]:
        """The products with these skus exactly as stored (skus not in the catalog are left out)."""

    @abstractmethod
    def keep_revisions(self, revisions: Sequence[Revision]) -> None:
        """Keep what a change did to each product (a change that touches a product twice keeps its first
        ``before`` and its last ``after``)."""

    @abstractmethod
    def trashed_row(self, product_id: int) -> dict | None:
        """The columns of the product with this id as the trash holds it (None: not in the trash)."""

    @abstractmethod
    def revisions(self, change: str) -> list[Revision]:
        """What ``change`` kept, by sku."""

    @abstractmethod
    def put_row(self, row: StoredRow) -> None:
        """Write a product row back exactly as given (same id; out of the trash if it is there), its vector
        stamped with this transaction's generation."""

    @abstractmethod
    def drop_revisions(self, before: str | None = None, product_ids: Sequence[int] = ()) -> list[tuple[str, str]]:
        """Forget the revisions kept at or before the ISO time ``before``, and those of ``product_ids`` (purged
        for good); returns the (sha256, file name) of the photos they kept."""


class ProductStore(ABC):
    """Products and their unit vectors of one dimension, with a generation that every commit advances."""

    dim: int

    @abstractmethod
    def write(self) -> AbstractContextManager[ProductWriter]:
        """One write transaction: commits when the block ends, rolls back if it raises."""

    @abstractmethod
    def generation(self) -> int:
        """The generation of the latest commit, by this process or another."""

    @abstractmethod
    def changes_since(self, generation: int) -> VectorChanges:
        """Vectors added or changed, and ids removed, after ``generation`` (every vector when it is -1)."""

    @abstractmethod
    def count(self, filters: Filters | None = None) -> int: ...

    @abstractmethod
    def products(self, filters: Filters | None = None, limit: int | None = None, offset: int = 0) -> list[Product]:
        """Products in id order, those the filters allow."""

    @abstractmethod
    def get(self, ids: Sequence[int]) -> list[Product]:
        """Products by id in the order asked; ids no longer stored are left out."""

    @abstractmethod
    def get_by_sku(self, sku: str) -> Product | None: ...

    @abstractmethod
    def ids_matching(self, filters: Filters) -> np.ndarray:
        """int64 ids of the products the filters allow."""

    @abstractmethod
    def vectors(self, ids: Sequence[int] | None = None) -> tuple[np.ndarray, np.ndarray]:
        """(int64 ids, float32 [n, dim] vectors): in the order asked, or every product in id order."""

    @abstractmethod
    def content_hashes(self) -> dict[str, tuple[str, str]]:
        """sku -> (content hash, model it was embedded with)."""

    @abstractmethod
    def facet_values(self, column: str) -> list[str]:
        """The distinct non-empty values of a facet (category, metal, stone, currency), sorted."""

    @abstractmethod
    def price_range(self) -> tuple[float, float] | None: ...

    @abstractmethod
    def products_to_reembed(self, model_spec: str) -> list[Product]:
        """Products whose vectors were not made with ``model_spec``, in id order."""

    @abstractmethod
    def trashed(self) -> list[TrashedProduct]:
        """The trash, most recently deleted first."""

    @abstractmethod
    def audit_entries(self, query: AuditQuery) -> list[AuditEntry]:
        """Audit entries matching the query, newest first."""

    @abstractmethod
    def close(self) -> None:
        """Release this thread's connection; the store reconnects when used again."""
