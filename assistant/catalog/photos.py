"""Content-addressed photo files: ``images/<first two hex digits>/<sha256><suffix>`` in the catalog folder.

Invariant: a photo's file name is the SHA-256 of its bytes (checked when it is put), and files are written
atomically, so a path that exists holds the whole photo, the same bytes for every product that shows it.
Deciding *when* a photo may go is the catalog's: it removes one only inside a store write that sees no
product, trashed product or kept revision (what an undo would put back) showing it (see
``Catalog._drop_unused_photos``).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path

from assistant.atomic import atomic_write_bytes
from assistant.catalog.records import CatalogError


class PhotoStore:
    """The photo files under one folder; the same photo is stored once."""

    def __init__(self, folder: Path):
        self.folder = Path(folder)

    def path(self, sha256: str, original_name: str | None) -> Path:
        suffix = Path(original_name or "").suffix.lower() or ".img"
        return self.folder / sha256[:2] / f"{sha256}{suffix}"

    def has(self, sha256: str, original_name: str | None) -> bool:
        return self.path(sha256, original_name).is_file()

    def put(self, data: bytes | Callable[[], bytes], sha256: str, original_name: str | None) -> Path:
        """Keep a photo under its content hash unless it is there already; ``data`` may be a loader, called
        only when the photo must be written (so a batch of writes holds no photo it does not need)."""
        path = self.path(sha256, original_name)
        if path.is_file():
            return path
        data = data() if callable(data) else data
        if hashlib.sha256(data).hexdigest() != sha256:
            raise CatalogError(f"photo {original_name!r}: its bytes do not have the SHA-256 {sha256}")
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_bytes(path, data)
        return path

    def remove(self, sha256: str, original_name: str | None) -> None:
        self.path(sha256, original_name).unlink(missing_ok=True)

    def folders(self) -> list[Path]:
        """The folder and its hash-prefix subfolders (where interrupted writes may leave temp files)."""
        return [self.folder, *(p for p in self.folder.iterdir() if p.is_dir())] if self.folder.is_dir() else []
