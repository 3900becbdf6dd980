"""Single-query latency, recall@k and memory of the index kinds, exact (flat) against approximate (HNSW, IVF).

Data (``--data``): ``clustered`` unit vectors from a documented mixture on the sphere shaped like CLIP
image features (``bench/vectors.py``), ``random`` uniform unit vectors (the worst case for approximate
indexes), or ``FILE.npy`` real features (rows = vectors; the last ``--queries`` rows become the queries).
One query at a time, as a shop issues them, through ``VectorIndex.search``; recall@k against exact
top-k from numpy. Filtered queries pass ``allowed_ids`` letting a share of the ids through (16
different random filters per share), as category and price filters do; the index picks its own path.
Goals at 100k clustered vectors: p50 < 5 ms with recall@10 >= 0.95; filtered recall@10 >= 0.99 at
every share; 1M vectors in under 1 GB of index memory. Memory per index: its serialized size (``MB``), the
growth of this process's resident memory over the build (``RSS MB``, what a server holding the index pays)
and the peak resident growth while building (``peak MB``: training and encoding buffers included).

    python -m bench.search --quick                     # 10k clustered vectors, 200 queries
    python -m bench.search --sizes 1000000 --kinds flat,ivf --queries 500 --flat-queries 30   # the 1M goal
    python -m bench.search --sizes 10000,100000 --json search.json
    python -m bench.search --kinds ivf --nprobe 8,16,32 --factory ivf='IDMap2,IVF{nlist},PQ{m}x4fs,RFlat'
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import faiss
import numpy as np

from assistant.catalog import vector_index
from assistant.catalog.vector_index import VectorIndex, VectorSource

from .report import format_table, machine_line
from .vectors import clustered_unit_vectors, normalize_rows, random_unit_vectors

GOAL_N, GOAL_P50_MS, GOAL_RECALL, GOAL_FILTERED_RECALL = 100_000, 5.0, 0.95, 0.99
MEMORY_GOAL_N, MEMORY_GOAL_MB = 1_000_000, 1024
SELECTIVITIES = (0.001, 0.01, 0.1, 0.5)
#: Distinct filters per share, cycled over the queries.
FILTER_POOL = 16


def load_data(args: argparse.Namespace, n: int) -> tuple[np.ndarray, np.ndarray]:
    """(base vectors, queries) for one catalog size, as unit float32 rows."""
    rng = np.random.default_rng(args.seed)
    if args.data == "random":
        return random_unit_vectors(rng, n, args.dim), random_unit_vectors(rng, args.queries, args.dim)
    if args.data == "clustered":
        return clustered_unit_vectors(rng, n, args.dim, args.queries)
    rows = np.load(args.data, mmap_mode="r")
    if rows.ndim != 2 or len(rows) <= args.queries:
        raise SystemExit(f"{args.data}: need a 2-d array with more than {args.queries} rows, got {rows.shape}")
    base = rows[: len(rows) - args.queries]
    pick = np.sort(rng.choice(len(base), size=min(n, len(base)), replace=False))
    return normalize_rows(base[pick]), normalize_rows(rows[len(rows) - args.queries :])


def _status_mb(field: str) -> float:
    """A memory figure of this process from /proc/self/status (Linux), in MiB; 0 where there is none."""
    try:
        with open("/proc/self/status", encoding="ascii") as f:
            line = next((line for line in f if line.startswith(field + ":")), None)
    except OSError:
        return 0.0
    return int(line.split()[1]) / 1024 if line else 0.0


def resident_mb() -> float:
    """This process's resident memory (VmRSS) in MiB."""
    return _status_mb("VmRSS")


def peak_resident_mb() -> float:
    """This process's peak resident memory (VmHWM) since the last ``reset_peak_resident``, in MiB."""
    return _status_mb("VmHWM")


def reset_peak_resident() -> None:
    """Start a new peak (Linux: writing 5 to clear_refs resets VmHWM); elsewhere the peak stays the process's."""
    try:
        with open("/proc/self/clear_refs", "w", encoding="ascii") as f:
            f.write("5")
    except OSError:
        pass


def exact_top_k(vectors: np.ndarray, queries: np.ndarray, k: int, masks: Sequence[np.ndarray] = (), chunk=64):
    """Positions of the exact top k per query; with masks, per query i among masks[i % len(masks)] only."""
    out = np.empty((len(queries), k), dtype=np.int64)
    for start in range(0, len(queries), chunk):
        scores = queries[start : start + chunk] @ vectors.T
        for row, i in enumerate(range(start, min(start + chunk, len(queries)))):
            if masks:
                scores[row, ~masks[i % len(masks)]] = -np.inf
        top = np.argpartition(-scores, k - 1, axis=1)[:, :k]
        out[start : start + len(scores)] = top
    return out


