"""A catalog: a small facade over a product store, a photo store and an index sync.

Invariant: the product store is the source of truth, vectors included; the FAISS index (in memory and
in the folder's file) is a cache of it that ``IndexSync`` keeps in step. Every write commits to the store
first and the index follows from what the store says changed, so after a crash (even kill -9 mid-ingest)
or another process's writes, the next search catches up: the counts always agree again. A committed
product's photo always exists: writes put it back inside their transaction if a concurrent delete took
it, and deletes remove a photo only inside a store write that sees no product showing it. A write given a
change id keeps the rows it touched, as they were and after, in its own transaction (``undo_change`` puts
them back exactly, or refuses when any changed since); a photo such a revision keeps stays until it is
dropped (``purge_revisions``).

Folder layout: ``manifest.json`` (``manifest.py``), ``catalog.db`` (``sqlite_store.py``), ``images/``
(``photos.py``), ``index.faiss`` (``index_sync.py``).
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from assistant.atomic import remove_stale_temp_files
from assistant.catalog.index_sync import IndexSync
from assistant.catalog.location import is_database_url
from assistant.catalog.manifest import DEFAULT_IMAGE_WEIGHT, FORMAT_VERSION, MANIFEST_NAME, Manifest
from assistant.catalog.photos import PhotoStore
from assistant.catalog.records import (
    EDITABLE_FIELDS,
    TEXT_FIELDS,
    CatalogError,
    Filters,
    PhotosMissing,
    Product,
    ProductRecord,
    Revision,
    StoredRow,
    TrashedProduct,
    normalise_edit,
    now_iso,
)
from assistant.catalog.sqlite_store import SQLiteProductStore
from assistant.catalog.store import ProductStore, ProductWriter
from assistant.catalog.vector_index import INDEX_KINDS, VectorIndex

log = logging.getLogger(__name__)

__all__ = [
    "DEFAULT_IMAGE_WEIGHT",
    "INDEX_NAME",
    "MANIFEST_NAME",
    "Catalog",
    "CatalogError",
    "Filters",
    "Hit",
    "Manifest",
    "Product",
    "ProductRecord",
    "now_iso",
]

DB_NAME = "catalog.db"
INDEX_NAME = "index.faiss"
IMAGES_DIR = "images"


@dataclass
class Hit:
    product: Product
    score: float

    def to_dict(self) -> dict:
        d = self.product.to_dict()
        d["score"] = round(float(self.score), 6)
        return d


def _read_manifest(root: Path, model_spec: str, index_kind: str | None, allow_reindex: bool) -> Manifest:
    """The manifest of an existing catalog, refused when its vectors are not in ``model_spec``'s space."""
    manifest_path = root / MANIFEST_NAME
    manifest = Manifest.read(manifest_path)
    check_manifest(manifest, str(root), model_spec, allow_reindex)
    if index_kind and index_kind != manifest.index_kind:
        manifest.index_kind = index_kind
        manifest.write(manifest_path)
    return manifest


def check_manifest(manifest: Manifest, root: str, model_spec: str, allow_reindex: bool) -> None:
    """Refuse a catalog (at ``root``, a folder or a database) whose vectors are not in ``model_spec``'s space."""
    if manifest.format_version > FORMAT_VERSION:
        raise CatalogError(f"{root} was written by a newer version of this program (format {manifest.format_version})")
    if not allow_reindex:
        if manifest.reindex_target:
            raise CatalogError(
                f"catalog {root} is half way through re-embedding with {manifest.reindex_target!r}; finish it "
                f"with: python -m assistant --catalog {root} --model {manifest.reindex_target} reindex"
            )
        if manifest.model_spec != model_spec:
            raise CatalogError(
                f"catalog {root} was built with model {manifest.model_spec!r}, not {model_spec!r}: its vectors "
                f"are in another space. Use --model {manifest.model_spec} (or ASSISTANT_MODEL), or re-embed it "
                f"with: python -m assistant --catalog {root} --model {model_spec} reindex"
            )


