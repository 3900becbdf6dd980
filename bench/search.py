"""Single-query latency and recall@k of the index kinds, exact (flat) against approximate (HNSW).

Random unit vectors (the hardest case for a graph index: no clusters to exploit), one query at a time
as a shop issues them, through ``VectorIndex.search``; recall is measured against exact top-k computed
with numpy. The filtered path passes ``allowed_ids`` (a FAISS IDSelectorBatch) letting ~1% of the ids
through, as a selective category + price filter does. Goal: HNSW p50 < 20 ms at 100k with
recall@10 >= 0.95.

    python -m bench.search              # 10k and 100k vectors, dim 512, 1000 queries
    python -m bench.search --quick      # 10k only, 200 queries
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

import faiss
import numpy as np

from assistant.catalog import vector_index
from assistant.catalog.vector_index import VectorIndex
from assistant.clip.embedder import normalize

from .report import format_table, machine_line

GOAL_N, GOAL_P50_MS, GOAL_RECALL = 100_000, 20.0, 0.95
#: Distinct filters cycled over the queries (each a different random ~1% of the catalog).
FILTER_POOL = 16


def random_unit_vectors(rng: np.random.Generator, n: int, dim: int) -> np.ndarray:
    return normalize(rng.standard_normal((n, dim), dtype=np.float32))


def exact_top_k(vectors: np.ndarray, ids: np.ndarray, queries: np.ndarray, k: int, chunk: int = 256) -> np.ndarray:
    """Ids of the k highest inner products per query, by brute force in numpy (the ground truth)."""
    out = np.empty((len(queries), min(k, len(ids))), dtype=np.int64)
    for start in range(0, len(queries), chunk):
        scores = queries[start : start + chunk] @ vectors.T
        top = np.argpartition(-scores, out.shape[1] - 1, axis=1)[:, : out.shape[1]]
        out[start : start + chunk] = ids[top]
    return out


def recall(found: np.ndarray, truth: np.ndarray) -> float:
    """Mean fraction of the true top-k ids found, per query (order ignored)."""
    return float(np.mean([len(np.intersect1d(f[f >= 0], t)) / len(t) for f, t in zip(found, truth)]))


def time_queries(
    index: VectorIndex, queries: np.ndarray, k: int, allowed: Sequence[np.ndarray] | None = None, repeats: int = 1
):
    """(latencies in ms, result ids) of one search call per query; allowed[i % len(allowed)] filters query i.

    With repeats > 1 each query runs that many times and its fastest run counts: on a machine shared
    with other work, that filters out the time the process spent waiting for a core.
    """
    latencies = np.full(len(queries), np.inf)
    found = np.empty((len(queries), k), dtype=np.int64)
    for i, query in enumerate(queries):
        ids = None if allowed is None else allowed[i % len(allowed)]
        for _ in range(repeats):
            start = time.perf_counter()
            _, result = index.search(query, k, ids)
            latencies[i] = min(latencies[i], (time.perf_counter() - start) * 1e3)
        found[i] = result[0]
    return latencies, found


@contextmanager
def hnsw_ef_search(ef_search: int | None) -> Iterator[None]:
    """Temporarily set the engine's efSearch (None: leave it), to sweep the speed/recall tradeoff."""
    saved = vector_index.HNSW_EF_SEARCH
    vector_index.HNSW_EF_SEARCH = ef_search or saved
    try:
        yield
    finally:
        vector_index.HNSW_EF_SEARCH = saved


