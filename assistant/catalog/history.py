"""Earlier versions of the catalog's trained files (the personaliser's checkpoint, the few-shot category head),
kept so that an audited training can be undone: ``history/<sha256>`` in the catalog folder.

Invariants: before a training replaces a file, ``keep`` stores the file's bytes under their SHA-256 (atomically;
published like the file itself, so every server of a shared catalog has them); the training's audit entry names
the version it replaced and the one it wrote (``training_details``). ``put_back`` restores a version only while
the file is still the one the entry wrote, so a later training is never overwritten. A kept version stays until
the trash time has passed since it was last kept, then ``purge`` removes it.
"""

from __future__ import annotations

import hashlib
import os
from datetime import datetime
from pathlib import Path

from assistant.atomic import atomic_write_bytes
from assistant.catalog.records import CatalogError

HISTORY_DIR = "history"


def file_sha256(path: Path) -> str | None:
    path = Path(path)
    return hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else None


def _name(catalog, path: Path) -> str:
    """How an entry names a trained file: relative to the catalog folder when inside it."""
    path = Path(path).resolve()
    root = Path(catalog.root).resolve()
    return path.relative_to(root).as_posix() if path.is_relative_to(root) else str(path)


def _path(catalog, name: str) -> Path:
    return Path(name) if Path(name).is_absolute() else Path(catalog.root) / name


def keep(catalog, path: Path) -> str | None:
    """Keep the current version of ``path`` (before a training replaces it); returns its SHA-256, None when
    there is no file yet."""
    path = Path(path)
    if not path.is_file():
        return None
    data = path.read_bytes()
    sha = hashlib.sha256(data).hexdigest()
    kept = Path(catalog.root) / HISTORY_DIR / sha
    if kept.is_file():
        os.utime(kept)  # kept again now: its undo window starts again
    else:
        kept.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_bytes(kept, data)
        catalog.publish_file(f"{HISTORY_DIR}/{sha}")
    return sha


def training_details(catalog, path: Path, previous: str | None) -> dict:
    """What a training's audit entry needs to be undone: the file, the version it replaced and the one it wrote."""
    return {"file": _name(catalog, path), "previous": previous, "written": file_sha256(path)}


def put_back(catalog, details: dict) -> dict:
    """Undo a training: the file back to the version it replaced (removed when there was none). Refused when the
    file is no longer the version the training wrote. Returns the details of this undo, which undo it again."""
    name, previous, written = details["file"], details.get("previous"), details.get("written")
    path = _path(catalog, name)
    if file_sha256(path) != written:
        raise CatalogError(f"{name} was trained again (or changed) after this training: undo the newer one first")
    kept = None if previous is None else Path(catalog.root) / HISTORY_DIR / previous
    if kept is not None and not kept.is_file():
        raise CatalogError(f"the earlier version of {name} is no longer kept (older than the trash time)")
    keep(catalog, path)  # what this undo replaces, so that it can be undone in turn
    if kept is None:
        path.unlink(missing_ok=True)
    else:
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_bytes(path, kept.read_bytes())
    if not Path(name).is_absolute():
        catalog.publish_file(name)
    return {"file": name, "previous": written, "written": previous}


def purge(catalog, before: str) -> list[str]:
    """Remove kept versions last kept at or before the ISO time ``before`` (not the file's current version)."""
    folder = Path(catalog.root) / HISTORY_DIR
    if not folder.is_dir():
        return []
    cutoff = datetime.fromisoformat(before).timestamp()
    gone = []
    for kept in folder.iterdir():
        if kept.is_file() and kept.stat().st_mtime <= cutoff:
            kept.unlink(missing_ok=True)
            catalog.publish_file(f"{HISTORY_DIR}/{kept.name}")
            gone.append(kept.name)
    return gone
