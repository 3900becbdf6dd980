"""A catalog kept in PostgreSQL: the same ``Catalog`` facade over the database's product and photo stores.

Invariant: the database holds everything that makes the catalog (manifest, products, vectors, photos); this
process holds only caches of it: the FAISS index, built from the database when the catalog opens and caught
up before every search (and, through LISTEN/NOTIFY, as soon as any process commits), and photo files cached
by content hash. Losing a server loses nothing; a new one rebuilds its caches from the database.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import psycopg

from assistant.catalog.catalog import Catalog, check_manifest
from assistant.catalog.location import cache_dir_for
from assistant.catalog.manifest import Manifest
from assistant.catalog.postgres import migrations
from assistant.catalog.postgres.connection import connect, redacted, translated_errors
from assistant.catalog.postgres.listener import ChangeListener
from assistant.catalog.postgres.photos import DatabasePhotoStore
from assistant.catalog.postgres.store import PostgresProductStore
from assistant.catalog.records import CatalogError
from assistant.catalog.vector_index import INDEX_KINDS

MANIFEST_COLUMNS = "model_spec, dim, index_kind, image_weight, format_version, created_at, reindex_target"
IMAGES_CACHE_DIR = "images"


def read_manifest(conn: psycopg.Connection) -> Manifest | None:
    row = conn.execute(f"SELECT {MANIFEST_COLUMNS} FROM catalog_manifest").fetchone()
    return None if row is None else Manifest(*row)


def write_manifest(conn: psycopg.Connection, manifest: Manifest, replace: bool = True) -> None:
    """Store the manifest; with ``replace`` False an existing one is kept (the first of two creators wins)."""
    values = (
        manifest.model_spec, manifest.dim, manifest.index_kind, manifest.image_weight, manifest.format_version,
        manifest.created_at, manifest.reindex_target,
    )  # fmt: skip
    conflict = (
        "DO UPDATE SET model_spec = excluded.model_spec, dim = excluded.dim, index_kind = excluded.index_kind, "
        "image_weight = excluded.image_weight, format_version = excluded.format_version, "
        "reindex_target = excluded.reindex_target"
        if replace
        else "DO NOTHING"
    )
    conn.execute(
        f"INSERT INTO catalog_manifest (singleton, {MANIFEST_COLUMNS}) VALUES (true, %s, %s, %s, %s, %s, %s, %s) "
        f"ON CONFLICT (singleton) {conflict}",
        values,
    )


def stored_manifest(url: str) -> Manifest | None:
    """The manifest of the catalog in the database at ``url``; None when no catalog was created there yet."""
    with connect(url) as conn, translated_errors(url):
        if migrations.current_version(conn) == 0:
            return None
        migrations.require_current(conn, url)
        return read_manifest(conn)


def _no_catalog(url: str) -> CatalogError:
    return CatalogError(
        f"no catalog in the database {redacted(url)}; create one with: "
        f"python -m assistant --catalog '{redacted(url)}' ingest PRODUCTS.csv --images DIR"
    )


def _prepare_schema(conn: psycopg.Connection, url: str, create: bool) -> None:
    """Migrate a brand-new database; refuse one at another schema version (``migrate`` is an operator's step)."""
    if migrations.current_version(conn) == 0:
        if not create:
            raise _no_catalog(url)
        migrations.migrate(url)
    else:
        migrations.require_current(conn, url)


def _open_manifest(
    url: str, model_spec: str, dim: int | None, index_kind: str | None, create: bool, allow_reindex: bool
) -> Manifest:
    with connect(url) as conn, translated_errors(url):
        _prepare_schema(conn, url, create)
        manifest = read_manifest(conn)
        if manifest is None:
            if not create:
                raise _no_catalog(url)
            if dim is None:
                raise CatalogError("a new catalog needs the embedding dimension of its model")
            write_manifest(conn, Manifest(model_spec=model_spec, dim=int(dim), index_kind=index_kind or "auto"), False)
            manifest = read_manifest(conn)
        check_manifest(manifest, redacted(url), model_spec, allow_reindex)
        if index_kind and index_kind != manifest.index_kind:
            manifest.index_kind = index_kind
            write_manifest(conn, manifest)
    return manifest


class PostgresCatalog(Catalog):
    """A catalog whose store is the PostgreSQL database at ``url``; ``root`` is this machine's cache folder."""

    def __init__(self, url: str, root: Path, manifest: Manifest, store: PostgresProductStore):
        super().__init__(root, manifest, store, DatabasePhotoStore(store, root / IMAGES_CACHE_DIR), index_file=None)
        self.url = url
        self._listener: ChangeListener | None = None

    @classmethod
    def open_url(
        cls,
        url: str,
        model_spec: str,
        dim: int | None = None,
        index_kind: str | None = None,
        create: bool = True,
        allow_reindex: bool = False,
        cache_root: Path | None = None,
    ) -> PostgresCatalog:
        """Open (or create) the catalog in the database at ``url``; the same checks as a folder's ``open``."""
        if index_kind is not None and index_kind not in INDEX_KINDS:
            raise CatalogError(f"unknown index kind {index_kind!r}; choose one of {', '.join(INDEX_KINDS)}")
        manifest = _open_manifest(url, model_spec, dim, index_kind, create, allow_reindex)
        root = Path(cache_root) if cache_root is not None else cache_dir_for(url)
        root.mkdir(parents=True, exist_ok=True)
        catalog = cls(url, root, manifest, PostgresProductStore(url, manifest.dim))
        if not manifest.reindex_target and manifest.model_spec == model_spec:
            catalog.index.refresh()  # a new server builds its index from the database here
        return catalog

    @property
    def location(self) -> str:
        return redacted(self.url)

    def save_manifest(self) -> None:
        with self.store.transaction() as conn:
            write_manifest(conn, self.manifest)

    # ----------------------------------------------------------------- shared files (see transfer.py)
    def read_file(self, name: str) -> bytes | None:
        row = self.store.read_one("SELECT data FROM catalog_files WHERE name = %s", (name,))
        return None if row is None else bytes(row[0])

    def write_file(self, name: str, data: bytes) -> None:
        """Store a shared file (a registry, a trained head) as one committed, announced change."""
        with self.store.write() as writer:
            self.store.execute(
                """INSERT INTO catalog_files (name, data, sha256, generation) VALUES (%s, %s, %s, %s)
                   ON CONFLICT (name) DO UPDATE SET data = excluded.data, sha256 = excluded.sha256,
                       updated_at = now(), generation = excluded.generation""",
                (name, data, hashlib.sha256(data).hexdigest(), writer.generation + 1),
            )
            writer.changed = True

    def read_examples(self, examples_dir: str) -> dict[str, bytes]:
        with self.store.transaction() as conn:
            rows = conn.execute("SELECT e.file_name, p.data FROM category_examples e JOIN photos p USING (sha256)")
            return {name: bytes(data) for name, data in rows}

    def write_example(self, examples_dir: str, name: str, data: bytes) -> None:
        sha256 = hashlib.sha256(data).hexdigest()
        self.photos.put(data, sha256, name)
        self.store.execute(
            "INSERT INTO category_examples (file_name, sha256) VALUES (%s, %s) "
            "ON CONFLICT (file_name) DO UPDATE SET sha256 = excluded.sha256",
            (name, sha256),
        )

    def listen(self) -> ChangeListener:
        """Catch the index up as soon as any process commits (for long-running servers); idempotent."""
        if self._listener is None:
            self._listener = ChangeListener(self.url, self.index.current).start()
        return self._listener

    def close(self) -> None:
        if self._listener is not None:
            self._listener.stop()
            self._listener = None
        super().close()
