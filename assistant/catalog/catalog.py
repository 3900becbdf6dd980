"""A catalog folder: SQLite products (with their vectors), content-addressed photos, a FAISS index, a manifest.

The database is the source of truth, vectors included; the FAISS file is a cache of it. Every write
commits to SQLite first and the index follows, so after a crash (even kill -9 mid-ingest) reopening
compares the two and repairs the index from the stored vectors: the counts always agree again.
"""

from __future__ import annotations

import json
import logging
import os
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from assistant.errors import AssistantError
from assistant.atomic import atomic_write_bytes, atomic_write_json
from assistant.catalog.vector_index import INDEX_KINDS, VectorIndex, resolve_kind

log = logging.getLogger(__name__)

FORMAT_VERSION = 1
DB_NAME = "catalog.db"
INDEX_NAME = "index.faiss"
MANIFEST_NAME = "manifest.json"
IMAGES_DIR = "images"
#: Share of the photo in a product's vector; the text carries what a photo can't show (metal purity, stone).
DEFAULT_IMAGE_WEIGHT = 0.7

SCHEMA = """
CREATE TABLE IF NOT EXISTS products (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    sku TEXT NOT NULL UNIQUE,
    title TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    category TEXT NOT NULL DEFAULT '',
    metal TEXT NOT NULL DEFAULT '',
    stone TEXT NOT NULL DEFAULT '',
    price REAL,
    currency TEXT NOT NULL DEFAULT '',
    image TEXT,
    image_sha256 TEXT,
    attributes TEXT NOT NULL DEFAULT '{}',
    content_hash TEXT NOT NULL,
    embed_model TEXT NOT NULL,
    vector BLOB NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS products_category ON products(category);
CREATE INDEX IF NOT EXISTS products_metal ON products(metal);
CREATE INDEX IF NOT EXISTS products_stone ON products(stone);
CREATE INDEX IF NOT EXISTS products_price ON products(price);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
INSERT OR IGNORE INTO meta(key, value) VALUES ('generation', '0');
"""
PRODUCT_COLUMNS = (
    "id, sku, title, description, category, metal, stone, price, currency, image, image_sha256, "
    "attributes, created_at, updated_at"
)


class CatalogError(AssistantError):
    """The catalog cannot be opened or changed as asked; the message says what to do."""


def now_iso() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


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

    @classmethod
    def from_row(cls, row: sqlite3.Row) -> "Product":
        values = dict(row)
        values["attributes"] = json.loads(values["attributes"] or "{}")
        return cls(**values)

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(kw_only=True)
class ProductRecord(ProductFields):
    """What a write needs: the product's fields, its embedding, and the hash of what was embedded."""

    vector: np.ndarray
    content_hash: str


@dataclass(frozen=True)
class Filters:
    """Facet filters; text fields match case-insensitively, any of several values when given a list."""

    category: str | Sequence[str] | None = None
    metal: str | Sequence[str] | None = None
    stone: str | Sequence[str] | None = None
    min_price: float | None = None
    max_price: float | None = None

    def is_empty(self) -> bool:
        return all(v in (None, "", []) for v in (self.category, self.metal, self.stone, self.min_price, self.max_price))

    def sql(self) -> tuple[str, list]:
        clauses: list[str] = []
        params: list = []
        for column in ("category", "metal", "stone"):
            value = getattr(self, column)
            values = [value] if isinstance(value, str) else list(value or [])
            values = [v.strip().lower() for v in values if v and v.strip()]
            if values:
                clauses.append(f"{column} IN ({','.join('?' * len(values))})")
                params.extend(values)
        if self.min_price is not None:
            clauses.append("price >= ?")
            params.append(float(self.min_price))
        if self.max_price is not None:
            clauses.append("price <= ?")
            params.append(float(self.max_price))
        return (" WHERE " + " AND ".join(clauses)) if clauses else "", params


@dataclass
class Hit:
    product: Product
    score: float

    def to_dict(self) -> dict:
        d = self.product.to_dict()
        d["score"] = round(float(self.score), 6)
        return d


