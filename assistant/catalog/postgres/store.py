"""The product store in PostgreSQL: one database that many app servers and the CLI share.

Invariant: every write is one transaction that first locks the ``catalog_state`` row (``SELECT ... FOR
UPDATE``), so writers in every process are serialised and commit in generation order; a write that changed
anything commits ``generation + 1`` with the change, stamps it on every row whose vector it touched and on
every id it deleted (``product_tombstones``), and sends ``NOTIFY assistant_catalog`` (delivered on commit).
``changes_since`` reads in one REPEATABLE READ snapshot, so it is exact. A dropped connection is replaced on
the next call (a read is retried once on a fresh one); failures reach callers as ``CatalogError``.
One connection per thread; psycopg types and SQL never leave this module.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

import numpy as np
import psycopg
from psycopg.rows import dict_row

from assistant.catalog.postgres.connection import ThreadConnections
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

#: The LISTEN/NOTIFY channel a commit announces its generation on.
CHANNEL = "assistant_catalog"
PRODUCT_COLUMNS = (
    "id, sku, title, description, category, metal, stone, price, currency, image, image_sha256, "
    "attributes, created_at, updated_at"
)
#: The trash's columns as ``_trashed`` reads them.
TRASH_COLUMNS = "id, sku, product, image_sha256, deleted_at, deleted_by"


def vectors_from_bytes(blobs: Sequence[bytes], dim: int) -> np.ndarray:
    data = b"".join(blobs)
    if len(data) != len(blobs) * dim * 4:
        raise CatalogError(f"the catalog database holds vectors that are not {dim} float32 values; run a reindex")
    return np.frombuffer(data, dtype="<f4").reshape(len(blobs), dim).astype(np.float32)


def _product(row: dict) -> Product:
    return Product(**row)


def _trashed(row: Sequence) -> TrashedProduct:
    """A trash row (``TRASH_COLUMNS``, ``product`` already decoded from jsonb) as a ``TrashedProduct``."""
    pid, sku, product, image_sha256, deleted_at, deleted_by = row
    return TrashedProduct(
        id=int(pid),
        sku=sku,
        title=product.get("title", ""),
        image=product.get("image"),
        image_sha256=image_sha256,
        embed_model=product.get("embed_model", ""),
        deleted_at=deleted_at,
        deleted_by=deleted_by,
    )


class _PostgresWriter(SQLProductWriter):
    MARK = "%s"
    GENERATION_COLUMN = "generation"
    TOMBSTONES = "product_tombstones"
    JSON_MARK = "?::jsonb"

    def _product_columns(self) -> set[str]:
        rows = self.conn.execute(
            "SELECT column_name FROM information_schema.columns "
            "WHERE table_schema = current_schema() AND table_name = 'products'"
        )
        return {r[0] for r in rows}

    def upsert(self, records: Sequence[ProductRecord], model_spec: str, stamp: str) -> list[int]:
        rows = [
            (
                r.sku, r.title, r.description, r.category, r.metal, r.stone, r.price, r.currency, r.image,
                r.image_sha256, json.dumps(r.attributes, ensure_ascii=False), r.content_hash, model_spec,
                vector_bytes(r.vector), stamp, stamp, self._next,
            )
            for r in records
        ]  # fmt: skip
        ids = []
        with self.conn.cursor() as cur:
            cur.executemany(
                """INSERT INTO products (sku, title, description, category, metal, stone, price, currency, image,
                       image_sha256, attributes, content_hash, embed_model, vector, created_at, updated_at, generation)
                   VALUES (%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s::jsonb,%s,%s,%s,%s,%s,%s)
                   ON CONFLICT (sku) DO UPDATE SET title=excluded.title, description=excluded.description,
                       category=excluded.category, metal=excluded.metal, stone=excluded.stone,
                       price=excluded.price, currency=excluded.currency, image=excluded.image,
                       image_sha256=excluded.image_sha256, attributes=excluded.attributes,
                       content_hash=excluded.content_hash, embed_model=excluded.embed_model,
                       vector=excluded.vector, updated_at=excluded.updated_at, generation=excluded.generation
                   RETURNING id""",
                rows,
                returning=True,
            )
            while True:
                ids.append(int(cur.fetchone()[0]))
                if not cur.nextset():
                    break
        self.changed = self.changed or bool(ids)
        return ids

    def delete(self, skus: Sequence[str]) -> list[RemovedProduct]:
        rows = self.conn.execute(
            "DELETE FROM products WHERE sku = ANY(%s) RETURNING id, sku, image, image_sha256",
            (list(dict.fromkeys(skus)),),
        ).fetchall()
        removed = [RemovedProduct(r[0], r[1], r[2], r[3]) for r in rows]
        if removed:
            self._tombstone([p.id for p in removed])
        self.changed = self.changed or bool(removed)
        return removed

    def store_vectors(
        self, ids: Sequence[int], vectors: np.ndarray, hashes: Sequence[str], model_spec: str, stamp: str
    ) -> None:
        with self.conn.cursor() as cur:
            cur.executemany(
                "UPDATE products SET vector = %s, content_hash = %s, embed_model = %s, updated_at = %s, "
                "generation = %s WHERE id = %s",
                [(vector_bytes(v), h, model_spec, stamp, self._next, int(i)) for i, v, h in zip(ids, vectors, hashes)],
            )
        self.changed = self.changed or len(ids) > 0

    def _tombstone(self, ids: Sequence[int]) -> None:
        self.conn.execute(
            """INSERT INTO product_tombstones (id, generation) SELECT unnest(%s::bigint[]), %s
               ON CONFLICT (id) DO UPDATE SET generation = excluded.generation""",
            (list(ids), self._next),
        )

    def trash(self, skus: Sequence[str], stamp: str, actor: str) -> list[TrashedProduct]:
        with self.conn.cursor(row_factory=dict_row) as cur:
            rows = cur.execute(
                "DELETE FROM products WHERE sku = ANY(%s) RETURNING *", (list(dict.fromkeys(skus)),)
            ).fetchall()
        trashed = []
        for row in rows:
            product = {k: v for k, v in row.items() if k not in ("vector", "generation")}
            self.conn.execute(
                f"""INSERT INTO trash ({TRASH_COLUMNS}, vector) VALUES (%s, %s, %s::jsonb, %s, %s, %s, %s)
                    ON CONFLICT (id) DO UPDATE SET sku = excluded.sku, product = excluded.product,
                        image_sha256 = excluded.image_sha256, deleted_at = excluded.deleted_at,
                        deleted_by = excluded.deleted_by, vector = excluded.vector""",
                (row["id"], row["sku"], json.dumps(product, ensure_ascii=False), row["image_sha256"], stamp, actor,
                 row["vector"]),
            )  # fmt: skip
            trashed.append(
                TrashedProduct(
                    row["id"], row["sku"], row["title"], row["image"], row["image_sha256"], row["embed_model"],
                    stamp, actor,
                )
            )  # fmt: skip
        if trashed:
            self._tombstone([p.id for p in trashed])
        self.changed = self.changed or bool(trashed)
        return trashed

    def purge_trash(self, before: str | None) -> list[TrashedProduct]:
        where, params = ("", []) if before is None else (" WHERE deleted_at <= %s", [before])
        rows = self.conn.execute(f"DELETE FROM trash{where} RETURNING {TRASH_COLUMNS}", params).fetchall()
        return [_trashed(r) for r in rows]


class PostgresProductStore(ThreadConnections, ProductStore):
    """Products in the (migrated) database at ``url``. Thread-safe: one connection per thread."""

    def __init__(self, url: str, dim: int):
        super().__init__(url)
        self.dim = int(dim)

    @contextmanager
    def write(self) -> Iterator[ProductWriter]:
        with self.transaction() as conn:
            generation = conn.execute("SELECT generation FROM catalog_state FOR UPDATE").fetchone()[0]
            writer = _PostgresWriter(conn, generation)
            yield writer
            if writer.changed:
                conn.execute("UPDATE catalog_state SET generation = %s", (writer.generation + 1,))
                conn.execute("SELECT pg_notify(%s, %s)", (CHANNEL, str(writer.generation + 1)))

    # ----------------------------------------------------------------- reads
    def generation(self) -> int:
        return self._read(lambda c: c.execute("SELECT generation FROM catalog_state").fetchone()[0])

    def changes_since(self, generation: int) -> VectorChanges:
        def query(conn: psycopg.Connection) -> VectorChanges:
            with conn.transaction(), conn.cursor(binary=True) as cur:
                cur.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")  # one snapshot for all
                now = cur.execute("SELECT generation FROM catalog_state").fetchone()[0]
                count = cur.execute("SELECT count(*) FROM products").fetchone()[0]
                rows = cur.execute(
                    "SELECT id, vector FROM products WHERE generation > %s ORDER BY id", (generation,)
                ).fetchall()
                removed = [] if generation < 0 else cur.execute(
                    "SELECT id FROM product_tombstones WHERE generation > %s", (generation,)
                ).fetchall()  # fmt: skip
            return VectorChanges(
                since=generation,
                generation=now,
                count=count,
                ids=np.array([r[0] for r in rows], dtype=np.int64),
                vectors=vectors_from_bytes([r[1] for r in rows], self.dim),
                removed=np.array([r[0] for r in removed], dtype=np.int64),
            )

        return self._read(query)

    def _products(self, sql: str, params: Sequence = ()) -> list[Product]:
        def query(conn: psycopg.Connection) -> list[Product]:
            with conn.cursor(row_factory=dict_row) as cur:
                return [_product(r) for r in cur.execute(sql, params)]

        return self._read(query)

    def count(self, filters: Filters | None = None) -> int:
        where, params = where_clause(filters, "%s")
        return self._read(lambda c: c.execute(f"SELECT count(*) FROM products{where}", params).fetchone()[0])

    def products(self, filters: Filters | None = None, limit: int | None = None, offset: int = 0) -> list[Product]:
        where, params = where_clause(filters, "%s")
        sql = f"SELECT {PRODUCT_COLUMNS} FROM products{where} ORDER BY id"
        if limit is not None:
            sql += " LIMIT %s OFFSET %s"
            params += [int(limit), int(offset)]
        return self._products(sql, params)

    def get(self, ids: Sequence[int]) -> list[Product]:
        ids = [int(i) for i in ids]
        found = {p.id: p for p in self._products(f"SELECT {PRODUCT_COLUMNS} FROM products WHERE id = ANY(%s)", [ids])}
        return [found[i] for i in ids if i in found]

    def get_by_sku(self, sku: str) -> Product | None:
        found = self._products(f"SELECT {PRODUCT_COLUMNS} FROM products WHERE sku = %s", [sku])
        return found[0] if found else None

    def ids_matching(self, filters: Filters) -> np.ndarray:
        where, params = where_clause(filters, "%s")
        rows = self._read(lambda c: c.execute(f"SELECT id FROM products{where}", params).fetchall())
        return np.array([r[0] for r in rows], dtype=np.int64)

    def vectors(self, ids: Sequence[int] | None = None) -> tuple[np.ndarray, np.ndarray]:
        def query(conn: psycopg.Connection) -> list:
            with conn.cursor(binary=True) as cur:
                if ids is None:
                    return cur.execute("SELECT id, vector FROM products ORDER BY id").fetchall()
                return cur.execute("SELECT id, vector FROM products WHERE id = ANY(%s)", (wanted,)).fetchall()

        wanted = None if ids is None else [int(i) for i in ids]
        rows = self._read(query)
        if wanted is not None:
            order = {pid: n for n, pid in enumerate(wanted)}
            rows.sort(key=lambda r: order[r[0]])
        return np.array([r[0] for r in rows], dtype=np.int64), vectors_from_bytes([r[1] for r in rows], self.dim)

    def content_hashes(self) -> dict[str, tuple[str, str]]:
        rows = self._read(lambda c: c.execute("SELECT sku, content_hash, embed_model FROM products").fetchall())
        return {r[0]: (r[1], r[2]) for r in rows}

    def facet_values(self, column: str) -> list[str]:
        if column not in (*FACET_COLUMNS, "currency"):
            raise ValueError(f"not a facet: {column}")
        sql = f"SELECT DISTINCT {column} COLLATE \"C\" FROM products WHERE {column} <> '' ORDER BY 1"
        return [r[0] for r in self._read(lambda c: c.execute(sql).fetchall())]

    def price_range(self) -> tuple[float, float] | None:
        row = self._read(lambda c: c.execute("SELECT min(price), max(price) FROM products").fetchone())
        return None if row[0] is None else (float(row[0]), float(row[1]))

    def products_to_reembed(self, model_spec: str) -> list[Product]:
        sql = f"SELECT {PRODUCT_COLUMNS} FROM products WHERE embed_model <> %s ORDER BY id"
        return self._products(sql, [model_spec])

    def trashed(self) -> list[TrashedProduct]:
        sql = f"SELECT {TRASH_COLUMNS} FROM trash ORDER BY deleted_at DESC, id DESC"
        return [_trashed(r) for r in self._read(lambda c: c.execute(sql).fetchall())]

    def audit_entries(self, query: AuditQuery) -> list[AuditEntry]:
        clauses, params = [], []
        for column, value in (("action", query.action), ("actor", query.actor), ("id", query.entry_id)):
            if value is not None and value != "":
                clauses.append(f"{column} = %s")
                params.append(value)
        if query.target:
            clauses.append("strpos(lower(target), lower(%s)) > 0")
            params.append(query.target)
        if query.since:
            clauses.append("at >= %s")
            params.append(query.since)
        where = (" WHERE " + " AND ".join(clauses)) if clauses else ""
        sql = f"SELECT id, at, actor, action, target, details FROM audit{where} ORDER BY id DESC LIMIT %s"
        rows = self._read(lambda c: c.execute(sql, [*params, int(query.limit)]).fetchall())
        return [AuditEntry(at, who, action, target, details, id=int(i)) for i, at, who, action, target, details in rows]
