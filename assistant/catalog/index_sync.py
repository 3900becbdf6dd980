"""Keeps a process's FAISS index, and the catalog's index file, in step with the product store.

Invariant: the in-memory index holds exactly the store's vectors as of the store generation it is
stamped with, and the index file holds exactly the vectors of the generation written in its header.
Catching up reads ``changes_since(stamp)`` in one store snapshot, so an index never skips another
process's commit; ``current()`` catches up whenever the store's generation moved, so a search sees
every commit made before it started. A file is only replaced by one with a newer stamp (under a file
lock), so no process overwrites the file with an index that misses rows another process saved (or by a
compacted index of the same stamp: the same vectors, without dead positions).
A file that is unreadable, of another dimension, or that disagrees with the store is rebuilt from it.

Updates are applied in place for every kind: an edit or delete costs milliseconds, not a rebuild. The
approximate kinds keep replaced and deleted vectors as dead positions that searches skip
(``vector_index.py``); once COMPACT_DEAD_SHARE of the positions are dead, a thread builds a compacted index
aside from the store, catches it up with what changed meanwhile and swaps it in, while searches go on over the
masked one. A process that outruns its compactions (a command that exits before one ends, writing again and
again) compacts before returning once COMPACT_NOW_DEAD_SHARE are dead, so the mask never grows without bound.
The file holds whatever index the process held, dead mask included: it is still exactly the vectors of its
generation, and a process that loads it starts without replaying changes.

Threads: searches share the index (FAISS searches run in parallel); catching up changes it in place
only while no search runs, and rebuilds and compactions are swapped in whole.
"""

from __future__ import annotations

import fcntl
import logging
import struct
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from assistant.atomic import atomic_write_bytes
from assistant.catalog.records import VectorChanges
from assistant.catalog.store import ProductStore
from assistant.catalog.vector_index import VectorIndex, one_faiss_thread, resolve_kind
from assistant.errors import AssistantError

log = logging.getLogger(__name__)

#: Index files start with this magic and the store generation they hold (little-endian int64).
FILE_MAGIC = b"JWLIDX\x01\n"
HEADER = struct.Struct("<8sq")
#: An index file from before generation stamps counts as holding generation 0: every vector stamped
#: later is applied on top of it, and a count or id mismatch with the store rebuilds it.
UNSTAMPED_GENERATION = 0
#: An approximate index with this share of dead positions is compacted in a background thread: searches then
#: scan up to 1 / (1 - share) times as much (11% at 0.1) and memory holds as many dead vectors.
COMPACT_DEAD_SHARE = 0.1
#: ... and in the thread catching up, before it returns, once this share is dead (a compaction did not keep up).
COMPACT_NOW_DEAD_SHARE = 0.3


class ReadWriteLock:
    """Many readers or one writer; a waiting writer holds back new readers so it can't starve."""

    def __init__(self):
        self._cond = threading.Condition()
        self._readers = 0
        self._writing = False
        self._writers_waiting = 0

    @contextmanager
    def reading(self) -> Iterator[None]:
        with self._cond:
            self._cond.wait_for(lambda: not self._writing and not self._writers_waiting)
            self._readers += 1
        try:
            yield
        finally:
            with self._cond:
                self._readers -= 1
                self._cond.notify_all()

    @contextmanager
    def writing(self) -> Iterator[None]:
        with self._cond:
            self._writers_waiting += 1
            self._cond.wait_for(lambda: not self._writing and not self._readers)
            self._writers_waiting -= 1
            self._writing = True
        try:
            yield
        finally:
            with self._cond:
                self._writing = False
                self._cond.notify_all()


def read_index_file(path: Path) -> tuple[VectorIndex, int]:
    """(index, generation it holds); RuntimeError or OSError when the file is not a readable index."""
    data = memoryview(path.read_bytes())
    if bytes(data[: len(FILE_MAGIC)]) == FILE_MAGIC:
        _, generation = HEADER.unpack(data[: HEADER.size])
        return VectorIndex.from_bytes(data[HEADER.size :]), generation
    return VectorIndex.from_bytes(data), UNSTAMPED_GENERATION


