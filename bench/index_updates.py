"""What one product edit or delete costs the index of a large catalog, per index kind, against flat.

A store (SQLite, in a temporary folder) holds ``--n`` clustered unit vectors (``bench.vectors``); for each
kind an ``IndexSync`` builds its in-memory index from it, as an app server does at start. Then, ``--repeats``
times each, one product's vector is replaced (an edit, as the back office's re-embedding does) or one product
is deleted, and the time of ``IndexSync.refresh`` (the catch-up every process and server runs after another's
write) is taken; the table shows the median. ``save`` is not timed: only a folder catalog's writer writes
the file. Unfiltered search p50 / p99 before and after the changes shows what the updates cost searches (for
the approximate kinds: the mask of replaced and deleted vectors that searches skip until compaction). Then a
compaction is started (what ``IndexSync`` does by itself once 10% is masked) and searches run meanwhile: the
table shows how long it took and the search p50 / p99 while it ran.

    python -m bench.index_updates                    # 100k x 512, flat, ivf and hnsw, 5 edits and 5 deletes
    python -m bench.index_updates --n 20000 --kinds flat ivf --repeats 3   # a quick look
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from assistant.catalog.index_sync import IndexSync
from assistant.catalog.records import ProductRecord
from assistant.catalog.sqlite_store import SQLiteProductStore

from .report import format_table, machine_line
from .vectors import clustered_unit_vectors

MODEL = "bench-clustered"
KINDS = ("flat", "ivf", "hnsw")
SEARCH_QUERIES = 100


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.index_updates", description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=100_000, help="products in the catalog")
    parser.add_argument("--dim", type=int, default=512)
    parser.add_argument("--kinds", nargs="+", default=list(KINDS), choices=KINDS, help="flat is always measured")
    parser.add_argument("--repeats", type=int, default=5, help="edits and deletes timed per kind (median shown)")
    args = parser.parse_args(argv)
    args.kinds = ["flat", *[k for k in args.kinds if k != "flat"]]
    return args


def progress(line: str) -> None:
    print(f"  {line}", file=sys.stderr, flush=True)


def fill(store: SQLiteProductStore, vectors: np.ndarray, batch: int = 5_000) -> None:
    for start in range(0, len(vectors), batch):
        records = [
            ProductRecord(sku=f"B{i:07d}", title=f"Bench product {i}", vector=vectors[i], content_hash=f"h{i}")
            for i in range(start, min(len(vectors), start + batch))
        ]
        with store.write() as writer:
            writer.upsert(records, MODEL, "bench")


def timed_refresh(sync: IndexSync) -> float:
    started = time.perf_counter()
    sync.refresh()
    return time.perf_counter() - started


def search_ms(sync: IndexSync, queries: np.ndarray) -> list[float]:
    times = []
    for query in queries:
        started = time.perf_counter()
        sync.search(query, 10)
        times.append(1000 * (time.perf_counter() - started))
    return times


def p50_p99(times: list[float]) -> str:
    return f"{np.percentile(times, 50):.2f} / {np.percentile(times, 99):.1f}"


class Changes:
    """Edits and deletes of distinct products, never the same one twice across kinds."""

    def __init__(self, vectors: np.ndarray, rng: np.random.Generator):
        self.vectors = vectors
        self.rng = rng
        self.order = iter(rng.permutation(len(vectors)))

    def edit(self, store: SQLiteProductStore) -> None:
        i = int(next(self.order))
        moved = self.vectors[int(self.rng.integers(len(self.vectors)))]  # another product's look, like a re-shoot
        with store.write() as writer:
            writer.update(f"B{i:07d}", {}, "bench", (moved, f"edited{i}", MODEL))

    def delete(self, store: SQLiteProductStore) -> None:
        with store.write() as writer:
            writer.delete([f"B{int(next(self.order)):07d}"])


def measure(kind: str, store: SQLiteProductStore, dim: int, changes: Changes, repeats: int, queries) -> dict:
    sync = IndexSync(store, None, dim, kind)
    build_s = timed_refresh(sync)
    progress(f"{kind}: built in {build_s:.1f} s")
    before_ms = search_ms(sync, queries)
    edits, deletes = [], []
    for _ in range(repeats):
        changes.edit(store)
        edits.append(timed_refresh(sync))
        changes.delete(store)
        deletes.append(timed_refresh(sync))
        progress(f"{kind}: edit {edits[-1] * 1000:.1f} ms, delete {deletes[-1] * 1000:.1f} ms")
    after_ms = search_ms(sync, queries)
    compaction_s, during = timed_compaction(sync, queries)
    return {
        "kind": sync.current().kind,
        "build_s": build_s,
        "edit_ms": 1000 * statistics.median(edits),
        "delete_ms": 1000 * statistics.median(deletes),
        "search_before_ms": before_ms,
        "search_after_ms": after_ms,
        "compaction_s": compaction_s,
        "search_during_ms": during,
    }


def timed_compaction(sync: IndexSync, queries: np.ndarray) -> tuple[float, list[float]]:
    """(seconds a background compaction took, ms of each search made while it ran, query after query)."""
    started = time.perf_counter()
    sync.compact()
    during = []
    while sync.compacting:
        during += search_ms(sync, queries)
    sync.wait_for_compaction()
    return time.perf_counter() - started, during


def table(results: list[dict], n: int) -> str:
    flat = results[0]
    rows = [
        [
            r["kind"],
            f"{r['build_s']:.1f}",
            f"{r['edit_ms']:.1f}",
            f"{r['edit_ms'] / flat['edit_ms']:.2f}x",
            f"{r['delete_ms']:.1f}",
            f"{r['delete_ms'] / flat['delete_ms']:.2f}x",
            p50_p99(r["search_before_ms"]),
            p50_p99(r["search_after_ms"]),
            f"{r['compaction_s']:.1f}",
            p50_p99(r["search_during_ms"]) if r["search_during_ms"] else "-",
        ]
        for r in results
    ]
    headers = [
        f"kind ({n:,} products)",
        "build s",
        "edit ms",
        "edit / flat",
        "delete ms",
        "delete / flat",
        "search p50 / p99 ms before",
        "after the changes",
        "compaction s",
        "search during compaction",
    ]
    return format_table(headers, rows)


def main(argv: Sequence[str] | None = None) -> list[dict]:
    args = parse_args(argv)
    rng = np.random.default_rng(0)
    vectors, queries = clustered_unit_vectors(rng, args.n, args.dim, SEARCH_QUERIES)
    with tempfile.TemporaryDirectory() as folder:
        store = SQLiteProductStore(Path(folder) / "catalog.db", args.dim)
        started = time.perf_counter()
        fill(store, vectors)
        progress(f"store filled in {time.perf_counter() - started:.1f} s")
        changes = Changes(vectors, rng)
        results = [measure(kind, store, args.dim, changes, args.repeats, queries) for kind in args.kinds]
        store.close()
    print(table(results, args.n))
    print(machine_line())
    return results


if __name__ == "__main__":
    main()
