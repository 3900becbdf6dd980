"""A catalog in PostgreSQL shared by app servers: how long a new server takes to build its index, and how soon
another process's write is searchable on a running server.

Vectors are random unit vectors written straight into the database (no model), dim 512 as ViT-B-32's. The
start-up row times what a new app server does (open the catalog and start listening: read every vector from
PostgreSQL, build the index of the kind the setting picks); its baseline, measured in the same run, builds the
same index from vectors already in memory, so the difference is the price of reading them from the database.
Freshness: a writer process (as the CLI would) upserts one product at a time; the started server notes when
its index holds the write (the listener's doing: it never searches meanwhile), then checks a search finds it.
CLI freshness: in a second database (``tiny-test`` vectors, as many random products), each write is a real
``python -m assistant ingest`` of a one-row CSV with its photo, while another process (an app server: listening,
its engine's query vectors for the coming products made in advance) polls search every 10 ms until the product
is in the top 10; the delay is from the ingest's commit (PostgreSQL's commit timestamp, which the throwaway
server records) to that hit, and from the command's start and its exit.

    python -m bench.shared_catalog                  # 100k products, 20 writes, 10 CLI writes; a throwaway PostgreSQL
    python -m bench.shared_catalog --quick          # 10k products, 5 writes, 5 CLI writes
    python -m bench.shared_catalog --index-kind flat   # skip the HNSW build (minutes at 100k on 2 cores)
    python -m bench.shared_catalog --url postgresql://USER@HOST/DB   # an empty database of yours instead
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import psycopg

from assistant.catalog import Catalog, ProductRecord
from assistant.catalog.postgres.store import PostgresProductStore
from assistant.catalog.synthetic import write_synthetic_catalog
from assistant.catalog.vector_index import INDEX_KINDS, VectorIndex, resolve_kind
from assistant.clip.embedder import Embedder, normalize

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
#: The CLI writes' catalog: the model an `ingest` command can embed with offline.
CLI_MODEL = "tiny-test"
POLL_SECONDS = 0.01
#: An app server: listens, makes its engine's query vectors (title and photo) for the coming products, then
#: searches for the next one not found yet every POLL_SECONDS; prints when it found each.
POLLER = f"""
import json, sys, time
from assistant.catalog import Catalog
from assistant.clip.embedder import Embedder
from assistant.search import SearchEngine
url, model, queries = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
catalog = Catalog.open(url, model, create=False)
catalog.listen()
engine = SearchEngine(catalog, Embedder.from_spec(model))
pending = [(sku, engine.query_vector(title, photo, 0.3)) for sku, title, photo in queries]
print("ready", flush=True)
found = {{}}
while pending:
    sku, vector = pending[0]
    if sku in [hit.product.sku for hit in catalog.search_vector(vector, k=10)]:
        found[sku] = time.time()
        pending.pop(0)
        continue
    time.sleep({POLL_SECONDS})
print(json.dumps(found), flush=True)
"""


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.shared_catalog", description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", help="an empty PostgreSQL database (default: start a throwaway server)")
    parser.add_argument("--n", type=int, default=100_000, help="products in the catalog")
    parser.add_argument("--dim", type=int, default=512)
    parser.add_argument("--writes", type=int, default=20, help="single-product writes timed for freshness")
    parser.add_argument("--cli-writes", type=int, default=10, help="`ingest` commands timed until a search hit")
    parser.add_argument("--cli-url", help="a second empty database for the CLI writes (needed with --url)")
    parser.add_argument("--index-kind", default="auto", choices=INDEX_KINDS, help="index of the servers")
    parser.add_argument("--quick", action="store_true", help="10k products, 5 writes, 5 CLI writes")
    args = parser.parse_args(argv)
    if args.quick:
        args.n, args.writes, args.cli_writes = 10_000, 5, 5
    return args


def fill(catalog: Catalog, n: int, dim: int, batch: int = 5_000, model: str = MODEL) -> np.ndarray:
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
            writer.upsert(records, model, "bench")
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


def time_cli_freshness(url: str, n: int, writes: int, workdir: Path) -> dict:
    """Seconds from each ``ingest`` command's commit (and start, and exit) to a search hit in another process."""
    catalog = Catalog.open(url, CLI_MODEL, Embedder.from_spec(CLI_MODEL).dim)
    fill(catalog, n, catalog.dim, model=CLI_MODEL)
    catalog.close()
    source = write_synthetic_catalog(workdir / "fresh", n=writes, seed=7)
    with open(source, newline="", encoding="utf-8") as handle:
        header, *rows = list(csv.reader(handle))
    images = source.parent / "images"
    queries = [[row[0], row[1], str(images / row[header.index("image")])] for row in rows]
    env = {**os.environ, "PYTHONPATH": str(REPO), "ASSISTANT_MODEL": CLI_MODEL}
    poller = subprocess.Popen(
        [sys.executable, "-c", POLLER, url, CLI_MODEL, json.dumps(queries)], stdout=subprocess.PIPE, text=True,
        env=env, cwd=REPO,
    )  # fmt: skip
    commands = []
    try:
        if poller.stdout.readline().strip() != "ready":
            raise RuntimeError("the polling server did not start")
        for row in rows:
            one_row = workdir / f"{row[0]}.csv"
            with open(one_row, "w", newline="", encoding="utf-8") as handle:
                csv.writer(handle).writerows([header, row])
            started = time.time()
            subprocess.run(
                [sys.executable, "-m", "assistant", "--catalog", url, "ingest", str(one_row), "--images", str(images)],
                env=env, cwd=REPO, check=True, capture_output=True, timeout=600,
            )  # fmt: skip
            commands.append((started, time.time()))
        hits = json.loads(poller.stdout.readline())
    finally:
        poller.kill()
        poller.wait()
    skus = [row[0] for row in rows]
    found = np.array([hits[sku] for sku in skus])
    starts, exits = np.array([c[0] for c in commands]), np.array([c[1] for c in commands])
    return {
        "from_commit": _commit_delays(url, skus, found),
        "from_start": found - starts,
        "from_exit": found - exits,
        "command_s": exits - starts,
    }