def bench_size(n: int, args: argparse.Namespace) -> list[dict]:
    """Build each kind over n random vectors and time single queries, unfiltered and filtered."""
    dim, n_queries, k, repeats = args.dim, args.queries, args.k, args.repeats
    rng = np.random.default_rng(args.seed)
    vectors = random_unit_vectors(rng, n, dim)
    ids = np.arange(1, n + 1, dtype=np.int64)  # SQLite row ids start at 1
    queries = random_unit_vectors(rng, n_queries, dim)
    truth = exact_top_k(vectors, ids, queries, k)
    allowed = [
        np.sort(rng.choice(ids, max(k, int(n * args.filter_fraction)), replace=False)) for _ in range(FILTER_POOL)
    ]
    filtered_truth = np.stack(
        [
            exact_top_k(vectors[a - 1], a, queries[i : i + 1], k)[0]
            for i, a in ((i, allowed[i % FILTER_POOL]) for i in range(n_queries))
        ]
    )
    rows = []
    for kind in args.kinds:
        start = time.perf_counter()
        built = VectorIndex.build(dim, kind, ids, vectors)
        build_s = time.perf_counter() - start
        for ef_search in args.ef_search if kind == "hnsw" else [None]:
            with hnsw_ef_search(ef_search):
                index = VectorIndex(built.index)  # reads efSearch on wrapping, as a loaded catalog does
                time_queries(index, queries[: min(20, n_queries)], k)  # warm-up: first touches of the index memory
                latencies, found = time_queries(index, queries, k, repeats=repeats)
                f_latencies, f_found = time_queries(index, queries, k, allowed, repeats)
            rows.append(
                {
                    "n": n,
                    "kind": kind,
                    "ef_search": ef_search,
                    "build_s": build_s,
                    "p50_ms": float(np.percentile(latencies, 50)),
                    "p99_ms": float(np.percentile(latencies, 99)),
                    "recall": recall(found, truth),
                    "filtered_p50_ms": float(np.percentile(f_latencies, 50)),
                    "filtered_p99_ms": float(np.percentile(f_latencies, 99)),
                    "filtered_recall": recall(f_found, filtered_truth),
                }
            )
        del built, index
    flat = next((r for r in rows if r["kind"] == "flat"), None)
    for row in rows:
        row["p50_vs_flat"] = row["p50_ms"] / flat["p50_ms"] if flat else None
    return rows


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.search", description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="10000,100000", help="comma-separated catalog sizes (default 10000,100000)")
    parser.add_argument("--dim", type=int, default=512)
    parser.add_argument("--queries", type=int, default=1000, help="single queries timed per index (default 1000)")
    parser.add_argument("--k", type=int, default=10)
    parser.add_argument("--kinds", default=",".join(vector_index.INDEX_FACTORY), help="index kinds (default: all)")
    parser.add_argument(
        "--ef-search",
        default=None,
        help=f"comma-separated HNSW efSearch values to sweep (default: the engine's {vector_index.HNSW_EF_SEARCH})",
    )
    parser.add_argument(
        "--filter-fraction", type=float, default=0.01, help="share of ids a filter allows (default 0.01)"
    )
    parser.add_argument(
        "--threads",
        type=int,
        default=None,
        help="FAISS OpenMP threads (default: FAISS's own, all cores); 1: single queries without thread hand-offs",
    )
    parser.add_argument(
        "--repeats",
        type=int,
        default=1,
        help="runs per query, the fastest counts (default 1; 3 filters out waits on a busy shared machine)",
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--quick", action="store_true", help="10k vectors, 200 queries")
    args = parser.parse_args(argv)
    if args.quick:
        args.sizes, args.queries = "10000", min(args.queries, 200)
    args.sizes = [int(s) for s in args.sizes.split(",")]
    args.kinds = [k.strip() for k in args.kinds.split(",")]
    args.ef_search = [int(e) for e in args.ef_search.split(",")] if args.ef_search else [vector_index.HNSW_EF_SEARCH]
    unknown = [k for k in args.kinds if k not in vector_index.INDEX_FACTORY]
    if unknown:
        parser.error(f"unknown index kind(s) {', '.join(unknown)}; choose from {', '.join(vector_index.INDEX_FACTORY)}")
    return args


def main(argv: Sequence[str] | None = None) -> dict:
    """Run the benchmark and print its table; returns {'settings', 'rows': [per size and kind]}."""
    args = parse_args(argv)
    default_threads = faiss.omp_get_max_threads()
    faiss.omp_set_num_threads(args.threads or default_threads)
    try:
        rows = []
        for n in args.sizes:
            rows += bench_size(n, args)
        threads = faiss.omp_get_max_threads()
    finally:
        faiss.omp_set_num_threads(default_threads)
    settings = {
        "factory": dict(vector_index.INDEX_FACTORY),
        "hnsw_ef_construction": vector_index.HNSW_EF_CONSTRUCTION,
        "hnsw_ef_search": vector_index.HNSW_EF_SEARCH,
    }
    print(machine_line())
    print(
        f"faiss threads {threads}, dim {args.dim}, {args.queries} single queries (fastest of {args.repeats}), "
        f"k={args.k}, filter allows {args.filter_fraction:.1%} of ids; "
        f"hnsw: {settings['factory'].get('hnsw')}, efConstruction {settings['hnsw_ef_construction']}, "
        f"efSearch {settings['hnsw_ef_search']} (engine default)"
    )
    print(
        format_table(
            [
                "vectors",
                "kind",
                "efSearch",
                "build s",
                "p50 ms",
                "p99 ms",
                "p50 / flat",
                f"recall@{args.k}",
                "filtered p50 ms",
                "filtered p99 ms",
                f"filtered recall@{args.k}",
            ],
            [
                [
                    f"{r['n']:,}",
                    r["kind"],
                    r["ef_search"] or "-",
                    f"{r['build_s']:.1f}",
                    f"{r['p50_ms']:.2f}",
                    f"{r['p99_ms']:.2f}",
                    f"{r['p50_vs_flat']:.3f}x" if r["p50_vs_flat"] is not None else "-",
                    f"{r['recall']:.3f}",
                    f"{r['filtered_p50_ms']:.2f}",
                    f"{r['filtered_p99_ms']:.2f}",
                    f"{r['filtered_recall']:.3f}",
                ]
                for r in rows
            ],
        )
    )
    goal = [r for r in rows if r["n"] == GOAL_N and r["kind"] != "flat"]
    for r in goal:
        met = r["p50_ms"] < GOAL_P50_MS and r["recall"] >= GOAL_RECALL
        print(
            f"goal at {GOAL_N:,} ({r['kind']} efSearch {r['ef_search']}: p50 < {GOAL_P50_MS:g} ms, "
            f"recall@{args.k} >= {GOAL_RECALL}): {'met' if met else 'NOT met'} "
            f"(p50 {r['p50_ms']:.2f} ms, recall {r['recall']:.3f})"
        )
    return {"settings": settings, "rows": rows}


if __name__ == "__main__":
    main(sys.argv[1:])
