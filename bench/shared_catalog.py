"""A catalog in PostgreSQL shared by app servers: how long a new server takes to build its index, and how soon
another process's write is searchable on a running server.

Vectors are random unit vectors written straight into the database (no model), dim 512 as ViT-B-32's. The
start-up row times what a new app server does (open the catalog and start listening: read every vector from
PostgreSQL, build the index of the kind the setting picks); its baseline, measured in the same run, builds the
same index from vectors already in memory, so the difference is the price of reading them from the database.
Freshness: a writer process (as the CLI would) upserts one product at a time; the started server notes when
its index holds the write (the listener's doing: it never searches meanwhile), then checks a search finds it.

    python -m bench.shared_catalog                  # 100k products, 20 writes; starts a throwaway PostgreSQL
    python -m bench.shared_catalog --quick          # 10k products, 5 writes
    python -m bench.shared_catalog --index-kind flat   # skip the HNSW build (minutes at 100k on 2 cores)
    python -m bench.shared_catalog --url postgresql://USER@HOST/DB   # an empty database of yours instead
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from assistant.catalog import Catalog, ProductRecord
from assistant.catalog.postgres.store import PostgresProductStore
from assistant.catalog.vector_index import INDEX_KINDS, VectorIndex, resolve_kind
from assistant.clip.embedder import normalize

from .report import format_table, machine_line

MODEL = "bench-random-512"
REPO = Path(__file__).resolve().parents[1]
WRITER = """
import sys, time
import numpy as np
from assistant.catalog import Catalog, ProductRecord
catalog = Catalog.open(sys.argv[1], sys.argv[2])
for line in sys.stdin:
    sku, seed = line.split()
    vector = np.random.default_rng(int(seed)).standard_normal(int(sys.argv[3])).astype(np.float32)
    started = time.time()
    catalog.upsert([ProductRecord(sku=sku, title="fresh", vector=vector / np.linalg.norm(vector), content_hash=sku)])
    print(started, time.time(), flush=True)
