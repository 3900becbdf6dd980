"""Processes for the catalog stress test: writers that add, re-embed and delete, a reader that checks searches.

``python tests/catalog_stress.py writer ROOT PREFIX SECONDS SEED`` writes products ``PREFIX-n`` with random
vectors and one of three shared photos, re-embeds and deletes some of its own, and prints the skus it
left as JSON. ``python tests/catalog_stress.py reader ROOT SECONDS`` searches in a loop and exits 1 on the
first stale or missing result: whenever no commit happened while it searched, the hits must be a
brute-force top-k over the vectors the store held before the search started.
"""

from __future__ import annotations

import hashlib
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from assistant.catalog import Catalog, ProductRecord

MODEL = "stress-test"
DIM = 32
PHOTOS = [f"shared photo {n}".encode() for n in range(3)]
K = 5


def open_catalog(root: str) -> Catalog:
    return Catalog.open(root, MODEL, DIM)


def unit(rng: np.random.Generator) -> np.ndarray:
    vector = rng.standard_normal(DIM).astype(np.float32)
    return vector / np.linalg.norm(vector)


def record(sku: str, rng: np.random.Generator) -> ProductRecord:
    photo = PHOTOS[int(rng.integers(len(PHOTOS)))]
    return ProductRecord(
        sku=sku,
        title=f"stress {sku}",
        vector=unit(rng),
        content_hash=sku,
        image="photo.png",
        image_sha256=hashlib.sha256(photo).hexdigest(),
        photo=photo,
    )


def writer(root: str, prefix: str, seconds: float, seed: int) -> None:
    rng = np.random.default_rng(seed)
    catalog = open_catalog(root)
    alive: list[str] = []
    n = 0
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        batch = [f"{prefix}-{n + i}" for i in range(4)]
        n += len(batch)
        catalog.upsert([record(sku, rng) for sku in batch])
        alive += batch
        action = rng.integers(3)
        if action == 0 and alive:  # a new vector for an existing product
            catalog.upsert([record(alive[int(rng.integers(len(alive)))], rng)])
        elif action == 1 and len(alive) > 4:
            catalog.delete([alive.pop(int(rng.integers(len(alive))))])
        if rng.integers(4) == 0:
            catalog.save_index()
    catalog.save_index()
    print(json.dumps(sorted(alive)))


def reader(root: str, seconds: float) -> None:
    rng = np.random.default_rng(0)
    catalog = open_catalog(root)
    checked = 0
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        before = catalog.generation
        ids, vectors = catalog.vectors()
        if len(ids) < K or catalog.generation != before:
            continue
        # half the queries are a stored product's own vector: the newest rows must be found at once
        query = vectors[int(rng.integers(len(ids)))] if rng.integers(2) else unit(rng)
        hits = catalog.search_vector(query, k=K)
        if catalog.generation != before:
            continue  # a commit landed during the search: either answer would be right
        scores = dict(zip(ids.tolist(), (vectors @ query).tolist()))
        kth_best = sorted(scores.values(), reverse=True)[K - 1]
        got = [h.product.id for h in hits]
        if len(set(got)) != K or any(scores.get(i, -2.0) < kth_best - 1e-5 for i in got):
            best = sorted(scores, key=scores.get, reverse=True)[:K]
            print(f"generation {before}: search gave {got}, the store's top {K} is {best}", file=sys.stderr)
            sys.exit(1)
        checked += 1
    print(json.dumps({"checked": checked}))


if __name__ == "__main__":
    role, root, *rest = sys.argv[1:]
    if role == "writer":
        writer(root, rest[0], float(rest[1]), int(rest[2]))
    else:
        reader(root, float(rest[0]))