def _commit_delays(url: str, skus: list[str], found: np.ndarray) -> np.ndarray | None:
    """Hit time minus the commit time of each sku's row, or None where the server keeps no commit timestamps."""
    try:
        with psycopg.connect(url) as conn:
            rows = dict(conn.execute(
                "SELECT sku, extract(epoch FROM pg_xact_commit_timestamp(xmin))::float8 FROM products "
                "WHERE sku = ANY(%s)", (skus,),
            ).fetchall())  # fmt: skip
    except psycopg.errors.ObjectNotInPrerequisiteState:  # track_commit_timestamp is off on that server
        return None
    return found - np.array([rows[sku] for sku in skus])


def throwaway_database() -> tuple[str, object]:
    sys.path.insert(0, str(REPO / "tests"))
    from postgres_server import PostgresServer, missing_reason

    reason = missing_reason()
    if reason:
        raise SystemExit(f"cannot start a throwaway PostgreSQL: {reason}; pass --url")
    server = PostgresServer()
    server.init()
    server.start()
    with psycopg.connect(server.url(), autocommit=True) as conn:  # for the CLI writes' commit times
        conn.execute("ALTER SYSTEM SET track_commit_timestamp = on")
    server.stop()
    server.start()
    return server.database("bench"), server


def main(argv: Sequence[str] | None = None) -> dict:
    args = parse_args(argv)
    previous = signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # a timeout still stops the server
    server = None
    url, cli_url = args.url, args.cli_url
    if url is None:
        url, server = throwaway_database()
        cli_url = server.database("bench_cli")
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
        cli = None
        if cli_url and args.cli_writes:
            with tempfile.TemporaryDirectory(prefix="bench-cli-") as workdir:
                cli = time_cli_freshness(cli_url, args.n, args.cli_writes, Path(workdir))
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
    if cli is None:
        print("CLI writes: skipped (give --cli-url, a second empty database, with --url)")
    else:
        print_cli_freshness(cli, args.n)
    return {"n": args.n, "fill_s": fill_s, "rows": rows, "freshness": fresh, "cli": cli}


def print_cli_freshness(cli: dict, n: int) -> None:
    print(f"`python -m assistant ingest` of one product ({CLI_MODEL}, {n:,} products) -> search hit in another "
          f"process, {len(cli['command_s'])} commands (polled every {POLL_SECONDS * 1000:.0f} ms):")  # fmt: skip
    labels = {
        "from_commit": "from the ingest's commit",
        "from_start": "from the command's start",
        "from_exit": "from the command's exit (negative: found before it exited)",
        "command_s": "the command itself, start to exit",
    }
    for name, label in labels.items():
        if cli[name] is None:
            print(f"  {label}: not available (the server keeps no commit timestamps)")
            continue
        seconds = cli[name]
        print(f"  {label}: p50 {np.median(seconds) * 1000:.0f} ms, max {seconds.max() * 1000:.0f} ms")


if __name__ == "__main__":
    main()