def recall(found: np.ndarray, truth: np.ndarray) -> float:
    """Mean fraction of the true top-k ids found, per query (order ignored)."""
    return float(np.mean([len(np.intersect1d(f[f >= 0], t)) / len(t) for f, t in zip(found, truth)]))


def array_source(vectors: np.ndarray) -> VectorSource:
    """Exact vectors by id (id = row + 1), as ``Catalog.vectors`` serves them from SQLite."""

    def lookup(ids: Sequence[int]) -> tuple[np.ndarray, np.ndarray]:
        ids = np.asarray(ids, dtype=np.int64)
        return ids, vectors[ids - 1]

    return lookup


def time_queries(
    index: VectorIndex,
    queries: np.ndarray,
    k: int,
    allowed: Sequence[np.ndarray] = (),
    repeats: int = 1,
    exact_vectors: VectorSource | None = None,
):
    """(latencies in ms, result ids) of one search call per query; allowed[i % len(allowed)] filters query i.

    With repeats > 1 each query runs that many times and its fastest run counts: on a machine shared
    with other work, that filters out the time the process spent waiting for a core.
    """
    latencies = np.full(len(queries), np.inf)
    found = np.empty((len(queries), k), dtype=np.int64)
    for i, query in enumerate(queries):
        ids = allowed[i % len(allowed)] if allowed else None
        for _ in range(repeats):
            start = time.perf_counter()
            _, result = index.search(query, k, ids, exact_vectors)
            latencies[i] = min(latencies[i], (time.perf_counter() - start) * 1e3)
        found[i] = result[0]
    return latencies, found


def breadths(kind: str, args: argparse.Namespace) -> list[int | None]:
    return {"hnsw": args.ef_search, "ivf": args.nprobe}.get(kind, [None])


def k_factors(kind: str, args: argparse.Namespace) -> list[int | None]:
    """Short-list sizes (k x factor) to sweep: only the re-ranked kinds have one."""
    return args.k_factor if kind in vector_index.LOSSY_KINDS else [None]


def used_breadth(index: VectorIndex) -> dict:
    """The breadth (efSearch, nprobe) and short-list factor the index searched with, set or its own choice."""
    if index.kind == "ivf":
        breadth, k_factor = index.ivf_breadth()
        return {"breadth": breadth, "k_factor": k_factor}
    return {"breadth": index.ef_search if index.kind == "hnsw" else None, "k_factor": None}


def set_breadth(index: VectorIndex, breadth: int | None) -> None:
    if breadth is None:
        return
    if index.kind == "hnsw":
        index.ef_search = breadth
    elif index.kind == "ivf":
        index.nprobe = breadth


def bench_size(n: int, args: argparse.Namespace) -> list[dict]:
    """Build each kind over n vectors and time single queries, unfiltered and per filter share."""
    vectors, queries = load_data(args, n)
    n, dim, k = len(vectors), vectors.shape[1], args.k
    ids = np.arange(1, n + 1, dtype=np.int64)  # SQLite row ids start at 1
    truth = ids[exact_top_k(vectors, queries, k)]
    rng = np.random.default_rng(args.seed + 1)
    filtered_queries = queries[: args.filtered_queries]
    filters = {}
    for share in args.selectivities:
        masks = []
        for _ in range(FILTER_POOL):
            mask = np.zeros(n, dtype=bool)
            mask[rng.choice(n, max(k, round(n * share)), replace=False)] = True
            masks.append(mask)
        filters[share] = ([ids[m] for m in masks], ids[exact_top_k(vectors, filtered_queries, k, masks)])
    source = array_source(vectors)
    rows = []
    for kind in args.kinds:
        # flat at 1M scans 2 GB per query: --flat-queries times it on the first few queries only
        timed = len(queries) if kind != "flat" or args.flat_queries is None else min(args.flat_queries, len(queries))
        before_mb = resident_mb()
        reset_peak_resident()
        start = time.perf_counter()
        index = VectorIndex.build(dim, kind, ids, vectors, factory=args.factory.get(kind))
        build_s = time.perf_counter() - start
        memory = {"resident_mb": resident_mb() - before_mb, "build_peak_mb": peak_resident_mb() - before_mb}
        memory["memory_mb"] = len(index.to_bytes()) / 2**20
        for breadth, k_factor in itertools.product(breadths(kind, args), k_factors(kind, args)):
            set_breadth(index, breadth)
            index.k_factor = k_factor
            index.exact_filtered_max = args.exact_filtered_max
            time_queries(index, queries[: min(20, timed)], k, exact_vectors=source)  # warm-up: page in
            latencies, found = time_queries(index, queries[:timed], k, repeats=args.repeats, exact_vectors=source)
            row = {
                "n": n,
                "kind": index.kind,
                "factory": vector_index.factory_string(kind, dim, n, args.factory.get(kind)),
                **used_breadth(index),
                "build_s": build_s,
                **memory,
                "queries": timed,
                "p50_ms": float(np.percentile(latencies, 50)),
                "p99_ms": float(np.percentile(latencies, 99)),
                f"recall@{k}": recall(found, truth[:timed]),
                "filtered": {},
            }
            f_timed = min(timed, len(filtered_queries))
            for share, (allowed, f_truth) in filters.items():
                f_latencies, f_found = time_queries(index, filtered_queries[:f_timed], k, allowed, args.repeats, source)
                f_truth = f_truth[:f_timed]
                row["filtered"][str(share)] = {
                    f"recall@{k}": recall(f_found, f_truth),
                    "p50_ms": float(np.percentile(f_latencies, 50)),
                }
            rows.append(row)
        del index
    flat = next((r for r in rows if r["kind"] == "flat"), None)
    for row in rows:
        row["p50_over_flat"] = row["p50_ms"] / flat["p50_ms"] if flat else None
    return rows


