"""Latency of a new (uncached) text query per text-tower runtime, against torch fp32 measured in the same run.

A new query costs ``Embedder.embed_texts([query])``: tokenize, run the text tower up to the query's last
token, normalise. Each runtime gets its own Embedder over the same loaded model: torch fp32 with the
engine's threads (the baseline) and with one thread, ONNX Runtime fp32 and int8 (dynamic quantisation of
the weights, as ``ASSISTANT_RUNTIME=onnx`` uses) with one or two intra-op threads. The runtimes take turns
query by query (the starting one rotates), so a busy spell of the shared machine hits them alike. Each
runtime's vectors are compared with the baseline's (cosine). Besides wall-clock time, each query's CPU time
(this process, all threads) is kept: on a shared machine a one-thread runtime's wall time is its CPU time plus
the wait for a core. Then the baseline and the engine's choice (int8 on the engine's threads) answer the
same queries again, each alone, back to back, as a server running one runtime does ("alone" rows: the
speed-up is against torch fp32 alone). Goal: p50 <= 10 ms for a new query at cosine >= 0.99 to fp32.

    python -m bench.text_query                           # ViT-B-32 (random weights), 50 queries
    python -m bench.text_query --model tiny-test --queries 10
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from assistant.clip.embedder import Embedder, configure_cpu_threads
from assistant.clip.onnx_tower import OnnxTower

from .embed import random_weight_embedder, shopper_queries
from .report import format_table, machine_line

GOAL_P50_MS, GOAL_COSINE = 10.0, 0.99
BASELINE = "torch fp32"


@dataclass
class Runtime:
    """One way of answering a query: an Embedder and the torch threads to set before each call."""

    name: str
    embedder: Embedder
    torch_threads: int


def runtimes(embedder: Embedder, cache_dir: str, engine_threads: int, onnx_threads: Sequence[int]) -> list[Runtime]:
    """The baseline first, then torch on one thread, then ONNX Runtime fp32 and int8 per thread count."""
    out = [Runtime(BASELINE, embedder, engine_threads)]
    if engine_threads != 1:
        out.append(Runtime(f"{BASELINE}, 1 thread", embedder, 1))
    for quantized in (False, True):
        precision = "int8" if quantized else "fp32"
        path = OnnxTower.load_or_export(embedder.loaded, quantized, cache_dir, 1, "text").path
        for threads in onnx_threads:
            tower = OnnxTower(path, threads, "tokens")
            out.append(
                Runtime(
                    f"onnx {precision}, {threads} thread{'s' if threads > 1 else ''}",
                    Embedder(embedder.loaded, None, "onnx", text_tower=tower),
                    engine_threads,
                )
            )
    return out


@dataclass
class Measured:
    """Per query: wall-clock ms, CPU ms of this process (all its threads), and the vector."""

    wall_ms: np.ndarray
    cpu_ms: np.ndarray
    vectors: np.ndarray


def timed_call(run: Runtime, query: str) -> tuple[float, float, np.ndarray]:
    torch.set_num_threads(run.torch_threads)
    cpu, start = time.process_time(), time.perf_counter()
    vector = run.embedder.embed_texts([query])[0]  # not embed_text: every query is computed, never cached
    return (time.perf_counter() - start) * 1e3, (time.process_time() - cpu) * 1e3, vector


def measure(runs: Sequence[Runtime], queries: Sequence[str]) -> dict[str, Measured]:
    """name -> its measurements; the runtimes take turns per query, the first one rotating."""
    for run in runs:  # warm-up: first calls allocate and pick kernels
        timed_call(run, "warm-up query")
    n = len(queries)
    out = {run.name: Measured(np.zeros(n), np.zeros(n), np.zeros((n, run.embedder.dim), np.float32)) for run in runs}
    for i, query in enumerate(queries):
        for j in range(len(runs)):
            run = runs[(i + j) % len(runs)]
            m = out[run.name]
            m.wall_ms[i], m.cpu_ms[i], m.vectors[i] = timed_call(run, query)
    return out


def engines_choice(runs: Sequence[Runtime], engine_threads: int) -> Runtime:
    """The int8 runtime on the engine's threads (what ``ASSISTANT_RUNTIME=onnx`` serves), else the last int8 one."""
    int8 = [r for r in runs if r.name.startswith("onnx int8")]
    return next((r for r in int8 if r.name.split(", ")[1].startswith(f"{engine_threads} thread")), int8[-1])