def _new_manifest(root: Path, model_spec: str, dim: int | None, index_kind: str | None, create: bool) -> Manifest:
    if not create:
        raise CatalogError(
            f"no catalog at {root}; create one with: "
            f"python -m assistant --catalog {root} ingest PRODUCTS.csv --images DIR"
        )
    if dim is None:
        raise CatalogError("a new catalog needs the embedding dimension of its model")
    root.mkdir(parents=True, exist_ok=True)
    return Manifest(model_spec=model_spec, dim=int(dim), index_kind=index_kind or "auto")


class UndoRefused(CatalogError):
    """An audited change cannot be undone as asked (changed again since, purged, another model); says why."""


def new_change_id() -> str:
    """The id of one audited change: its audit entry names it, its revisions are kept under it."""
    return uuid.uuid4().hex


def _state(fields: dict | None) -> str:
    """A product's stored columns in one comparable form (None: not in the catalog)."""
    return json.dumps(fields, ensure_ascii=False, sort_keys=True, default=str)


class Catalog:
    """One catalog folder. Thread-safe for the app: threads share one catalog, the store and the index
    sync serialise what must be."""

    EDITABLE_FIELDS = EDITABLE_FIELDS
    #: How this kind of catalog keeps its index in step with its store.
    index_sync_class = IndexSync
    TEXT_FIELDS = TEXT_FIELDS

    def __init__(
        self, root: Path, manifest: Manifest, store: ProductStore, photos: PhotoStore, index_file: Path | None = None
    ):
        """``root`` is the folder of the catalog's files; ``index_file`` None keeps the index in memory only."""
        self.root = root
        self.manifest = manifest
        self.store = store
        self.photos = photos
        self.index = self.index_sync_class(store, index_file, manifest.dim, manifest.index_kind)

    # ----------------------------------------------------------------- opening
    @classmethod
    def open(
        cls,
        root: str | Path,
        model_spec: str,
        dim: int | None = None,
        index_kind: str | None = None,
        create: bool = True,
        allow_reindex: bool = False,
    ) -> Catalog:
        """Open (or create) the catalog in ``root`` for vectors of ``model_spec``.

        A catalog built with another model is refused: its vectors live in another space. Pass
        ``allow_reindex`` only to re-embed it (the ``reindex`` command).
        """
        if is_database_url(root):
            from assistant.catalog.postgres.catalog import PostgresCatalog  # psycopg only where a database is used

            return PostgresCatalog.open_url(str(root), model_spec, dim, index_kind, create, allow_reindex)
        root = Path(root)
        if index_kind is not None and index_kind not in INDEX_KINDS:
            raise CatalogError(f"unknown index kind {index_kind!r}; choose one of {', '.join(INDEX_KINDS)}")
        if (root / MANIFEST_NAME).exists():
            manifest = _read_manifest(root, model_spec, index_kind, allow_reindex)
        else:
            manifest = _new_manifest(root, model_spec, dim, index_kind, create)
        for leftover in remove_stale_temp_files(root):
            log.info("removed %s, left behind by a writer that was killed", leftover)
        store = SQLiteProductStore(root / DB_NAME, manifest.dim)
        if not (root / MANIFEST_NAME).exists():
            manifest.write(root / MANIFEST_NAME)
        (root / IMAGES_DIR).mkdir(exist_ok=True)
        catalog = cls(root, manifest, store, PhotoStore(root / IMAGES_DIR), root / INDEX_NAME)
        if not manifest.reindex_target and manifest.model_spec == model_spec:
            catalog.index.refresh()
        return catalog

    @property
    def model_spec(self) -> str:
        return self.manifest.model_spec

    @property
    def dim(self) -> int:
        return self.manifest.dim

    @property
    def index_path(self) -> Path:
        return self.index.path

    @property
    def manifest_path(self) -> Path:
        return self.root / MANIFEST_NAME

    @property
    def location(self) -> str:
        """The catalog as ``--catalog`` names it: its folder (or its database URL, without a password)."""
        return str(self.root)

    def save_manifest(self) -> None:
        """Persist a change to ``self.manifest`` where this catalog keeps it."""
        self.manifest.write(self.manifest_path)

    def publish_file(self, name: str) -> None:
        """Called after writing or removing ``root/name`` (a registry, a trained head): a folder keeps it right
        there; a shared database stores it for every other server (``PostgresCatalog``)."""

    def close(self) -> None:
        self.store.close()

    # ----------------------------------------------------------------- reads (the store's)
    @property
    def generation(self) -> int:
        """Changes on every committed write, by this process or another: a cache key for derived data."""
        return self.store.generation()

    def count(self, filters: Filters | None = None) -> int:
        return self.store.count(filters)

    def products(self, filters: Filters | None = None, limit: int | None = None, offset: int = 0) -> list[Product]:
        return self.store.products(filters, limit, offset)

    def get(self, ids: Sequence[int]) -> list[Product]:
        """Products by id in the order asked; ids no longer in the catalog are left out."""
        return self.store.get(ids)

    def get_by_sku(self, sku: str) -> Product | None:
        return self.store.get_by_sku(sku)

    def content_hashes(self) -> dict[str, tuple[str, str]]:
        """sku -> (content hash, model it was embedded with): what an ingest may skip."""
        return self.store.content_hashes()

    def facet_values(self, column: str) -> list[str]:
        return self.store.facet_values(column)

    def price_range(self) -> tuple[float, float] | None:
        return self.store.price_range()

    def vectors(self, ids: Sequence[int] | None = None) -> tuple[np.ndarray, np.ndarray]:
        """(int64 ids, float32 [n, dim] unit vectors) from the store, all products when ids is None."""
        return self.store.vectors(ids)

    def ids_matching(self, filters: Filters) -> np.ndarray:
        return self.store.ids_matching(filters)

    def image_path(self, product: Product) -> Path | None:
        return self.photos.path(product.image_sha256, product.image) if product.image_sha256 else None

    # ----------------------------------------------------------------- writes
    def upsert(self, records: Sequence[ProductRecord], change: str | None = None) -> list[int]:
        """Insert or update products by sku, with their photos, in one transaction; the index follows.
        Returns their ids. With ``change``, the rows as they were are kept under that id (``undo_change``)."""
        if not records:
            return []
        for r in records:
            if np.shape(r.vector) != (self.dim,):
                raise CatalogError(
                    f"product {r.sku}: vector has shape {np.shape(r.vector)}, catalog needs ({self.dim},)"
                )
            if r.photo is not None:
                self.photos.put(r.photo, r.image_sha256, r.image)  # the slow part, before taking the write lock
        stamp = now_iso()
        with self.store.write() as writer, self._revised(writer, change, [r.sku for r in records], stamp):
            self._check_photos(records)
            ids = writer.upsert(records, self.model_spec, stamp)
        self.index.refresh()
        return ids

    def _check_photos(self, records: Sequence[ProductRecord]) -> None:
        """Inside the write: put back a photo that a concurrent delete removed before this write began; raise
        ``PhotosMissing`` (writing nothing) for those that brought no copy, naming every one of them."""
        missing = {}
        for r in records:
            if r.image_sha256 and not self.photos.has(r.image_sha256, r.image):
                if r.photo is None:
                    missing[r.sku] = r.image
                else:
                    self.photos.put(r.photo, r.image_sha256, r.image)
        if missing:
            raise PhotosMissing(missing)

    def normalise_edit(self, fields: dict) -> dict:
        """Check that only editable fields are named and store facets lower-case, as ingest does."""
        return normalise_edit(fields)

    def update_fields(
        self, sku: str, *, embedding: tuple[np.ndarray, str] | None = None, change: str | None = None, **fields
    ) -> Product:
        """Edit a product's shop fields in one transaction; with ``embedding`` (vector, content hash) its
        vector is replaced too (see ``assistant.catalog.reembed.edit_product``, which computes it). With
        ``change``, the row as it was is kept under that id."""
        fields = normalise_edit(fields)
        if fields or embedding is not None:
            vector_change = None if embedding is None else (*embedding, self.model_spec)
            stamp = now_iso()
            with self.store.write() as writer, self._revised(writer, change, [sku], stamp):
                found = writer.update(sku, fields, stamp, vector_change)
            if found is not None and embedding is not None:
                self.index.refresh()
                self.index.save()
        product = self.get_by_sku(sku)
        if product is None:
            raise CatalogError(f"no product with sku {sku!r}")
        return product

    def delete(self, skus: Sequence[str]) -> list[str]:
        """Delete products by sku; returns the skus that were not in the catalog."""
        skus = list(dict.fromkeys(skus))
        with self.store.write() as writer:
            removed = writer.delete(skus)
        self.index.refresh()
        self.index.save()
        self._drop_unused_photos([(p.image_sha256, p.image) for p in removed if p.image_sha256])
        found = {p.sku for p in removed}
        return [s for s in skus if s not in found]

    def trash(self, skus: Sequence[str], actor: str, change: str | None = None) -> list[TrashedProduct]:
        """Soft delete (``assistant.catalog.trash``): the products leave search at once, their vectors and
        photos stay until ``purge_trash``; returns those that were in the catalog."""
        skus, stamp = list(dict.fromkeys(skus)), now_iso()
        with self.store.write() as writer, self._revised(writer, change, skus, stamp):
            trashed = writer.trash(skus, stamp, actor)
        self.index.refresh()
        self.index.save()
        return trashed

    def restore(self, sku: str, change: str | None = None) -> Product:
        """Bring a trashed product back, with its id, vector and photo; search finds it at once."""
        stamp = now_iso()
        with self.store.write() as writer, self._revised(writer, change, [sku], stamp):
            writer.restore(sku, self.model_spec, stamp)
        self.index.refresh()
        self.index.save()
        return self.get_by_sku(sku)

    def purge_trash(self, before: str | None = None) -> list[TrashedProduct]:
        """Delete trashed products for good (all, or those trashed before ``before``), with the revisions that
        could bring them back, and photos left unused."""
        with self.store.write() as writer:
            gone = writer.purge_trash(before)
            kept = writer.drop_revisions(product_ids=[p.id for p in gone])
        self._drop_unused_photos([(p.image_sha256, p.image) for p in gone if p.image_sha256] + kept)
        return gone

    def purge_revisions(self, before: str) -> None:
        """Forget what changes kept for undo at or before the ISO time ``before``; the photos only they kept
        (replaced by an import or an edit since) are removed."""
        with self.store.write() as writer:
            kept = writer.drop_revisions(before)
        self._drop_unused_photos(kept)

    # ----------------------------------------------------------------- undo
    @contextmanager
    def _revised(self, writer: ProductWriter, change: str | None, skus: Sequence[str], stamp: str) -> Iterator[None]:
        """Around a write in ``writer``: with a ``change`` id, keep each product's row before and its columns
        after under that id (only products that existed before or after)."""
        if change is None:
            yield
            return
        skus = list(dict.fromkeys(skus))
        before = writer.rows(skus)
        yield
        after = writer.rows(skus)
        writer.keep_revisions([
            Revision(change, sku, before.get(sku), after[sku].fields if sku in after else None, stamp)
            for sku in skus if sku in before or sku in after
        ])  # fmt: skip

    def undo_change(self, change: str, products: int, actor: str) -> tuple[str, int]:
        """Put every product ``change`` touched back exactly as it was before (row, id, vector, photo; one it
        added goes to the trash, as ``actor``'s delete), in one transaction. Refused, changing nothing, when
        any of them changed since, when the change kept fewer than ``products`` (purged since, or older than
        the trash time), or when a photo it needs is gone. Returns the id of the undo, itself a change, and how
        many products it put back."""
        undo, stamp = new_change_id(), now_iso()
        with self.store.write() as writer:
            revisions = writer.revisions(change)
            self._check_undoable(writer, revisions, products)
            with self._revised(writer, undo, [r.sku for r in revisions], stamp):
                for revision in revisions:
                    if revision.before is None:
                        writer.trash([revision.sku], stamp, actor)
                    else:
                        writer.put_row(revision.before)
        self.index.refresh()
        self.index.save()
        return undo, len(revisions)

    @staticmethod
    def _as_left(writer: ProductWriter, revision: Revision, current: StoredRow | None) -> bool:
        """Whether the product is as the change left it: the same columns, or for one it took out of the
        catalog, still out and in the trash exactly as it went in (not restored, changed and deleted again)."""
        if _state(None if current is None else current.fields) != _state(revision.after):
            return False
        if revision.after is None and revision.before is not None:
            return _state(writer.trashed_row(revision.before.fields["id"])) == _state(revision.before.fields)
        return True

    def _check_undoable(self, writer: ProductWriter, revisions: Sequence[Revision], products: int) -> None:
        if len(revisions) < products:
            raise UndoRefused(
                f"this change touched {products} product(s) but only {len(revisions)} can still be put back: the "
                "others were purged from the trash, or the change is older than the trash time"
            )
        current = writer.rows([r.sku for r in revisions])
        changed = [r.sku for r in revisions if not self._as_left(writer, r, current.get(r.sku))]
        if changed:
            listed = ", ".join(changed[:10]) + (f" and {len(changed) - 10} more" if len(changed) > 10 else "")
            raise UndoRefused(
                f"{listed} changed again after this change (see the audit trail): undo the newer change first, "
                "or edit the product by hand; nothing was undone"
            )
        for r in revisions:
            image = r.before.image if r.before is not None else None
            if image and not self.photos.has(*image):
                raise UndoRefused(f"{r.sku}: its earlier photo {image[1]!r} is no longer stored; nothing was undone")

    def _drop_unused_photos(self, candidates: Sequence[tuple[str, str | None]]) -> None:
        """Remove the photos ((sha256, file name) pairs) no product, trashed product or kept revision shows any
        more, inside a store write, so that a concurrent write of a product showing one either commits first
        (and the photo stays) or puts it back."""
        candidates = set(candidates)
        if not candidates:
            return
        with self.store.write() as writer:
            for sha256, name in candidates:
                if not writer.photo_in_use(sha256):
                    self.photos.remove(sha256, name)

    # ----------------------------------------------------------------- index
    def ensure_index(self) -> VectorIndex:
        """The in-memory index, caught up with every commit (for single-threaded tools; searches go
        through ``search_vector``, which is safe while other threads write)."""
        return self.index.current()

    def rebuild_index(self, kind: str | None = None) -> None:
        self.index.rebuild(kind)

    def save_index(self) -> None:
        """Persist the index if this process holds a newer generation than the file."""
        self.index.save()

    @property
    def index_kind(self) -> str:
        with self.index.reading() as index:
            return index.kind

    def indexed_count(self) -> int:
        with self.index.reading() as index:
            return index.ntotal

    # ----------------------------------------------------------------- search
    def search_vector(self, vector: np.ndarray, k: int = 10, filters: Filters | None = None) -> list[Hit]:
        """The k products nearest to a unit query vector, among those the filters allow."""
        allowed = None
        if filters is not None and not filters.is_empty():
            allowed = self.ids_matching(filters)
            if len(allowed) == 0:
                return []
        with self.index.reading() as index:
            if index.ntotal == 0:
                return []
            scores, ids = index.search(vector, k, allowed, exact_vectors=self.vectors)  # picks the path per filter
        pairs = [(int(i), float(s)) for i, s in zip(ids[0], scores[0]) if i >= 0]
        products = {p.id: p for p in self.get([i for i, _ in pairs])}
        return [Hit(products[i], s) for i, s in pairs if i in products]

    def info(self) -> dict:
        with self.index.reading() as index:
            indexed, kind = index.ntotal, index.kind
        return {
            "catalog": self.location,
            "model": self.model_spec,
            "dim": self.dim,
            "products": self.count(),
            "indexed": indexed,
            "index_kind": kind,
            "index_kind_setting": self.manifest.index_kind,
            "categories": self.facet_values("category"),
            "generation": self.generation,
        }

    # ----------------------------------------------------------------- model change
    def products_to_reembed(self, model_spec: str) -> list[Product]:
        return self.store.products_to_reembed(model_spec)

    def begin_reindex(self, model_spec: str) -> None:
        """Mark the manifest so that nothing opens a half re-embedded catalog as either model."""
        self.manifest.reindex_target = model_spec
        self.save_manifest()

    def store_reembedded(self, ids: Sequence[int], vectors: np.ndarray, hashes: Sequence[str], model_spec: str) -> None:
        with self.store.write() as writer:
            writer.store_vectors(ids, vectors, hashes, model_spec, now_iso())

    def finish_reindex(self, model_spec: str, dim: int) -> None:
        """All vectors are in the new space: switch the manifest and rebuild the index."""
        self.manifest.model_spec = model_spec
        self.manifest.dim = self.store.dim = int(dim)
        self.manifest.reindex_target = None
        self.index = self.index_sync_class(self.store, self.index.path, self.dim, self.manifest.index_kind)
        self.index.rebuild()
        self.save_manifest()
