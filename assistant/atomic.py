"""Atomic file writes: readers, and a crash at any instant, see the old content or the new, never a mix.

Invariant: a temp file ``.NAME-XXXXXXXX.tmp`` is locked (``flock``) by the process writing it for as long
as it is in use, and the OS drops the lock when that process dies, so an unlocked temp file is a stale
leftover of a killed writer that ``remove_stale_temp_files`` may delete, while a live one is never touched.
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import tempfile
from pathlib import Path

#: mkstemp's names: the prefix and suffix below around 8 random characters.
TEMP_NAME = re.compile(r"\..+-[a-z0-9_]{8}\.tmp")


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write to a locked temp file in the same folder, fsync it, then rename it over ``path``."""
    path = Path(path)
    for _ in range(3):
        if _write_through_temp(path, data):
            return
    raise OSError(f"could not write {path}: its temp file was removed under it three times")


def _write_through_temp(path: Path, data: bytes) -> bool:
    """One try; False when a cleaner removed the temp file in the instant before it was locked."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}-", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            fcntl.flock(f, fcntl.LOCK_EX)
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
            try:
                os.replace(tmp, path)
            except FileNotFoundError:
                if path.parent.is_dir():
                    return False
                raise
        return True
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def atomic_write_json(path: Path, obj: object) -> None:
    atomic_write_bytes(path, json.dumps(obj, indent=2, ensure_ascii=False).encode("utf-8"))


def remove_stale_temp_files(folder: Path) -> list[Path]:
    """Delete the temp files under ``folder`` (recursively) that no live process is writing; returns them."""
    removed = []
    for parent, _, names in os.walk(folder):
        for name in names:
            if TEMP_NAME.fullmatch(name) and _remove_if_unlocked(Path(parent) / name):
                removed.append(Path(parent) / name)
    return removed


def _remove_if_unlocked(path: Path) -> bool:
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError:
        return False  # gone already, or not a plain file
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False  # a live writer holds it
    else:
        path.unlink(missing_ok=True)
        return True
    finally:
        os.close(fd)
