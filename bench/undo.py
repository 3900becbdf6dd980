"""What keeping an import undoable costs: ``Catalog.upsert`` batches of products that replace existing ones,
with a change id (every touched row kept as it was, in the same transaction) against the same batches
without one (the baseline, timed in the same run on a copy of the same catalog), and the undo itself.

    python -m bench.undo                    # 5,000 products, dim 512, batches of 128
    python -m bench.undo --n 1000 --quick   # a smoke run
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np

from assistant.catalog.catalog import Catalog, new_change_id
from assistant.catalog.records import ProductRecord
from bench.vectors import random_unit_vectors

MODEL = "bench-undo"


def records(n: int, dim: int, seed: int, title: str) -> list[ProductRecord]:
    vectors = random_unit_vectors(np.random.default_rng(seed), n, dim)
    return [
        ProductRecord(
            sku=f"B-{i:06d}", title=f"{title} {i}", description="", category="ring", metal="gold", stone="none",
            price=float(i), currency="USD", image=None, image_sha256=None, content_hash=f"{title}-{i}",
            vector=vectors[i], photo=None,
        )
        for i in range(n)
    ]  # fmt: skip


def timed_import(folder: Path, batches: list[list[ProductRecord]], change: str | None) -> float:
    catalog = Catalog.open(folder, MODEL, create=False)
    started = time.perf_counter()
    for batch in batches:
        catalog.upsert(batch, change=change)
    elapsed = time.perf_counter() - started
    catalog.close()
    return elapsed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=5000)
    parser.add_argument("--dim", type=int, default=512)
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--quick", action="store_true", help="one trial instead of three")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        template = Path(tmp) / "template"
        catalog = Catalog.open(template, MODEL, dim=args.dim)
        catalog.upsert(records(args.n, args.dim, 0, "Original"))
        catalog.close()
        update = records(args.n, args.dim, 1, "Updated")
        batches = [update[i : i + args.batch] for i in range(0, args.n, args.batch)]
        plain, kept, undo = [], [], []
        for trial in range(1 if args.quick else 3):
            for name, times, change in (("plain", plain, None), ("kept", kept, new_change_id())):
                folder = Path(tmp) / f"{name}-{trial}"
                shutil.copytree(template, folder)
                times.append(timed_import(folder, batches, change))
                if change is not None:
                    catalog = Catalog.open(folder, MODEL, create=False)
                    started = time.perf_counter()
                    catalog.undo_change(change, args.n, "bench")
                    undo.append(time.perf_counter() - started)
                    catalog.close()
    base, with_change, undone = (float(np.median(t)) for t in (plain, kept, undo))
    print(f"{args.n} products replaced (dim {args.dim}, batches of {args.batch}), median of {len(plain)} trial(s):")
    print(f"  upsert, baseline (no undo kept):  {base:7.2f} s  {args.n / base:8.0f} products/s  1.00x")
    print(f"  upsert, rows kept for undo:       {with_change:7.2f} s  {args.n / with_change:8.0f} products/s  "
          f"{with_change / base:.2f}x")  # fmt: skip
    print(f"  undo of the whole import:         {undone:7.2f} s  {args.n / undone:8.0f} products/s  "
          f"{undone / base:.2f}x")  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
