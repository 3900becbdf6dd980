"""A catalog kept in PostgreSQL: the same ``Catalog`` facade over the database's product and photo stores.

Invariant: the database holds everything that makes the catalog (manifest, products, vectors, photos, the
shared files: category registry and examples, trained heads); this process holds only copies of it: the
FAISS index, built from the database when the catalog opens and caught up before every search (and, through
LISTEN/NOTIFY, as soon as any process commits), photo files cached by content hash, and the shared files
mirrored into ``root`` (pulled at open and after every announced commit; a server that writes one publishes
it in the same call). Losing a server loses nothing; a new one rebuilds its copies from the database.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import psycopg

from assistant.atomic import atomic_write_bytes
from assistant.catalog.catalog import Catalog, check_manifest
from assistant.catalog.index_sync import IndexSync
from assistant.catalog.location import cache_dir_for
from assistant.catalog.manifest import Manifest
from assistant.catalog.postgres import migrations
from assistant.catalog.postgres.connection import connect, redacted, translated_errors
from assistant.catalog.postgres.listener import ChangeListener
from assistant.catalog.postgres.photos import DatabasePhotoStore
from assistant.catalog.postgres.store import CHANNEL, PostgresProductStore
from assistant.catalog.records import CatalogError
from assistant.catalog.vector_index import INDEX_KINDS, VectorIndex

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


def _file_sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else ""


class OnDemandIndexSync(IndexSync):
    """An index built at the first search (or when a server starts listening), not at open nor after a write:
    a CLI command that only writes never builds one, which at 100k products saves minutes of HNSW building."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._wanted = False

    def current(self) -> VectorIndex:
        self._wanted = True
        return super().current()

    def refresh(self) -> None:
        if self._wanted or self.generation >= 0:
            super().refresh()


class PostgresCatalog(Catalog):
    """A catalog whose store is the PostgreSQL database at ``url``; ``root`` is this machine's cache folder."""

    index_sync_class = OnDemandIndexSync

    def __init__(self, url: str, root: Path, manifest: Manifest, store: PostgresProductStore):
        super().__init__(root, manifest, store, DatabasePhotoStore(store, root / IMAGES_CACHE_DIR), index_file=None)
        self.url = url
        self._listener: ChangeListener | None = None
        self._mirrored: dict[str, str] = {}  # shared file name -> SHA-256 this server last wrote or pulled

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
        catalog.pull_files()
        return catalog

    @property
    def location(self) -> str:
        return redacted(self.url)

    def save_manifest(self) -> None:
        with self.store.transaction() as conn:
            write_manifest(conn, self.manifest)

    # ----------------------------------------------------------------- shared files
    def read_file(self, name: str) -> bytes | None:
        row = self.store.read_one("SELECT data FROM catalog_files WHERE name = %s", (name,))
        return None if row is None else bytes(row[0])

    def file_names(self, prefix: str = "") -> list[str]:
        with self.store.transaction() as conn:
            rows = conn.execute("SELECT name FROM catalog_files WHERE starts_with(name, %s) ORDER BY name", (prefix,))
            return [r[0] for r in rows]

    def write_file(self, name: str, data: bytes | None) -> None:
        """Store (or with ``data`` None delete) a shared file and announce it; the product generation stays, so
        caches of product data (the index, category labels) are not thrown away for a registry edit."""
        with self.store.transaction() as conn:
            if data is None:
                conn.execute("DELETE FROM catalog_files WHERE name = %s", (name,))
            else:
                conn.execute(
                    """INSERT INTO catalog_files (name, data, sha256) VALUES (%s, %s, %s)
                       ON CONFLICT (name) DO UPDATE SET data = excluded.data, sha256 = excluded.sha256,
                           updated_at = now()""",
                    (name, data, hashlib.sha256(data).hexdigest()),
                )
            conn.execute("SELECT pg_notify(%s, 'files')", (CHANNEL,))

    def publish_file(self, name: str) -> None:
        """This server wrote (or removed) ``root/name``: make the database's copy, which every server mirrors,
        the same."""
        path = self.root / name
        self.write_file(name, path.read_bytes() if path.is_file() else None)
        self._mirrored[name] = _file_sha256(path)

    def pull_files(self) -> list[str]:
        """Mirror the database's shared files into this server's folder; returns the names that changed here.
        A file this server mirrored earlier and the database no longer has is removed here too."""
        with self.store.transaction() as conn:
            wanted = dict(conn.execute("SELECT name, sha256 FROM catalog_files").fetchall())
        changed = []
        for name, sha256 in wanted.items():
            if (self._mirrored.get(name) or _file_sha256(self.root / name)) != sha256:
                data = self.read_file(name)
                if data is not None:
                    target = self.root / name
                    target.parent.mkdir(parents=True, exist_ok=True)
                    atomic_write_bytes(target, data)
                    self._mirrored[name] = sha256
                    changed.append(name)
        for name in [n for n, sha in self._mirrored.items() if n not in wanted and sha]:
            (self.root / name).unlink(missing_ok=True)
            self._mirrored[name] = ""
            changed.append(name)
        return changed

    def _catch_up(self) -> None:
        """What the listener runs after a commit anywhere: the index, then the shared files."""
        self.index.current()
        self.pull_files()

    def listen(self) -> ChangeListener:
        """For an app server: build the index from the database now, and catch it (and the shared files) up as
        soon as any process commits. Idempotent."""
        self.index.current()
        if self._listener is None:
            self._listener = ChangeListener(self.url, self._catch_up).start()
        return self._listener

    def close(self) -> None:
        if self._listener is not None:
            self._listener.stop()
            self._listener = None
        super().close()