@dataclass
class Manifest:
    model_spec: str
    dim: int
    index_kind: str = "auto"
    image_weight: float = DEFAULT_IMAGE_WEIGHT
    format_version: int = FORMAT_VERSION
    created_at: str = field(default_factory=now_iso)
    reindex_target: str | None = None

    @classmethod
    def read(cls, path: Path) -> "Manifest":
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            return cls(**data)
        except (OSError, ValueError, TypeError) as exc:
            raise CatalogError(f"{path} is not a readable catalog manifest: {exc}") from exc

    def write(self, path: Path) -> None:
        atomic_write_json(path, asdict(self))


def _vector_blob(vector: np.ndarray) -> bytes:
    return np.asarray(vector, dtype=np.float32).tobytes()


def _vector_from_blob(blob: bytes) -> np.ndarray:
    return np.frombuffer(blob, dtype=np.float32)


class Catalog:
    """One catalog folder. Thread-safe for the app: one connection per thread, writes serialised."""

    def __init__(self, root: Path, manifest: Manifest):
        self.root = root
        self.manifest = manifest
        self._local = threading.local()
        self._write_lock = threading.RLock()
        self._index: VectorIndex | None = None
        self._index_generation = -1
        self._index_dirty = False

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
    ) -> "Catalog":
        """Open (or create) the catalog in ``root`` for vectors of ``model_spec``.

        A catalog built with another model is refused: its vectors live in another space. Pass
        ``allow_reindex`` only to re-embed it (the ``reindex`` command).
        """
        root = Path(root)
        manifest_path = root / MANIFEST_NAME
        if index_kind is not None and index_kind not in INDEX_KINDS:
            raise CatalogError(f"unknown index kind {index_kind!r}; choose one of {', '.join(INDEX_KINDS)}")
        if manifest_path.exists():
            manifest = Manifest.read(manifest_path)
            if manifest.format_version > FORMAT_VERSION:
                raise CatalogError(f"{root} was written by a newer version of this program (format {manifest.format_version})")
            if not allow_reindex:
                if manifest.reindex_target:
                    raise CatalogError(
                        f"catalog {root} is half way through re-embedding with {manifest.reindex_target!r}; "
                        f"finish it with: python -m assistant --catalog {root} --model {manifest.reindex_target} reindex"
                    )
                if manifest.model_spec != model_spec:
                    raise CatalogError(
                        f"catalog {root} was built with model {manifest.model_spec!r}, not {model_spec!r}: its vectors "
                        f"are in another space. Use --model {manifest.model_spec} (or ASSISTANT_MODEL), or re-embed it "
                        f"with: python -m assistant --catalog {root} --model {model_spec} reindex"
                    )
            if index_kind and index_kind != manifest.index_kind:
                manifest.index_kind = index_kind
                manifest.write(manifest_path)
        else:
            if not create:
                raise CatalogError(f"no catalog at {root}; create one with: python -m assistant --catalog {root} ingest PRODUCTS.csv --images DIR")
            if dim is None:
                raise CatalogError("a new catalog needs the embedding dimension of its model")
            root.mkdir(parents=True, exist_ok=True)
            manifest = Manifest(model_spec=model_spec, dim=int(dim), index_kind=index_kind or "auto")
        catalog = cls(root, manifest)
        catalog._connection().executescript(SCHEMA)  # idempotent; executescript manages its own transaction
        if not manifest_path.exists():
            manifest.write(manifest_path)
        (root / IMAGES_DIR).mkdir(exist_ok=True)
        if not manifest.reindex_target and manifest.model_spec == model_spec:
            catalog.ensure_index()
        return catalog

    @property
    def model_spec(self) -> str:
        return self.manifest.model_spec

    @property
    def dim(self) -> int:
        return self.manifest.dim

    @property
    def index_path(self) -> Path:
        return self.root / INDEX_NAME

    @property
    def manifest_path(self) -> Path:
        return self.root / MANIFEST_NAME

    # ----------------------------------------------------------------- database
    def _connection(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(self.root / DB_NAME, timeout=30, isolation_level=None)
            conn.row_factory = sqlite3.Row
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=FULL")
            self._local.conn = conn
        return conn

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """One SQLite write transaction that bumps the catalog generation; all or nothing."""
        with self._write_lock:
            conn = self._connection()
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
                conn.execute("UPDATE meta SET value = CAST(value AS INTEGER) + 1 WHERE key = 'generation'")
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise

    def close(self) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None

    @property
    def generation(self) -> int:
        """Changes on every committed write, by this process or another: a cache key for derived data."""
        row = self._connection().execute("SELECT value FROM meta WHERE key = 'generation'").fetchone()
        return int(row[0]) if row else 0

    def count(self, filters: Filters | None = None) -> int:
        where, params = (filters or Filters()).sql()
        return self._connection().execute(f"SELECT COUNT(*) FROM products{where}", params).fetchone()[0]

    def products(self, filters: Filters | None = None, limit: int | None = None, offset: int = 0) -> list[Product]:
        where, params = (filters or Filters()).sql()
        sql = f"SELECT {PRODUCT_COLUMNS} FROM products{where} ORDER BY id"
        if limit is not None:
            sql += " LIMIT ? OFFSET ?"
            params += [int(limit), int(offset)]
        return [Product.from_row(r) for r in self._connection().execute(sql, params)]

    def get(self, ids: Sequence[int]) -> list[Product]:
        """Products by id in the order asked; ids no longer in the catalog are left out."""
        ids = [int(i) for i in ids]
        found: dict[int, Product] = {}
        for start in range(0, len(ids), 900):  # SQLite's bound-parameter limit
            chunk = ids[start : start + 900]
            rows = self._connection().execute(
                f"SELECT {PRODUCT_COLUMNS} FROM products WHERE id IN ({','.join('?' * len(chunk))})", chunk
            )
            found.update((r["id"], Product.from_row(r)) for r in rows)
        return [found[i] for i in ids if i in found]

    def get_by_sku(self, sku: str) -> Product | None:
        row = self._connection().execute(f"SELECT {PRODUCT_COLUMNS} FROM products WHERE sku = ?", (sku,)).fetchone()
        return Product.from_row(row) if row else None

    def content_hashes(self) -> dict[str, tuple[str, str]]:
        """sku -> (content hash, model it was embedded with): what an ingest may skip."""
        rows = self._connection().execute("SELECT sku, content_hash, embed_model FROM products")
        return {r[0]: (r[1], r[2]) for r in rows}

    def facet_values(self, column: str) -> list[str]:
        if column not in ("category", "metal", "stone", "currency"):
            raise ValueError(f"not a facet: {column}")
        rows = self._connection().execute(f"SELECT DISTINCT {column} FROM products WHERE {column} != '' ORDER BY 1")
        return [r[0] for r in rows]

    def price_range(self) -> tuple[float, float] | None:
        row = self._connection().execute("SELECT MIN(price), MAX(price) FROM products").fetchone()
        return None if row[0] is None else (float(row[0]), float(row[1]))

    def vectors(self, ids: Sequence[int] | None = None) -> tuple[np.ndarray, np.ndarray]:
        """(int64 ids, float32 [n, dim] unit vectors) from the database, all products when ids is None."""
        if ids is None:
            rows = self._connection().execute("SELECT id, vector FROM products ORDER BY id").fetchall()
        else:
            rows = []
            ids = [int(i) for i in ids]
            for start in range(0, len(ids), 900):
                chunk = ids[start : start + 900]
                rows += self._connection().execute(
                    f"SELECT id, vector FROM products WHERE id IN ({','.join('?' * len(chunk))})", chunk
                ).fetchall()
            order = {pid: n for n, pid in enumerate(ids)}
            rows.sort(key=lambda r: order[r[0]])
        out_ids = np.array([r[0] for r in rows], dtype=np.int64)
        vectors = np.stack([_vector_from_blob(r[1]) for r in rows]) if rows else np.zeros((0, self.dim), np.float32)
        return out_ids, vectors

    def ids_matching(self, filters: Filters) -> np.ndarray:
        where, params = filters.sql()
        rows = self._connection().execute(f"SELECT id FROM products{where}", params).fetchall()
        return np.array([r[0] for r in rows], dtype=np.int64)

    # ----------------------------------------------------------------- photos
    def image_path(self, product: Product) -> Path | None:
        if not product.image_sha256:
            return None
        return self._image_file(product.image_sha256, product.image)

    def _image_file(self, sha256: str, original_name: str | None) -> Path:
        suffix = Path(original_name or "").suffix.lower() or ".img"
        return self.root / IMAGES_DIR / sha256[:2] / f"{sha256}{suffix}"

    def store_image(self, data: bytes, sha256: str, original_name: str | None) -> Path:
        """Keep a copy of a photo under its content hash; the same photo is stored once."""
        path = self._image_file(sha256, original_name)
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            atomic_write_bytes(path, data)
        return path

    def _remove_unreferenced_images(self, candidates: set[tuple[str, str | None]]) -> None:
        for sha256, name in candidates:
            still_used = self._connection().execute(
                "SELECT 1 FROM products WHERE image_sha256 = ? LIMIT 1", (sha256,)
            ).fetchone()
            if not still_used:
                self._image_file(sha256, name).unlink(missing_ok=True)

    # ----------------------------------------------------------------- writes
    def upsert(self, records: Sequence[ProductRecord]) -> list[int]:
        """Insert or update products by sku in one transaction; the index follows. Returns their ids."""
        if not records:
            return []
        stamp = now_iso()
        with self.transaction() as db:
            ids = []
            for r in records:
                vector = np.asarray(r.vector, dtype=np.float32)
                if vector.shape != (self.dim,):
                    raise CatalogError(f"product {r.sku}: vector has shape {vector.shape}, catalog needs ({self.dim},)")
                row = db.execute(
                    """INSERT INTO products (sku, title, description, category, metal, stone, price, currency, image,
                           image_sha256, attributes, content_hash, embed_model, vector, created_at, updated_at)
                       VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)
                       ON CONFLICT(sku) DO UPDATE SET title=excluded.title, description=excluded.description,
                           category=excluded.category, metal=excluded.metal, stone=excluded.stone,
                           price=excluded.price, currency=excluded.currency, image=excluded.image,
                           image_sha256=excluded.image_sha256, attributes=excluded.attributes,
                           content_hash=excluded.content_hash, embed_model=excluded.embed_model,
                           vector=excluded.vector, updated_at=excluded.updated_at
                       RETURNING id""",
                    (
                        r.sku, r.title, r.description, r.category, r.metal, r.stone, r.price, r.currency, r.image,
                        r.image_sha256, json.dumps(r.attributes, ensure_ascii=False), r.content_hash,
                        self.model_spec, _vector_blob(vector), stamp, stamp,
                    ),
                ).fetchone()
                ids.append(int(row[0]))
        self._index_replace(np.array(ids, dtype=np.int64), np.stack([r.vector for r in records]))
        return ids

    #: Fields a merchandiser may edit; the ones CLIP reads (TEXT_FIELDS) change the product's vector too.
    EDITABLE_FIELDS = frozenset({"title", "description", "category", "metal", "stone", "price", "currency"})
    TEXT_FIELDS = frozenset({"title", "description", "category", "metal", "stone"})

    def normalise_edit(self, fields: dict) -> dict:
        """Check that only editable fields are named and store facets lower-case, as ingest does."""
        unknown = set(fields) - self.EDITABLE_FIELDS
        if unknown:
            raise CatalogError(f"cannot edit {', '.join(sorted(unknown))}; editable: {', '.join(sorted(self.EDITABLE_FIELDS))}")
        fields = dict(fields)
        for key in ("category", "metal", "stone"):
            if key in fields:
                fields[key] = (fields[key] or "").strip().lower()
        return fields

    def update_fields(self, sku: str, *, embedding: tuple[np.ndarray, str] | None = None, **fields) -> Product:
        """Edit a product's shop fields in one transaction; with ``embedding`` (vector, content hash) its
        vector is replaced too (see ``assistant.catalog.reembed.edit_product``, which computes it)."""
        fields = self.normalise_edit(fields)
        if not fields and embedding is None:
            product = self.get_by_sku(sku)
            if product is None:
                raise CatalogError(f"no product with sku {sku!r}")
            return product
        if embedding is not None:
            vector, digest = embedding
            fields |= {"vector": _vector_blob(vector), "content_hash": digest, "embed_model": self.model_spec}
        with self.transaction() as db:
            assignments = ", ".join(f"{k} = ?" for k in fields)
            row = db.execute(
                f"UPDATE products SET {assignments}, updated_at = ? WHERE sku = ? RETURNING id", [*fields.values(), now_iso(), sku]
            ).fetchone()
            if row is None:
                raise CatalogError(f"no product with sku {sku!r}")
        if embedding is not None:
            self._index_replace(np.array([row[0]], dtype=np.int64), np.asarray(embedding[0], dtype=np.float32)[None])
            self.save_index()
        return self.get_by_sku(sku)

    def delete(self, skus: Sequence[str]) -> list[str]:
        """Delete products by sku; returns the skus that were not in the catalog."""
        skus = list(dict.fromkeys(skus))
        with self.transaction() as db:
            rows = []
            for start in range(0, len(skus), 900):
                chunk = skus[start : start + 900]
                rows += db.execute(
                    f"SELECT id, sku, image_sha256, image FROM products WHERE sku IN ({','.join('?' * len(chunk))})", chunk
                ).fetchall()
            ids = [r["id"] for r in rows]
            for start in range(0, len(ids), 900):
                chunk = ids[start : start + 900]
                db.execute(f"DELETE FROM products WHERE id IN ({','.join('?' * len(chunk))})", chunk)
        self._index_remove(np.array(ids, dtype=np.int64))
        self._remove_unreferenced_images({(r["image_sha256"], r["image"]) for r in rows if r["image_sha256"]})
        self.save_index()
        found = {r["sku"] for r in rows}
        return [s for s in skus if s not in found]

    # ----------------------------------------------------------------- index
    def ensure_index(self) -> VectorIndex:
        """The in-memory index, loaded once, reloaded when another process committed, repaired to match the database."""
        generation = self.generation
        if self._index is not None and generation == self._index_generation:
            return self._index
        with self._write_lock:
            index = self._load_index_file()
            self._index = index
            self._repair_index()
            self._index_generation = self.generation
        return self._index

    def _load_index_file(self) -> VectorIndex:
        if self.index_path.exists():
            try:
                index = VectorIndex.load(self.index_path)
                if index.dim == self.dim:
                    return index
                log.warning("index %s has dim %d, catalog %d: rebuilding", self.index_path, index.dim, self.dim)
            except RuntimeError as exc:
                log.warning("index %s is unreadable (%s): rebuilding from the database", self.index_path, exc)
        return VectorIndex.create(self.dim, resolve_kind(self.manifest.index_kind, self.count()))

    def _repair_index(self) -> None:
        """Make the index hold exactly the database's vectors (after a crash, a kill or another writer)."""
        index = self._index
        db_ids = set(r[0] for r in self._connection().execute("SELECT id FROM products"))
        index_ids = set(index.ids().tolist())
        wanted_kind = resolve_kind(self.manifest.index_kind, len(db_ids))
        missing, extra = db_ids - index_ids, index_ids - db_ids
        if index.kind != wanted_kind or (extra and not index.supports_remove):
            log.info("rebuilding %s index for %d products", wanted_kind, len(db_ids))
            self._rebuild_index(wanted_kind)
            return
        if not missing and not extra:
            return
        log.info("repairing index: %d vectors missing, %d stale", len(missing), len(extra))
        index.remove(np.array(sorted(extra), dtype=np.int64))
        ids, vectors = self.vectors(sorted(missing))
        index.add(ids, vectors)
        self._index_dirty = True
        self.save_index()

    def _rebuild_index(self, kind: str | None = None) -> None:
        ids, vectors = self.vectors()
        self._index = VectorIndex.build(self.dim, kind or resolve_kind(self.manifest.index_kind, len(ids)), ids, vectors)
        self._index_dirty = True
        self.save_index()

    def rebuild_index(self, kind: str | None = None) -> None:
        with self._write_lock:
            self._rebuild_index(kind)
            self._index_generation = self.generation

    def _index_replace(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        with self._write_lock:
            index = self.ensure_index() if self._index is None else self._index
            present = np.intersect1d(index.ids(), ids)
            if len(present) and not index.supports_remove:
                self._index_dirty = True
                self._rebuild_index()
            else:
                index.remove(present)
                index.add(ids, vectors)
                self._index_dirty = True
            self._index_generation = self.generation

    def _index_remove(self, ids: np.ndarray) -> None:
        if not len(ids):
            return
        with self._write_lock:
            index = self.ensure_index() if self._index is None else self._index
            if index.supports_remove:
                index.remove(ids)
                self._index_dirty = True
            else:
                self._rebuild_index()
            self._index_generation = self.generation

    def save_index(self) -> None:
        """Persist the index if it changed; the auto kind switches to HNSW once the catalog is large."""
        with self._write_lock:
            if self._index is None:
                return
            if self._index.kind != resolve_kind(self.manifest.index_kind, self._index.ntotal):
                ids, vectors = self.vectors()
                self._index = VectorIndex.build(self.dim, resolve_kind(self.manifest.index_kind, len(ids)), ids, vectors)
                self._index_dirty = True
            if self._index_dirty:
                self._index.save(self.index_path)
                self._index_dirty = False

    @property
    def index_kind(self) -> str:
        return self.ensure_index().kind

    def indexed_count(self) -> int:
        return self.ensure_index().ntotal

    # ----------------------------------------------------------------- search
    def search_vector(self, vector: np.ndarray, k: int = 10, filters: Filters | None = None) -> list[Hit]:
        """The k products nearest to a unit query vector, among those the filters allow."""
        index = self.ensure_index()
        if index.ntotal == 0:
            return []
        allowed = None
        if filters is not None and not filters.is_empty():
            allowed = self.ids_matching(filters)
            if len(allowed) == 0:
                return []
        scores, ids = index.search(vector, k, allowed, exact_vectors=self.vectors)  # picks the path per filter
        pairs = [(int(i), float(s)) for i, s in zip(ids[0], scores[0]) if i >= 0]
        products = {p.id: p for p in self.get([i for i, _ in pairs])}
        return [Hit(products[i], s) for i, s in pairs if i in products]

    def info(self) -> dict:
        index = self.ensure_index()
        return {
            "catalog": str(self.root),
            "model": self.model_spec,
            "dim": self.dim,
            "products": self.count(),
            "indexed": index.ntotal,
            "index_kind": index.kind,
            "index_kind_setting": self.manifest.index_kind,
            "categories": self.facet_values("category"),
            "generation": self.generation,
        }

    # ----------------------------------------------------------------- model change
    def products_to_reembed(self, model_spec: str) -> list[Product]:
        rows = self._connection().execute(
            f"SELECT {PRODUCT_COLUMNS} FROM products WHERE embed_model != ? ORDER BY id", (model_spec,)
        )
        return [Product.from_row(r) for r in rows]

    def begin_reindex(self, model_spec: str) -> None:
        """Mark the manifest so that nothing opens a half re-embedded catalog as either model."""
        self.manifest.reindex_target = model_spec
        self.manifest.write(self.manifest_path)

    def store_reembedded(self, ids: Sequence[int], vectors: np.ndarray, hashes: Sequence[str], model_spec: str) -> None:
        with self.transaction() as db:
            db.executemany(
                "UPDATE products SET vector = ?, content_hash = ?, embed_model = ?, updated_at = ? WHERE id = ?",
                [(_vector_blob(v), h, model_spec, now_iso(), int(i)) for i, v, h in zip(ids, vectors, hashes)],
            )

    def finish_reindex(self, model_spec: str, dim: int) -> None:
        """All vectors are in the new space: switch the manifest and rebuild the index."""
        self.manifest.model_spec = model_spec
        self.manifest.dim = int(dim)
        self.manifest.reindex_target = None
        self._index = None
        self.rebuild_index()
        self.manifest.write(self.manifest_path)