"""


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.shared_catalog", description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", help="an empty PostgreSQL database (default: start a throwaway server)")
    parser.add_argument("--n", type=int, default=100_000, help="products in the catalog")
    parser.add_argument("--dim", type=int, default=512)
    parser.add_argument("--writes", type=int, default=20, help="single-product writes timed for freshness")
    parser.add_argument("--index-kind", default="auto", choices=INDEX_KINDS, help="index of the servers")
    parser.add_argument("--quick", action="store_true", help="10k products, 5 writes")
    args = parser.parse_args(argv)
    if args.quick:
        args.n, args.writes = 10_000, 5
    return args


def fill(catalog: Catalog, n: int, dim: int, batch: int = 5_000) -> np.ndarray:
    """Write n random products straight into the store; returns their vectors."""
    rng = np.random.default_rng(0)
    vectors = normalize(rng.standard_normal((n, dim), dtype=np.float32))
    for start in range(0, n, batch):
        records = [
            ProductRecord(sku=f"B{i:07d}", title=f"Bench product {i}", category="ring", vector=vectors[i],
                          content_hash=f"h{i}")
            for i in range(start, min(n, start + batch))
        ]  # fmt: skip
        with catalog.store.write() as writer:
            writer.upsert(records, MODEL, "bench")
    return vectors


def progress(line: str) -> None:
    """Figures as they come (a long run on a busy machine may be cut short), on stderr."""
    print(f"  {line}", file=sys.stderr, flush=True)


def time_startup(url: str, vectors: np.ndarray, kind_setting: str) -> tuple[list[list[object]], Catalog]:
    """The start-up rows, and the started server (reused for the freshness figures)."""
    kind = resolve_kind(kind_setting, len(vectors))
    ids = np.arange(1, len(vectors) + 1, dtype=np.int64)
    started = time.perf_counter()
    in_memory = VectorIndex.build(vectors.shape[1], kind, ids, vectors)
    baseline_s = time.perf_counter() - started
    progress(f"in-memory {kind} build: {baseline_s:.1f} s")
    started = time.perf_counter()
    PostgresProductStore(url, vectors.shape[1]).changes_since(-1)
    read_s = time.perf_counter() - started
    progress(f"read every vector from PostgreSQL: {read_s:.1f} s")
    started = time.perf_counter()
    server = Catalog.open(url, MODEL, index_kind=kind_setting)
    server.listen()  # what an app server does at start: build its index from the database, then listen
    open_s = time.perf_counter() - started
    progress(f"new server started: {open_s:.1f} s")
    assert server.indexed_count() == len(vectors)
    index_mb = len(in_memory.to_bytes()) / 2**20
    rows = [
        [f"build {kind} from vectors in memory (baseline)", f"{baseline_s:.1f}", "1.00", f"{index_mb:.0f}"],
        ["read every vector from PostgreSQL", f"{read_s:.1f}", f"{read_s / baseline_s:.2f}", ""],
        [f"new server: open + listen (read + build {kind})", f"{open_s:.1f}", f"{open_s / baseline_s:.2f}", ""],
    ]
    return rows, server


def time_freshness(server: Catalog, url: str, dim: int, writes: int) -> dict:
    """Seconds from a writer's upsert call (and from its commit) until this server's index holds the write."""
    if not server.listen().connected.wait(10):
        raise RuntimeError("the listener did not connect")
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    writer = subprocess.Popen(
        [sys.executable, "-c", WRITER, url, MODEL, str(dim)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
        text=True, env=env, cwd=REPO,
    )  # fmt: skip
    from_call, from_commit, searches_ok = [], [], 0
    try:
        for i in range(writes):
            before = server.index.generation
            writer.stdin.write(f"FRESH-{i} {1000 + i}\n")
            writer.stdin.flush()
            while server.index.generation == before:  # the listener catches up; this loop never searches
                time.sleep(0.001)
            seen = time.time()
            started, committed = map(float, writer.stdout.readline().split())
            from_call.append(seen - started)
            from_commit.append(seen - committed)
            vector = np.random.default_rng(1000 + i).standard_normal(dim).astype(np.float32)
            searches_ok += server.search_vector(vector / np.linalg.norm(vector), k=1)[0].product.sku == f"FRESH-{i}"
    finally:
        writer.stdin.close()
        writer.wait(timeout=60)
        server.close()
    return {"from_call": np.array(from_call), "from_commit": np.array(from_commit), "found": searches_ok}


def throwaway_database() -> tuple[str, object]:
    sys.path.insert(0, str(REPO / "tests"))
    from postgres_server import PostgresServer, missing_reason

    reason = missing_reason()
    if reason:
        raise SystemExit(f"cannot start a throwaway PostgreSQL: {reason}; pass --url")
    server = PostgresServer()
    server.init()
    server.start()
    return server.database("bench"), server


def main(argv: Sequence[str] | None = None) -> dict:
    args = parse_args(argv)
    previous = signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # a timeout still stops the server
    server = None
    url = args.url
    if url is None:
        url, server = throwaway_database()
    os.environ.setdefault("ASSISTANT_CACHE_DIR", tempfile.mkdtemp(prefix="bench-cache-"))
    try:
        catalog = Catalog.open(url, MODEL, args.dim, index_kind=args.index_kind)
        if catalog.count():
            raise SystemExit(f"{catalog.location} is not empty; give the benchmark an empty database")
        started = time.perf_counter()
        vectors = fill(catalog, args.n, args.dim)
        fill_s = time.perf_counter() - started
        progress(f"{machine_line()}; filled {args.n:,} products in {fill_s:.1f} s")
        catalog.close()
        rows, started_server = time_startup(url, vectors, args.index_kind)
        fresh = time_freshness(started_server, url, args.dim, args.writes)
    finally:
        signal.signal(signal.SIGTERM, previous)
        if server is not None:
            server.remove()
    print(machine_line())
    print(f"{args.n:,} products, dim {args.dim}, index {args.index_kind}; filled in {fill_s:.1f} s "
          f"({args.n / fill_s:,.0f} products/s)")  # fmt: skip
    print(format_table(["step", "seconds", "vs baseline", "index MiB"], rows))
    for name in ("from_call", "from_commit"):
        delays = fresh[name] * 1000
        print(
            f"write -> this server's index holds it ({name.replace('_', ' ')}), {args.writes} writes: "
            f"p50 {np.median(delays):.0f} ms, max {delays.max():.0f} ms"
        )
    print(f"searches that found the fresh product right after: {fresh['found']}/{args.writes}")
    return {"n": args.n, "fill_s": fill_s, "rows": rows, "freshness": fresh}


if __name__ == "__main__":
    main()
