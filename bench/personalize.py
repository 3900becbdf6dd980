"""Latency of a personalised re-rank: a like, then adapting and re-ranking a 10k-product catalog.

A temporary catalog of 10k products (synthetic rows; random vectors clustered by attribute, dim 512
like ViT-B-32) gets a briefly meta-trained personaliser (speed does not depend on how well it is
trained). Each trial is one shopper tapping "like" on their n-th product (n = 1..20) and asking for
the top 20 with reasons: ``session.like(id)`` + ``session.rank(k=20)``, timed together (also with a
search vector, as the shop page passes one). The baseline,
measured in the same run, is a plain FAISS query (top 20) on the same catalog's index.
Goal: p50 < 30 ms on 2 cores.

    python -m bench.personalize            # 10k products, 20 shoppers x 20 clicks
    python -m bench.personalize --quick    # 2k products, 5 shoppers
"""

from __future__ import annotations

import argparse
import hashlib
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from assistant.catalog import Catalog, ProductRecord
from assistant.catalog.synthetic import synthetic_rows
from assistant.clip.embedder import normalize
from assistant.personalization.maml import MetaTrainConfig
from assistant.personalization.serving import Personalizer
from assistant.personalization.training import train_for_catalog

from .report import format_table

GOAL_P50_MS = 30.0
MODEL_SPEC = "bench-random-512"
CLICK_BUCKETS = ((1, 1), (2, 5), (6, 10), (11, 20))


def build_catalog(root: Path, n: int, dim: int, seed: int) -> Catalog:
    """n synthetic products whose vectors cluster by category, metal, stone and style, like CLIP's do."""
    rng = np.random.default_rng(seed)
    rows = synthetic_rows(n, seed)
    directions: dict[str, np.ndarray] = {}
    records = []
    for row in rows:
        parts = [
            directions.setdefault(f"{g}={row[g]}", rng.standard_normal(dim))
            for g in ("category", "metal", "stone", "style")
        ]
        vector = normalize(sum(parts) + rng.standard_normal(dim))
        records.append(
            ProductRecord(
                sku=row["sku"],
                title=row["title"],
                vector=vector,
                content_hash=hashlib.sha256(row["sku"].encode()).hexdigest(),
                description=row["description"],
                category=row["category"],
                metal=row["metal"],
                stone=row["stone"],
                price=float(row["price"]),
                currency="USD",
            )
        )
    catalog = Catalog.open(root, MODEL_SPEC, dim)
    catalog.upsert(records)
    catalog.save_index()
    return catalog


def time_personalised(
    personalizer: Personalizer, catalog: Catalog, shoppers: int, clicks: int, seed: int, with_query: bool = False
) -> list[tuple[int, float]]:
    """(clicks so far, ms) for like + rank(k=20), every click of every shopper; with a search vector if asked."""
    rng = np.random.default_rng(seed)
    ids, vectors = catalog.vectors()
    out = []
    for _ in range(shoppers):
        session = personalizer.session(catalog)
        query = (
            normalize(vectors[rng.integers(len(ids))] + rng.standard_normal(catalog.dim) * 0.05) if with_query else None
        )
        for n, pid in enumerate(rng.choice(ids, size=clicks, replace=False), start=1):
            start = time.perf_counter()
            session.like(int(pid))
            ranked = session.rank(k=20, query_vector=query)
            out.append((n, (time.perf_counter() - start) * 1e3))
            assert len(ranked) == 20
    return out


def time_faiss(catalog: Catalog, queries: int, seed: int) -> np.ndarray:
    """ms per plain top-20 FAISS query on the catalog's index."""
    index = catalog.ensure_index()
    rng = np.random.default_rng(seed)
    vectors = normalize(rng.standard_normal((queries, catalog.dim)))
    out = np.empty(queries)
    for i, v in enumerate(vectors):
        start = time.perf_counter()
        index.search(v, 20)
        out[i] = (time.perf_counter() - start) * 1e3
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--products", type=int, default=10_000)
    parser.add_argument("--dim", type=int, default=512)
    parser.add_argument("--shoppers", type=int, default=20)
    parser.add_argument("--quick", action="store_true", help="2k products, 5 shoppers")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    if args.quick:
        args.products, args.shoppers = 2_000, 5
    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="bench-personalize-") as folder:
        catalog = build_catalog(Path(folder) / "catalog", args.products, args.dim, args.seed)
        print(f"{args.products} products, dim {args.dim}, torch threads {torch.get_num_threads()}", file=sys.stderr)
        checkpoint, _ = train_for_catalog(catalog, shoppers=200, meta=MetaTrainConfig(meta_steps=20, meta_batch=16))
        methods = {
            "maml": Personalizer(MODEL_SPEC, checkpoint),
            "centroid (no checkpoint)": Personalizer.prior(MODEL_SPEC),
        }
        for personalizer in methods.values():  # warm-up: item features and embeddings, once per catalog
            time_personalised(personalizer, catalog, 1, 3, args.seed + 1)
        time_faiss(catalog, 50, args.seed + 2)
        faiss_ms = time_faiss(catalog, 1000, args.seed + 3)
        results = {name: time_personalised(p, catalog, args.shoppers, 20, args.seed) for name, p in methods.items()}
        results["maml, with a search query"] = time_personalised(
            methods["maml"], catalog, args.shoppers, 20, args.seed, with_query=True
        )
    faiss_p50 = float(np.percentile(faiss_ms, 50))
    rows = [["plain FAISS top-20", "-", f"{faiss_p50:.2f}", f"{np.percentile(faiss_ms, 99):.2f}", "1.0"]]
    for name, timings in results.items():
        for low, high in (*CLICK_BUCKETS, (1, 20)):
            ms = np.array([t for n, t in timings if low <= n <= high])
            label = str(low) if low == high else f"{low}-{high}"
            p50 = float(np.percentile(ms, 50))
            rows.append([name, label, f"{p50:.2f}", f"{np.percentile(ms, 99):.2f}", f"{p50 / faiss_p50:.1f}"])
    print(format_table(["method", "clicks", "p50 ms", "p99 ms", "p50 / FAISS p50"], rows))
    maml_p50 = float(np.percentile([t for _, t in results["maml"]], 50))
    verdict = "meets" if maml_p50 < GOAL_P50_MS else "misses"
    print(
        f"\nlike + adapt + re-rank {args.products} products (top 20 with reasons): p50 {maml_p50:.1f} ms, "
        f"{verdict} the {GOAL_P50_MS:.0f} ms goal"
    )
    print(
        f"machine load average {load_before:.1f} before, {os.getloadavg()[0]:.1f} after, on {os.cpu_count()} cores "
        "(other processes slow every row, FAISS too: compare the ratios)"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
