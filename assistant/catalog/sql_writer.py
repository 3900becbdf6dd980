"""The writes (and the filter clause) that the SQLite and the PostgreSQL product stores do the same way, written once.

Invariant: a statement here is the same on both databases but for what a store's writer declares: its
placeholder (statements are written with ``?``), the column stamped with the generation that last wrote a
row's vector, the table of deleted ids, how a JSON parameter is cast, and how it lists the products table's
columns. Every write that changes something sets ``changed``, so the store commits the next generation with it.
The revisions an undo puts back are kept and read here too, the same way for both stores.
"""

from __future__ import annotations

import json
from abc import abstractmethod
from collections.abc import Sequence
from typing import Any

import numpy as np

from assistant.catalog.records import AuditEntry, CatalogError, Filters, Revision, StoredRow
from assistant.catalog.store import ProductWriter, revision_row

#: Bound parameters per statement for lists of ids or skus (SQLite's default limit is 999).
CHUNK = 900


def where_clause(filters: Filters | None, mark: str) -> tuple[str, list]:
    """A WHERE clause for the filters with its parameters, written with the database's placeholder ``mark``;
    facet column names come from FACET_COLUMNS, never from input."""
    if filters is None:
        return "", []
    clauses: list[str] = []
    params: list = []
    for column, values in filters.facets().items():
        clauses.append(f"{column} IN ({', '.join([mark] * len(values))})")
        params.extend(values)
    if filters.min_price is not None:
        clauses.append(f"price >= {mark}")
        params.append(float(filters.min_price))
    if filters.max_price is not None:
        clauses.append(f"price <= {mark}")
        params.append(float(filters.max_price))
    return (" WHERE " + " AND ".join(clauses)) if clauses else "", params


def vector_bytes(vector: np.ndarray) -> bytes:
    """A vector as both stores keep it: little-endian float32."""
    return np.asarray(vector, dtype="<f4").tobytes()