def measure_alone(runs: Sequence[Runtime], queries: Sequence[str]) -> dict[str, Measured]:
    """Each runtime answers every query back to back, as a server running only that runtime does: its weights
    stay in the CPU's caches between queries (taking turns, the other runtimes' weights push them out)."""
    out = {}
    for run in runs:
        timed_call(run, "warm-up query")
        n = len(queries)
        m = out[f"{run.name}, alone"] = Measured(np.zeros(n), np.zeros(n), np.zeros((n, run.embedder.dim), np.float32))
        for i, query in enumerate(queries):
            m.wall_ms[i], m.cpu_ms[i], m.vectors[i] = timed_call(run, query)
    return out


def summarise(results: dict[str, Measured], baseline: str = BASELINE) -> list[dict]:
    base = results[baseline]
    base_p50 = float(np.percentile(base.wall_ms, 50))
    rows = []
    for name, m in results.items():
        cosine = np.sum(m.vectors * base.vectors, axis=1)
        p50 = float(np.percentile(m.wall_ms, 50))
        rows.append(
            {
                "runtime": name,
                "p50_ms": p50,
                "p99_ms": float(np.percentile(m.wall_ms, 99)),
                "cpu_p50_ms": float(np.percentile(m.cpu_ms, 50)),
                "speedup": base_p50 / p50,
                "min_cosine": float(cosine.min()),
                "mean_cosine": float(cosine.mean()),
            }
        )
    return rows


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.text_query", description=__doc__.split("\n\n")[0])
    model = parser.add_mutually_exclusive_group()
    model.add_argument("--arch-random", metavar="ARCH", default="ViT-B-32", help="architecture, random weights")
    model.add_argument("--model", help="a model spec instead, as for the CLI (e.g. tiny-test)")
    parser.add_argument("--queries", type=int, default=50, help="new queries per runtime (default 50)")
    parser.add_argument("--onnx-threads", default="1,2", help="ONNX Runtime intra-op threads to try (default 1,2)")
    parser.add_argument("--cache-dir", help="where the exported ONNX models are cached (default: a temporary folder)")
    return parser.parse_args(argv)


def print_report(rows: list[dict], model_name: str, n_queries: int, engine_threads: int) -> None:
    print(machine_line())
    print(f"model {model_name}, {n_queries} new queries per runtime, taking turns; torch threads {engine_threads}")
    table = [
        [
            r["runtime"],
            f"{r['p50_ms']:.2f}",
            f"{r['p99_ms']:.2f}",
            f"{r['cpu_p50_ms']:.2f}",
            f"{r['speedup']:.2f}x",
            f"{r['min_cosine']:.5f} / {r['mean_cosine']:.5f}",
        ]
        for r in rows
    ]
    headers = ["runtime", "p50 ms", "p99 ms", "CPU ms p50", f"p50 speed-up vs {BASELINE}", "cosine min / mean"]
    print(format_table(headers, table))
    passing = [r for r in rows if r["p50_ms"] <= GOAL_P50_MS and r["min_cosine"] >= GOAL_COSINE]
    best = min(rows, key=lambda r: r["p50_ms"])
    verdict = f"met by {', '.join(r['runtime'] for r in passing)}" if passing else "NOT met"
    print(
        f"goal (new query p50 <= {GOAL_P50_MS:g} ms, cosine >= {GOAL_COSINE}): {verdict}; fastest "
        f"{best['runtime']} at {best['p50_ms']:.2f} ms, {best['p50_ms'] / GOAL_P50_MS:.2f}x the goal"
    )


def main(argv: Sequence[str] | None = None) -> dict:
    """Run the benchmark and print its table; returns {'machine', 'model', 'rows': [per runtime]}."""
    args = parse_args(argv)
    engine_threads = configure_cpu_threads()
    embedder = Embedder.from_spec(args.model) if args.model else random_weight_embedder(args.arch_random)
    model_name = args.model or f"{args.arch_random} (random weights)"
    queries = shopper_queries(args.queries)
    onnx_threads = [int(t) for t in args.onnx_threads.split(",")]
    with tempfile.TemporaryDirectory(prefix="bench-text-") as tmp:
        runs = runtimes(embedder, args.cache_dir or tmp, engine_threads, onnx_threads)
        served = [runs[0], engines_choice(runs, engine_threads)]
        try:
            rows = summarise(measure(runs, queries))
            rows += summarise(measure_alone(served, queries), f"{BASELINE}, alone")
        finally:
            torch.set_num_threads(engine_threads)
    print_report(rows, model_name, len(queries), engine_threads)
    return {"machine": machine_line(), "model": model_name, "rows": rows}


if __name__ == "__main__":
    main(sys.argv[1:])
