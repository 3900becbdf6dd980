"""The product store in one SQLite file (WAL mode), the catalog folder's default.

Invariant: every write is one ``BEGIN IMMEDIATE`` transaction, so SQLite serialises it against every
writer in every process; the generation is read inside it, and the next generation is written with the
change and stamped on every row whose vector changed (``vector_generation``) and on every deleted id
(``removed_products``). Readers see committed snapshots only, so ``changes_since`` is exact.
One connection per thread; SQLite types (rows, blobs, SQL) never leave this module.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from assistant.catalog.records import (
    FACET_COLUMNS,
    AuditEntry,
    AuditQuery,
    CatalogError,
    Filters,
    Product,
    ProductRecord,
    RemovedProduct,
    TrashedProduct,
    VectorChanges,
)
from assistant.catalog.sql_writer import SQLProductWriter, vector_bytes, where_clause
from assistant.catalog.store import ProductStore, ProductWriter

SCHEMA_VERSION = 3
SCHEMA = (
    """CREATE TABLE IF NOT EXISTS products (
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
        updated_at TEXT NOT NULL,
        vector_generation INTEGER NOT NULL DEFAULT 0
    )""",
    "CREATE TABLE IF NOT EXISTS removed_products (id INTEGER PRIMARY KEY, generation INTEGER NOT NULL)",
    # soft-deleted products: the row's columns as JSON (so a later column does not break a restore) and the vector
    """CREATE TABLE IF NOT EXISTS trash (
        id INTEGER PRIMARY KEY,
        sku TEXT NOT NULL,
        product TEXT NOT NULL,
        vector BLOB NOT NULL,
        image_sha256 TEXT,
        deleted_at TEXT NOT NULL,
        deleted_by TEXT NOT NULL
    )""",
    """CREATE TABLE IF NOT EXISTS audit (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        at TEXT NOT NULL,
        actor TEXT NOT NULL,
        action TEXT NOT NULL,
        target TEXT NOT NULL,
        details TEXT NOT NULL
    )""",
    # what an audited change did to each product: the row before (NULL: none) and after (NULL: gone), for undo
    """CREATE TABLE IF NOT EXISTS revisions (
        change TEXT NOT NULL,
        sku TEXT NOT NULL,
        product_id INTEGER,
        before TEXT,
        before_vector BLOB,
        before_image TEXT,
        before_image_name TEXT,
        after TEXT,
        at TEXT NOT NULL,
        PRIMARY KEY (change, sku)
    )""",
    "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
    "INSERT OR IGNORE INTO meta(key, value) VALUES ('generation', '0')",
)
#: Indexes, created after the columns they need exist (a version-1 catalog gains vector_generation first).
INDEXES = (
    "CREATE INDEX IF NOT EXISTS products_category ON products(category)",
    "CREATE INDEX IF NOT EXISTS products_metal ON products(metal)",
    "CREATE INDEX IF NOT EXISTS products_stone ON products(stone)",
    "CREATE INDEX IF NOT EXISTS products_price ON products(price)",
    "CREATE INDEX IF NOT EXISTS products_image ON products(image_sha256)",
    "CREATE INDEX IF NOT EXISTS products_vector_generation ON products(vector_generation)",
    "CREATE INDEX IF NOT EXISTS removed_products_generation ON removed_products(generation)",
    "CREATE INDEX IF NOT EXISTS trash_sku ON trash(sku)",
    "CREATE INDEX IF NOT EXISTS trash_image ON trash(image_sha256)",
    "CREATE INDEX IF NOT EXISTS audit_at ON audit(at)",
    "CREATE INDEX IF NOT EXISTS revisions_at ON revisions(at)",
    "CREATE INDEX IF NOT EXISTS revisions_image ON revisions(before_image)",
    "CREATE INDEX IF NOT EXISTS revisions_product ON revisions(product_id)",
)
PRODUCT_COLUMNS = (
    "id, sku, title, description, category, metal, stone, price, currency, image, image_sha256, "
    "attributes, created_at, updated_at"
)
#: SQLite's default limit on bound parameters per statement is 999.
CHUNK = 900
BUSY_TIMEOUT_SECONDS = 30


def _vectors_from_blobs(blobs: Sequence[bytes], dim: int) -> np.ndarray:
    return np.frombuffer(b"".join(blobs), dtype=np.float32).reshape(len(blobs), dim).copy()


def _product(row: sqlite3.Row) -> Product:
    values = dict(row)
    values["attributes"] = json.loads(values["attributes"] or "{}")
    return Product(**values)


def _trashed(row: sqlite3.Row) -> TrashedProduct:
    product = json.loads(row["product"])
    return TrashedProduct(
        id=row["id"],
        sku=row["sku"],
        title=product.get("title", ""),
        image=product.get("image"),
        image_sha256=row["image_sha256"],
        embed_model=product.get("embed_model", ""),
        deleted_at=row["deleted_at"],
        deleted_by=row["deleted_by"],
    )


TRASH_COLUMNS = "id, sku, product, image_sha256, deleted_at, deleted_by"


def _chunks(values: Sequence) -> Iterator[list]:
    for start in range(0, len(values), CHUNK):
        yield list(values[start : start + CHUNK])


def _marks(chunk: Sequence) -> str:
    return ",".join("?" * len(chunk))


class _SQLiteWriter(SQLProductWriter):
    MARK = "?"
    GENERATION_COLUMN = "vector_generation"
    TOMBSTONES = "removed_products"

    def _product_columns(self) -> set[str]:
        return {r["name"] for r in self.conn.execute("PRAGMA table_info(products)")}

    def _tombstone(self, ids: Sequence[int]) -> None:
        self.conn.executemany(
            "INSERT OR REPLACE INTO removed_products(id, generation) VALUES (?, ?)", [(i, self._next) for i in ids]
        )

    def upsert(self, records: Sequence[ProductRecord], model_spec: str, stamp: str) -> list[int]:
        ids = []
        for r in records:
            row = self.conn.execute(
                """INSERT INTO products (sku, title, description, category, metal, stone, price, currency, image,
                       image_sha256, attributes, content_hash, embed_model, vector, created_at, updated_at,
                       vector_generation)
                   VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)
                   ON CONFLICT(sku) DO UPDATE SET title=excluded.title, description=excluded.description,
                       category=excluded.category, metal=excluded.metal, stone=excluded.stone,
                       price=excluded.price, currency=excluded.currency, image=excluded.image,
                       image_sha256=excluded.image_sha256, attributes=excluded.attributes,
                       content_hash=excluded.content_hash, embed_model=excluded.embed_model,
                       vector=excluded.vector, updated_at=excluded.updated_at,
                       vector_generation=excluded.vector_generation
                   RETURNING id""",
                (
                    r.sku, r.title, r.description, r.category, r.metal, r.stone, r.price, r.currency, r.image,
                    r.image_sha256, json.dumps(r.attributes, ensure_ascii=False), r.content_hash, model_spec,
                    vector_bytes(r.vector), stamp, stamp, self._next,
                ),
            ).fetchone()  # fmt: skip
            ids.append(int(row[0]))
        self.changed = self.changed or bool(ids)
        return ids

    def delete(self, skus: Sequence[str]) -> list[RemovedProduct]:
        removed = []
        for chunk in _chunks(list(dict.fromkeys(skus))):
            rows = self.conn.execute(
                f"DELETE FROM products WHERE sku IN ({_marks(chunk)}) RETURNING id, sku, image, image_sha256", chunk
            ).fetchall()
            removed += [RemovedProduct(r["id"], r["sku"], r["image"], r["image_sha256"]) for r in rows]
        self._tombstone([p.id for p in removed])
        self.changed = self.changed or bool(removed)
        return removed

    def store_vectors(
        self, ids: Sequence[int], vectors: np.ndarray, hashes: Sequence[str], model_spec: str, stamp: str
    ) -> None:
        self.conn.executemany(
            "UPDATE products SET vector = ?, content_hash = ?, embed_model = ?, updated_at = ?, vector_generation = ? "
            "WHERE id = ?",
            [(vector_bytes(v), h, model_spec, stamp, self._next, int(i)) for i, v, h in zip(ids, vectors, hashes)],
        )
        self.changed = self.changed or len(ids) > 0

    def trash(self, skus: Sequence[str], stamp: str, actor: str) -> list[TrashedProduct]:
        trashed = []
        for chunk in _chunks(list(dict.fromkeys(skus))):
            rows = self.conn.execute(f"DELETE FROM products WHERE sku IN ({_marks(chunk)}) RETURNING *", chunk)
            for row in rows.fetchall():
                product = {k: row[k] for k in row.keys() if k not in ("vector", "vector_generation")}  # noqa: SIM118
                self.conn.execute(
                    f"INSERT OR REPLACE INTO trash ({TRASH_COLUMNS}, vector) VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (row["id"], row["sku"], json.dumps(product, ensure_ascii=False), row["image_sha256"], stamp, actor,
                     row["vector"]),
                )  # fmt: skip
                self._tombstone([row["id"]])
                trashed.append(
                    TrashedProduct(
                        row["id"], row["sku"], row["title"], row["image"], row["image_sha256"], row["embed_model"],
                        stamp, actor,
                    )
                )  # fmt: skip
        self.changed = self.changed or bool(trashed)
        return trashed

    def purge_trash(self, before: str | None) -> list[TrashedProduct]:
        where, params = ("", []) if before is None else (" WHERE deleted_at <= ?", [before])
        return [_trashed(r) for r in self.conn.execute(f"DELETE FROM trash{where} RETURNING {TRASH_COLUMNS}", params)]


class SQLiteProductStore(ProductStore):
    """Products in ``path`` (created with its schema when absent). Thread-safe: one connection per thread."""

    def __init__(self, path: Path, dim: int):
        self.path = Path(path)
        self.dim = int(dim)
        self._local = threading.local()
        self._write_lock = threading.Lock()  # this process's threads queue here, not in SQLite's busy loop
        self._migrate()

    # ----------------------------------------------------------------- connections and transactions
    def _connection(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            try:
                conn = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_SECONDS, isolation_level=None)
                conn.row_factory = sqlite3.Row
                conn.execute("PRAGMA journal_mode=WAL")
                conn.execute("PRAGMA synchronous=FULL")
            except sqlite3.Error as exc:
                raise CatalogError(f"cannot open the catalog database {self.path}: {exc}") from exc
            self._local.conn = conn
        return conn

    @contextmanager
    def _transaction(self, begin: str) -> Iterator[sqlite3.Connection]:
        conn = self._connection()
        conn.execute(begin)
        try:
            yield conn
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise

    def _migrate(self) -> None:
        """Create the schema, or bring an older catalog's up to date, in one transaction."""
        with self._transaction("BEGIN IMMEDIATE") as conn:
            for statement in SCHEMA:
                conn.execute(statement)
            columns = {r["name"] for r in conn.execute("PRAGMA table_info(products)")}
            if "vector_generation" not in columns:  # version 1: every vector counts as old as generation 0
                conn.execute("ALTER TABLE products ADD COLUMN vector_generation INTEGER NOT NULL DEFAULT 0")
            for statement in INDEXES:
                conn.execute(statement)
            version = conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
            if version is None or int(version[0]) != SCHEMA_VERSION:
                conn.execute(
                    "INSERT OR REPLACE INTO meta(key, value) VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),)
                )

    @contextmanager
    def write(self) -> Iterator[ProductWriter]:
        with self._write_lock, self._transaction("BEGIN IMMEDIATE") as conn:
            writer = _SQLiteWriter(conn, self._generation(conn))
            yield writer
            if writer.changed:
                conn.execute("UPDATE meta SET value = ? WHERE key = 'generation'", (str(writer.generation + 1),))

    def close(self) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None

    # ----------------------------------------------------------------- reads
    @staticmethod
    def _generation(conn: sqlite3.Connection) -> int:
        row = conn.execute("SELECT value FROM meta WHERE key = 'generation'").fetchone()
        return int(row[0]) if row else 0

    def generation(self) -> int:
        return self._generation(self._connection())

    def changes_since(self, generation: int) -> VectorChanges:
        with self._transaction("BEGIN") as conn:  # one read snapshot for all four answers
            now = self._generation(conn)
            count = conn.execute("SELECT COUNT(*) FROM products").fetchone()[0]
            rows = conn.execute(
                "SELECT id, vector FROM products ORDER BY id"
                if generation < 0
                # without ORDER BY: SQLite would scan every row in id order rather than sort a few found by index
                else "SELECT id, vector FROM products WHERE vector_generation > ?",
                () if generation < 0 else (generation,),
            ).fetchall()
            rows.sort(key=lambda row: row[0])
            removed = [] if generation < 0 else conn.execute(
                "SELECT id FROM removed_products WHERE generation > ?", (generation,)
            ).fetchall()  # fmt: skip
        return VectorChanges(
            since=generation,
            generation=now,
            count=count,
            ids=np.array([r[0] for r in rows], dtype=np.int64),
            vectors=_vectors_from_blobs([r[1] for r in rows], self.dim),
            removed=np.array([r[0] for r in removed], dtype=np.int64),
        )

    def count(self, filters: Filters | None = None) -> int:
        where, params = where_clause(filters, "?")
        return self._connection().execute(f"SELECT COUNT(*) FROM products{where}", params).fetchone()[0]

    def products(self, filters: Filters | None = None, limit: int | None = None, offset: int = 0) -> list[Product]:
        where, params = where_clause(filters, "?")
        sql = f"SELECT {PRODUCT_COLUMNS} FROM products{where} ORDER BY id"
        if limit is not None:
            sql += " LIMIT ? OFFSET ?"
            params += [int(limit), int(offset)]
        return [_product(r) for r in self._connection().execute(sql, params)]

    def get(self, ids: Sequence[int]) -> list[Product]:
        ids = [int(i) for i in ids]
        found: dict[int, Product] = {}
        for chunk in _chunks(ids):
            rows = self._connection().execute(
                f"SELECT {PRODUCT_COLUMNS} FROM products WHERE id IN ({_marks(chunk)})", chunk
            )
            found.update((r["id"], _product(r)) for r in rows)
        return [found[i] for i in ids if i in found]

    def get_by_sku(self, sku: str) -> Product | None:
        row = self._connection().execute(f"SELECT {PRODUCT_COLUMNS} FROM products WHERE sku = ?", (sku,)).fetchone()
        return _product(row) if row else None

    def ids_matching(self, filters: Filters) -> np.ndarray:
        where, params = where_clause(filters, "?")
        rows = self._connection().execute(f"SELECT id FROM products{where}", params).fetchall()
        return np.array([r[0] for r in rows], dtype=np.int64)

    def vectors(self, ids: Sequence[int] | None = None) -> tuple[np.ndarray, np.ndarray]:
        conn = self._connection()
        if ids is None:
            rows = conn.execute("SELECT id, vector FROM products ORDER BY id").fetchall()
        else:
            ids = [int(i) for i in ids]
            rows = []
            for chunk in _chunks(ids):
                rows += conn.execute(f"SELECT id, vector FROM products WHERE id IN ({_marks(chunk)})", chunk).fetchall()
            order = {pid: n for n, pid in enumerate(ids)}
            rows.sort(key=lambda r: order[r[0]])
        return np.array([r[0] for r in rows], dtype=np.int64), _vectors_from_blobs([r[1] for r in rows], self.dim)

    def content_hashes(self) -> dict[str, tuple[str, str]]:
        rows = self._connection().execute("SELECT sku, content_hash, embed_model FROM products")
        return {r[0]: (r[1], r[2]) for r in rows}

    def facet_values(self, column: str) -> list[str]:
        if column not in (*FACET_COLUMNS, "currency"):
            raise ValueError(f"not a facet: {column}")
        rows = self._connection().execute(f"SELECT DISTINCT {column} FROM products WHERE {column} != '' ORDER BY 1")
        return [r[0] for r in rows]

    def price_range(self) -> tuple[float, float] | None:
        row = self._connection().execute("SELECT MIN(price), MAX(price) FROM products").fetchone()
        return None if row[0] is None else (float(row[0]), float(row[1]))

    def trashed(self) -> list[TrashedProduct]:
        rows = self._connection().execute(f"SELECT {TRASH_COLUMNS} FROM trash ORDER BY deleted_at DESC, id DESC")
        return [_trashed(r) for r in rows]

    def audit_entries(self, query: AuditQuery) -> list[AuditEntry]:
        clauses, params = [], []
        for column, value in (("action", query.action), ("actor", query.actor), ("id", query.entry_id)):
            if value is not None and value != "":
                clauses.append(f"{column} = ?")
                params.append(value)
        if query.target:
            clauses.append("instr(lower(target), lower(?)) > 0")
            params.append(query.target)
        if query.since:
            clauses.append("at >= ?")
            params.append(query.since)
        where = (" WHERE " + " AND ".join(clauses)) if clauses else ""
        rows = self._connection().execute(
            f"SELECT id, at, actor, action, target, details FROM audit{where} ORDER BY id DESC LIMIT ?",
            [*params, int(query.limit)],
        )
        return [
            AuditEntry(r["at"], r["actor"], r["action"], r["target"], json.loads(r["details"]), id=r["id"])
            for r in rows
        ]

    def products_to_reembed(self, model_spec: str) -> list[Product]:
        rows = self._connection().execute(
            f"SELECT {PRODUCT_COLUMNS} FROM products WHERE embed_model != ? ORDER BY id", (model_spec,)
        )
        return [_product(r) for r in rows]
