"""Content-addressed photos in the catalog database, with a per-server file cache for showing them.

Invariant: the ``photos`` table is the truth; a photo row's key is the SHA-256 of its bytes (checked when it is
put). As with a folder, the catalog puts a product's photo before its row and checks it inside the row's write,
and deletes a photo only inside a write that sees no product showing it. The cache
folder holds copies written atomically under the same content hash, so a cached file is never stale and never
half written; it is filled when a page asks for a photo's path.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path

from assistant.atomic import atomic_write_bytes
from assistant.catalog.photos import PhotoStore
from assistant.catalog.postgres.store import PostgresProductStore
from assistant.catalog.records import CatalogError


class DatabasePhotoStore(PhotoStore):
    """Photos in the store's database; ``path`` hands out a cached file in ``cache_folder``."""

    def __init__(self, store: PostgresProductStore, cache_folder: Path):
        super().__init__(cache_folder)
        self.store = store

    def path(self, sha256: str, original_name: str | None) -> Path:
        """The cached file of the photo, fetched from the database when not cached yet (absent if unknown)."""
        cached = super().path(sha256, original_name)
        if not cached.is_file():
            row = self.store.read_one("SELECT data FROM photos WHERE sha256 = %s", (sha256,))
            if row is not None:
                cached.parent.mkdir(parents=True, exist_ok=True)
                atomic_write_bytes(cached, row[0])
        return cached

    def has(self, sha256: str, original_name: str | None) -> bool:
        return self.store.read_one("SELECT 1 FROM photos WHERE sha256 = %s", (sha256,)) is not None

    def put(self, data: bytes | Callable[[], bytes], sha256: str, original_name: str | None) -> Path:
        """Store a photo unless the database has it; ``data`` may be a loader, called only when it is needed."""
        if self.has(sha256, original_name):
            return super().path(sha256, original_name)
        data = data() if callable(data) else data
        if hashlib.sha256(data).hexdigest() != sha256:
            raise CatalogError(f"photo {original_name!r}: its bytes do not have the SHA-256 {sha256}")
        self.store.execute(
            "INSERT INTO photos (sha256, data) VALUES (%s, %s) ON CONFLICT (sha256) DO NOTHING", (sha256, data)
        )
        return super().path(sha256, original_name)

    def remove(self, sha256: str, original_name: str | None) -> None:
        """Delete the photo unless a product shows it (called inside a store write, which serialises writers)."""
        self.store.execute(
            "DELETE FROM photos WHERE sha256 = %s AND NOT EXISTS (SELECT 1 FROM products WHERE image_sha256 = %s)",
            (sha256, sha256),
        )
        super().remove(sha256, original_name)