class SQLProductWriter(ProductWriter):
    """One write transaction on ``conn`` (a DB-API connection whose ``execute`` returns a cursor)."""

    #: The database's placeholder for a parameter ("?" or "%s").
    MARK: str
    #: The products column holding the generation that last wrote the row's vector.
    GENERATION_COLUMN: str
    #: The table of deleted ids and the generation that deleted each.
    TOMBSTONES: str
    #: The placeholder of a JSON parameter ("?" where JSON is text, "?::jsonb").
    JSON_MARK: str = "?"

    def __init__(self, conn: Any, generation: int):
        self.conn = conn
        self.generation = generation
        self.changed = False

    @property
    def _next(self) -> int:
        return self.generation + 1

    def _execute(self, sql: str, params: Sequence[Any] = ()) -> Any:
        """Run a statement written with ``?`` placeholders."""
        return self.conn.execute(sql.replace("?", self.MARK), params)

    @abstractmethod
    def _product_columns(self) -> set[str]:
        """The products table's columns, as the database has them now."""

    @abstractmethod
    def _tombstone(self, ids: Sequence[int]) -> None:
        """Stamp these deleted ids with the generation this write commits."""

    def update(
        self, sku: str, fields: dict, stamp: str, embedding: tuple[np.ndarray, str, str] | None = None
    ) -> int | None:
        fields = dict(fields)
        if embedding is not None:
            vector, digest, model_spec = embedding
            fields |= {
                "vector": vector_bytes(vector),
                "content_hash": digest,
                "embed_model": model_spec,
                self.GENERATION_COLUMN: self._next,
            }
        assignments = "".join(f"{column} = ?, " for column in fields)  # column names were checked by the caller
        row = self._execute(
            f"UPDATE products SET {assignments}updated_at = ? WHERE sku = ? RETURNING id",
            [*fields.values(), stamp, sku],
        ).fetchone()
        if row is None:
            return None
        self.changed = True
        return int(row[0])

    def photo_in_use(self, sha256: str) -> bool:
        row = self._execute(
            "SELECT 1 FROM products WHERE image_sha256 = ? UNION ALL "
            "SELECT 1 FROM trash WHERE image_sha256 = ? UNION ALL "
            "SELECT 1 FROM revisions WHERE before_image = ? LIMIT 1",
            (sha256, sha256, sha256),
        ).fetchone()
        return row is not None

    def restore(self, sku: str, model_spec: str, stamp: str) -> int:
        row = self._execute(
            "SELECT id, product, vector FROM trash WHERE sku = ? ORDER BY deleted_at DESC, id DESC LIMIT 1", (sku,)
        ).fetchone()
        if row is None:
            raise CatalogError(f"no product with sku {sku!r} in the trash (purged, or never deleted)")
        if self._execute("SELECT 1 FROM products WHERE sku = ?", (sku,)).fetchone():
            raise CatalogError(f"{sku!r} is in the catalog again (imported after the delete); delete that one first")
        pid, product, vector = row[0], _json_value(row[1]), row[2]
        if product.get("embed_model") != model_spec:
            raise CatalogError(
                f"{sku!r} was deleted before the catalog moved to model {model_spec!r}; import it again instead"
            )
        columns = self._product_columns()
        values = {k: v for k, v in product.items() if k in columns} | {
            "id": pid, "vector": vector, self.GENERATION_COLUMN: self._next, "updated_at": stamp,
        }  # fmt: skip
        attributes = values.get("attributes") or {}
        values["attributes"] = attributes if isinstance(attributes, str) else json.dumps(attributes, ensure_ascii=False)
        marks = ", ".join("?" * len(values))
        self._execute(f"INSERT INTO products ({', '.join(values)}) VALUES ({marks})", list(values.values()))
        self._execute(f"DELETE FROM {self.TOMBSTONES} WHERE id = ?", (pid,))
        self._execute("DELETE FROM trash WHERE id = ?", (pid,))
        self.changed = True
        return int(pid)

    def append_audit(self, entry: AuditEntry) -> int:
        return self._execute(
            f"INSERT INTO audit (at, actor, action, target, details) VALUES (?, ?, ?, ?, {self.JSON_MARK}) "
            "RETURNING id",
            (entry.at, entry.actor, entry.action, entry.target,
             json.dumps(entry.details, ensure_ascii=False, sort_keys=True, default=str)),
        ).fetchone()[0]  # fmt: skip

    # ------------------------------------------------------------- revisions: what lets a change be undone
    def rows(self, skus: Sequence[str]) -> dict[str, StoredRow]:
        found = {}
        skus = list(dict.fromkeys(skus))
        for start in range(0, len(skus), CHUNK):
            chunk = skus[start : start + CHUNK]
            cursor = self._execute(f"SELECT * FROM products WHERE sku IN ({', '.join('?' * len(chunk))})", chunk)
            names = [d[0] for d in cursor.description]
            for values in cursor.fetchall():
                row = dict(zip(names, values))
                fields = {k: v for k, v in row.items() if k not in ("vector", self.GENERATION_COLUMN)}
                fields["attributes"] = _json_value(fields.get("attributes") or "{}")
                found[row["sku"]] = StoredRow(fields, _vector(row["vector"]))
        return found

    def keep_revisions(self, revisions: Sequence[Revision]) -> None:
        if not revisions:
            return
        j = self.JSON_MARK
        sql = f"""INSERT INTO revisions (change, sku, product_id, before, before_vector, before_image,
                      before_image_name, after, at) VALUES (?, ?, ?, {j}, ?, ?, ?, {j}, ?)
                  ON CONFLICT (change, sku) DO UPDATE SET after = excluded.after"""
        cursor = self.conn.cursor()
        cursor.executemany(sql.replace("?", self.MARK), [revision_row(r, vector_bytes) for r in revisions])

    def revisions(self, change: str) -> list[Revision]:
        rows = self._execute(
            "SELECT sku, before, before_vector, after, at FROM revisions WHERE change = ? ORDER BY sku", (change,)
        ).fetchall()
        return [
            Revision(change, sku, None if before is None else StoredRow(_json_value(before), _vector(vector)),
                     None if after is None else _json_value(after), at)
            for sku, before, vector, after, at in rows
        ]  # fmt: skip

    def trashed_row(self, product_id: int) -> dict | None:
        row = self._execute("SELECT product FROM trash WHERE id = ?", (int(product_id),)).fetchone()
        if row is None:
            return None
        fields = _json_value(row[0])
        fields["attributes"] = _json_value(fields.get("attributes") or "{}")
        return fields

    def put_row(self, row: StoredRow) -> None:
        values = dict(row.fields) | {"vector": vector_bytes(row.vector), self.GENERATION_COLUMN: self._next}
        values["attributes"] = json.dumps(values.get("attributes") or {}, ensure_ascii=False)
        updates = ", ".join(f"{column} = excluded.{column}" for column in values if column != "id")
        self._execute(
            f"INSERT INTO products ({', '.join(values)}) VALUES ({', '.join('?' * len(values))}) "
            f"ON CONFLICT (id) DO UPDATE SET {updates}",
            list(values.values()),
        )
        self._execute(f"DELETE FROM {self.TOMBSTONES} WHERE id = ?", (values["id"],))
        self._execute("DELETE FROM trash WHERE id = ?", (values["id"],))
        self.changed = True

    def drop_revisions(self, before: str | None = None, product_ids: Sequence[int] = ()) -> list[tuple[str, str]]:
        returning = " RETURNING before_image, before_image_name"
        dropped = []
        if before is not None:
            dropped += self._execute(f"DELETE FROM revisions WHERE at <= ?{returning}", (before,)).fetchall()
        ids = [int(i) for i in product_ids]
        for start in range(0, len(ids), CHUNK):
            chunk = ids[start : start + CHUNK]
            marks = ", ".join("?" * len(chunk))
            dropped += self._execute(
                f"DELETE FROM revisions WHERE product_id IN ({marks}){returning}", chunk
            ).fetchall()
        return [(sha, name) for sha, name in dropped if sha]


def _vector(blob: Any) -> np.ndarray:
    return np.frombuffer(bytes(blob), dtype="<f4").astype(np.float32)


def _json_value(value: Any) -> dict:
    """A JSON column's value: SQLite hands back the text, PostgreSQL (jsonb) the decoded value."""
    return json.loads(value) if isinstance(value, str | bytes) else value