def file_generation(path: Path) -> int | None:
    """The generation an index file holds, from its header alone; None when there is no stamped file."""
    try:
        with open(path, "rb") as f:
            head = f.read(HEADER.size)
    except FileNotFoundError:
        return None
    if len(head) < HEADER.size or head[: len(FILE_MAGIC)] != FILE_MAGIC:
        return None
    return HEADER.unpack(head)[1]


class IndexSync:
    """One process's index of a store's vectors, and the file that caches it between processes."""

    def __init__(self, store: ProductStore, path: Path | None, dim: int, kind_setting: str):
        """``path`` None keeps the index in memory only (a server database's catalog builds it at start)."""
        self.store = store
        self.path = None if path is None else Path(path)
        self.dim = dim
        self.kind_setting = kind_setting
        self._index: VectorIndex | None = None
        self._generation = -1  # the store generation self._index holds
        self._saved_generation = -1  # the generation last read from or written to the file
        self._update_lock = threading.RLock()  # one thread catches up or rebuilds at a time
        self._searching = ReadWriteLock()
        self._compaction: threading.Thread | None = None  # the background compaction, while one runs

    # ----------------------------------------------------------------- reading
    @property
    def generation(self) -> int:
        """The store generation the in-memory index holds (-1 before the first load)."""
        return self._generation

    def current(self) -> VectorIndex:
        """The index, caught up with every commit made before this call. Single-threaded use only:
        to search while other threads write, use ``search``."""
        if self._index is None or self.store.generation() != self._generation:
            self.refresh()
        return self._index

    @contextmanager
    def reading(self) -> Iterator[VectorIndex]:
        """The caught-up index, which no thread changes until the block ends."""
        self.current()
        with self._searching.reading():
            yield self._index

    def search(
        self, queries: np.ndarray, k: int, allowed_ids: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        with self.reading() as index:
            return index.search(queries, k, allowed_ids)

    # ----------------------------------------------------------------- catching up
    def refresh(self) -> None:
        """Catch up with the store: load the file on first use, then apply what changed since."""
        with self._update_lock:
            loaded = self._index is None
            if loaded:
                self._load()
            changes = self.store.changes_since(self._generation)
            if loaded or changes.generation != self._generation:
                self._apply(changes)  # after a load even if nothing changed: it checks the count

    def _load(self) -> None:
        index, generation = self._read_file()
        if index is None or generation > self.store.generation():
            self._rebuild()  # a file from the future belongs to another copy of the database
            return
        with self._searching.writing():
            self._index, self._generation = index, generation
        self._saved_generation = generation

    def _read_file(self) -> tuple[VectorIndex | None, int]:
        if self.path is None or not self.path.exists():
            return None, -1
        try:
            index, generation = read_index_file(self.path)
        except (RuntimeError, OSError) as exc:
            log.warning("index %s is unreadable (%s): rebuilding from the database", self.path, exc)
            return None, -1
        if index.dim != self.dim:
            log.warning("index %s has dim %d, catalog %d: rebuilding", self.path, index.dim, self.dim)
            return None, -1
        return index, generation

    def _apply(self, changes: VectorChanges) -> None:
        index = self._index
        stale = self._stale_ids(index, changes)
        if stale is None:
            self._rebuild(resolve_kind(self.kind_setting, changes.count))
            return
        with self._searching.writing():
            _update(index, stale, changes)
            self._generation = changes.generation
        self._compact_when_due()

    def _stale_ids(self, index: VectorIndex, changes: VectorChanges) -> np.ndarray | None:
        """The ids whose vectors in index the changes replace or delete; None when index must be rebuilt
        instead (the setting now picks another kind, or the index disagrees with the store)."""
        stale = np.union1d(index.present(changes.removed), index.present(changes.ids))
        expected = index.ntotal - len(stale) + len(changes.ids)
        if expected != changes.count:
            log.info("index %s disagrees with the database (%d vs %d)", self.path, expected, changes.count)
            return None
        return None if index.kind != resolve_kind(self.kind_setting, changes.count) else stale

    def _rebuild(self, kind: str | None = None) -> None:
        everything = self.store.changes_since(-1)
        kind = kind or resolve_kind(self.kind_setting, everything.count)
        log.info("building %s index for %d products", kind, everything.count)
        built = VectorIndex.build(self.dim, kind, everything.ids, everything.vectors)
        with self._searching.writing():
            self._index, self._generation = built, everything.generation
        self._write_file(same_generation=True)

    def rebuild(self, kind: str | None = None) -> None:
        """Build the index afresh from the store (of ``kind``, or the one the setting picks) and save it."""
        with self._update_lock:
            self._rebuild(kind)

    # ----------------------------------------------------------------- compaction
    def _compact_when_due(self) -> None:
        """Compact an index whose dead share passed the thresholds (called holding the update lock)."""
        dead = self._index.dead_share
        if dead >= COMPACT_NOW_DEAD_SHARE and not self.compacting:
            log.info("index %s is %.0f%% dead positions: compacting now", self.path, 100 * dead)
            self._rebuild(self._index.kind)
        elif dead >= COMPACT_DEAD_SHARE:
            self.compact()

    def compact(self) -> None:
        """Start compacting in a background thread now, unless one runs already (``wait_for_compaction``)."""
        with self._update_lock:
            if self._index is not None and not self.compacting:
                self._compaction = threading.Thread(target=self._compact_aside, name="index compaction", daemon=True)
                self._compaction.start()

    @property
    def compacting(self) -> bool:
        """Whether a background compaction is running."""
        thread = self._compaction
        return thread is not None and thread.is_alive()

    def wait_for_compaction(self, timeout: float | None = None) -> None:
        """Block until the background compaction (if any) has been swapped in or given up."""
        thread = self._compaction
        if thread is not None:
            thread.join(timeout)

    def _compact_aside(self) -> None:
        """The compaction thread's work; a failure (the database went away) leaves the masked index serving."""
        try:
            self._build_aside_and_swap()
        except (AssistantError, RuntimeError, OSError) as exc:
            log.warning("compacting index %s failed (%s); the next change tries again", self.path, exc)

    def _build_aside_and_swap(self) -> None:
        """Build the index afresh from a store snapshot without holding a lock (FAISS releases the GIL; on one
        core, so searches keep the other), then catch it up and swap it in."""
        kind = self._index.kind
        everything = self.store.changes_since(-1)
        log.info("compacting the %s index of %d products", kind, everything.count)
        with one_faiss_thread():
            built = VectorIndex.build(self.dim, kind, everything.ids, everything.vectors)
        with self._update_lock:
            changes = self.store.changes_since(everything.generation)
            stale = self._stale_ids(built, changes)
            if stale is None or changes.generation < self._generation:
                return  # the setting picks another kind now: the next catch-up rebuilds
            _update(built, stale, changes)
            with self._searching.writing():
                self._index, self._generation = built, changes.generation
            self._write_file(same_generation=True)

    # ----------------------------------------------------------------- the file
    def save(self) -> None:
        """Write the index file if this process holds a newer generation than the file does."""
        with self._update_lock:
            if self._generation != self._saved_generation:
                self._write_file(same_generation=False)

    def _write_file(self, same_generation: bool) -> None:
        """Replace the file if it holds an older generation (or the same one, for an index built afresh)."""
        if self._index is None or self.path is None:
            return
        with self._file_lock():
            on_disk = file_generation(self.path)
            if on_disk is None or on_disk < self._generation or (same_generation and on_disk == self._generation):
                atomic_write_bytes(self.path, HEADER.pack(FILE_MAGIC, self._generation) + self._index.to_bytes())
        self._saved_generation = self._generation

    @contextmanager
    def _file_lock(self) -> Iterator[None]:
        """Serialises index-file replacement across processes (released by the OS if a process dies)."""
        with open(self.path.with_name(self.path.name + ".lock"), "a+b") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)


def _update(index: VectorIndex, stale: np.ndarray, changes: VectorChanges) -> None:
    """Apply changes in place: drop the stale ids, add the new and replaced vectors."""
    index.remove(stale)
    index.add(changes.ids, changes.vectors)