def parse_factory(values: Sequence[str]) -> dict[str, str]:
    out = {}
    for value in values:
        kind, _, factory = value.partition("=")
        if kind not in vector_index.INDEX_FACTORY or not factory:
            kinds = ", ".join(vector_index.INDEX_FACTORY)
            raise SystemExit(f"--factory {value!r}: expected KIND=FACTORY_STRING with KIND one of {kinds}")
        out[kind] = factory
    return out


def _ints(text: str | None, default: int | None) -> list[int | None]:
    return [int(x) for x in text.split(",")] if text else [default]


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.search", description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", default="clustered", help="clustered (default), random, or a FILE.npy of features")
    parser.add_argument("--sizes", default="10000,100000", help="comma-separated catalog sizes (default 10000,100000)")
    parser.add_argument("--dim", type=int, default=512, help="dimension of generated vectors (default 512)")
    parser.add_argument("--queries", type=int, default=1000, help="single queries timed per index (default 1000)")
    parser.add_argument(
        "--filtered-queries", type=int, default=200, help="queries timed per filter share (default 200)"
    )
    parser.add_argument(
        "--flat-queries",
        type=int,
        help="time flat on only this many of the queries (recall still against all; e.g. 50 at 1M vectors)",
    )
    parser.add_argument("--k", type=int, default=10)
    parser.add_argument("--kinds", default=",".join(vector_index.INDEX_FACTORY), help="index kinds (default: all)")
    parser.add_argument("--factory", action="append", default=[], help="KIND=FACTORY_STRING overriding the engine's")
    parser.add_argument("--ef-search", help=f"HNSW efSearch values to sweep (default {vector_index.HNSW_EF_SEARCH})")
    parser.add_argument("--nprobe", help="IVF nprobe values to sweep (default: the engine's, by the list count)")
    parser.add_argument(
        "--k-factor", help="IVF short-list factors to sweep: k x F candidates re-ranked (default: the engine's)"
    )
    parser.add_argument(
        "--selectivities",
        default=",".join(map(str, SELECTIVITIES)),
        help="shares of ids the filters allow (default 0.001,0.01,0.1,0.5)",
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
    parser.add_argument(
        "--exact-filtered-max",
        type=int,
        default=vector_index.EXACT_FILTERED_MAX,
        help=f"filters allowing at most this many ids are scored exactly (default {vector_index.EXACT_FILTERED_MAX:,})",
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", type=Path, help="also write the rows and settings to this JSON file")
    parser.add_argument("--quick", action="store_true", help="10k vectors, 200 queries, 100 per filter share")
    args = parser.parse_args(argv)
    if args.data not in ("random", "clustered") and not Path(args.data).is_file():
        parser.error(f"--data {args.data!r}: not 'random', 'clustered' or an existing .npy file")
    if args.quick:
        args.sizes, args.queries = "10000", min(args.queries, 200)
        args.filtered_queries = min(args.filtered_queries, 100)
    args.filtered_queries = min(args.filtered_queries, args.queries)
    args.sizes = [int(s) for s in args.sizes.split(",")]
    args.kinds = [k.strip() for k in args.kinds.split(",")]
    args.ef_search = _ints(args.ef_search, vector_index.HNSW_EF_SEARCH)
    args.nprobe = _ints(args.nprobe, None)
    args.k_factor = _ints(args.k_factor, None)
    args.selectivities = [float(s) for s in args.selectivities.split(",")]
    args.factory = parse_factory(args.factory)
    unknown = [k for k in args.kinds if k not in vector_index.INDEX_FACTORY]
    if unknown:
        parser.error(f"unknown index kind(s) {', '.join(unknown)}; choose from {', '.join(vector_index.INDEX_FACTORY)}")
    return args


def print_report(rows: list[dict], args: argparse.Namespace, threads: int) -> None:
    k = args.k
    print(machine_line())
    print(
        f"data {args.data}, faiss threads {threads}, {args.queries} single queries (fastest of {args.repeats}), "
        f"{args.filtered_queries} per filter share, k={k}; engine: efSearch {vector_index.HNSW_EF_SEARCH}, "
        f"nprobe max({vector_index.IVF_NPROBE}, lists / {vector_index.IVF_LISTS_PER_PROBE}), re-rank k x "
        f"max({vector_index.REFINE_K_FACTOR}, lists / {vector_index.IVF_LISTS_PER_REFINE}), "
        f"exact filter scan up to {args.exact_filtered_max:,} allowed"
    )
    shares = args.selectivities
    headers = ["vectors", "factory", "breadth", "k x", "build s", "MB", "RSS MB", "peak MB", "queries"]
    headers += ["p50 ms", "p99 ms"]
    headers += ["p50 / flat", f"recall@{k}"]
    headers += [f"filter {s:g}: recall / p50 ms" for s in shares]
    table = [
        [
            f"{r['n']:,}",
            r["factory"],
            r["breadth"] or "-",
            r["k_factor"] or "-",
            f"{r['build_s']:.1f}",
            f"{r['memory_mb']:.0f}",
            f"{r['resident_mb']:.0f}",
            f"{r['build_peak_mb']:.0f}",
            r["queries"],
            f"{r['p50_ms']:.2f}",
            f"{r['p99_ms']:.2f}",
            f"{r['p50_over_flat']:.3f}x" if r["p50_over_flat"] is not None else "-",
            f"{r[f'recall@{k}']:.3f}",
            *[f"{r['filtered'][str(s)][f'recall@{k}']:.3f} / {r['filtered'][str(s)]['p50_ms']:.2f}" for s in shares],
        ]
        for r in rows
    ]
    print(format_table(headers, table))
    for n in sorted({r["n"] for r in rows}):
        print(f"auto index kind at {n:,} vectors: {vector_index.resolve_kind('auto', n)}")
    for r in (r for r in rows if r["n"] == GOAL_N and r["kind"] != "flat"):
        worst = min(f[f"recall@{k}"] for f in r["filtered"].values())
        met = r["p50_ms"] < GOAL_P50_MS and r[f"recall@{k}"] >= GOAL_RECALL and worst >= GOAL_FILTERED_RECALL
        print(
            f"goal at {GOAL_N:,} ({r['kind']} breadth {r['breadth']}: p50 < {GOAL_P50_MS:g} ms, recall@{k} >= "
            f"{GOAL_RECALL}, filtered >= {GOAL_FILTERED_RECALL}): {'met' if met else 'NOT met'} "
            f"(p50 {r['p50_ms']:.2f} ms, recall {r[f'recall@{k}']:.3f}, worst filtered {worst:.3f})"
        )
    for r in (r for r in rows if r["n"] >= MEMORY_GOAL_N):
        print(
            f"memory at {r['n']:,} ({r['kind']}): {r['memory_mb']:.0f} MB serialized, {r['resident_mb']:.0f} MB "
            f"resident after the build, {r['build_peak_mb']:.0f} MB peak while building (goal < {MEMORY_GOAL_MB} MB)"
        )


def main(argv: Sequence[str] | None = None) -> dict:
    """Run the benchmark and print its table; returns {'machine', 'settings', 'rows': [per size, kind, breadth]}."""
    args = parse_args(argv)
    default_threads = faiss.omp_get_max_threads()
    faiss.omp_set_num_threads(args.threads or default_threads)
    try:
        rows = [row for n in args.sizes for row in bench_size(n, args)]
        threads = faiss.omp_get_max_threads()
    finally:
        faiss.omp_set_num_threads(default_threads)
    print_report(rows, args, threads)
    result = {
        "machine": machine_line(),
        "settings": {
            "data": args.data,
            "threads": threads,
            "queries": args.queries,
            "flat_queries": args.flat_queries,
            "filtered_queries": args.filtered_queries,
            "repeats": args.repeats,
            "k": args.k,
            "factory": {**vector_index.INDEX_FACTORY, **args.factory},
            "hnsw_ef_construction": vector_index.HNSW_EF_CONSTRUCTION,
            "exact_filtered_max": args.exact_filtered_max,
            "refine_k_factor": vector_index.REFINE_K_FACTOR,
            "ivf_lists_per_probe": vector_index.IVF_LISTS_PER_PROBE,
            "ivf_lists_per_refine": vector_index.IVF_LISTS_PER_REFINE,
        },
        "rows": rows,
    }
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    return result


if __name__ == "__main__":
    main(sys.argv[1:])
