"""Time to add one category and re-classify a catalog, incremental against a full recompute.

A catalog of N products (random unit vectors: classification cost does not depend on what they show)
gets one new category. Baseline, measured in the same run: the full recompute -- every category and
attribute prototype embedded again and every product re-scored. Incremental: what
``CatalogCategories.add`` does -- embed the new category's prompts, compute its column, save; "warm"
is the app (product vectors already in memory), "cold" a fresh process (the CLI) that first reads the
saved tables and the product vectors. "of which: embed its prompts" is the text-tower share of an add
(its prompt ensemble: 4 templates x names + description). Goal: < 1 s at 10k products.

Timing depends on the model's text tower, not on its weights, so ``--arch ViT-B-32`` times the real
architecture with random weights where no pretrained weights can be downloaded.

    python -m bench.categories                       # tiny-test model, 10k products
    python -m bench.categories --arch ViT-B-32       # the default model's architecture, random weights
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import open_clip
import torch

from assistant.catalog import Catalog, ProductRecord
from assistant.categories import CatalogCategories, Category, preview_draft
from assistant.categories.fewshot import Maml
from assistant.categories.prototypes import category_prompts
from assistant.clip.embedder import Embedder, configure_cpu_threads, normalize
from assistant.clip.factory import TEST_MODEL_SPEC, LoadedModel, ModelSpec

from .report import format_table

GOAL_N, GOAL_S = 10_000, 1.0


def random_weight_embedder(arch: str) -> Embedder:
    """An Embedder of an open_clip architecture with random weights (same compute as the trained model)."""
    if arch == TEST_MODEL_SPEC:
        return Embedder.from_spec(TEST_MODEL_SPEC)
    configure_cpu_threads()
    torch.manual_seed(0)
    model, _, preprocess = open_clip.create_model_and_transforms(arch, pretrained=None)
    model.eval()
    tokenizer = open_clip.get_tokenizer(arch)
    with torch.inference_mode():
        dim = int(model.encode_text(tokenizer(["x"])).shape[-1])
    return Embedder(
        LoadedModel(spec=ModelSpec(arch=arch), model=model, preprocess=preprocess, tokenizer=tokenizer, dim=dim)
    )


def fill_catalog(root: Path, embedder: Embedder, n: int, seed: int) -> Catalog:
    catalog = Catalog.open(root, embedder.spec.name, embedder.dim)
    rng = np.random.default_rng(seed)
    for start in range(0, n, 2000):
        vectors = normalize(rng.standard_normal((min(2000, n - start), embedder.dim), dtype=np.float32))
        catalog.upsert(
            [
                ProductRecord(
                    sku=f"B{start + i:06d}", title=f"bench product {start + i}", vector=v, content_hash=str(start + i)
                )
                for i, v in enumerate(vectors)
            ]
        )
    return catalog


def timed(fn: Callable[[], object], repeats: int) -> float:
    """Median seconds of ``fn`` over ``repeats`` runs (each run sets up its own state inside ``fn``)."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return float(np.median(times))


def bench(n: int, embedder: Embedder, repeats: int, seed: int) -> list[dict]:
    root = Path(tempfile.mkdtemp(prefix="bench-categories-"))
    try:
        catalog = fill_catalog(root / "catalog", embedder, n, seed)
        state = catalog.root / "categories"
        counter = iter(range(10**6))

        def new_category() -> Category:
            k = next(counter)
            return Category(
                name=f"bench category {k}", description=f"a piece of jewelry of bench kind {k}", synonyms=[f"kind {k}"]
            )

        def full_recompute() -> None:
            shutil.rmtree(state, ignore_errors=True)  # no cached prototypes, no saved table
            owner = CatalogCategories(catalog, embedder)
            owner.registry.add(new_category())
            owner.refresh()

        warm = CatalogCategories(catalog, embedder)
        warm.refresh()

        def incremental_cold() -> None:
            CatalogCategories(catalog, embedder).add(new_category())

        def preview() -> None:
            draft = new_category()  # a new name each run: nothing cached from an earlier run
            preview_draft(warm, draft.name, draft.description, synonyms=draft.synonyms).discard()

        def embed_prompts() -> None:
            embedder.embed_texts(category_prompts(new_category()))

        rows = [
            {"name": "full recompute (baseline)", "seconds": timed(full_recompute, repeats)},
            {"name": "add category, warm (app)", "seconds": timed(lambda: warm.add(new_category()), repeats)},
            {"name": "add category, cold (CLI)", "seconds": timed(incremental_cold, repeats)},
            {"name": "preview a draft, warm", "seconds": timed(preview, repeats)},
            {"name": "of which: embed its prompts", "seconds": timed(embed_prompts, repeats)},
        ]
        warm.install_head(Maml(embedder.dim, warm.builder.logit_scale), {"source": "bench (untrained: timing only)"})
        rows.append(
            {"name": "add category, warm, MAML head", "seconds": timed(lambda: warm.add(new_category()), repeats)}
        )
        for row in rows:
            row["n"] = n
            row["ratio"] = row["seconds"] / rows[0]["seconds"]
        return rows
    finally:
        shutil.rmtree(root, ignore_errors=True)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.categories", description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=GOAL_N, help=f"products in the catalog (default {GOAL_N})")
    parser.add_argument(
        "--arch", default=TEST_MODEL_SPEC, help="tiny-test (default) or an open_clip architecture, e.g. ViT-B-32"
    )
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> dict:
    """Run the benchmark and print its table; returns {'model', 'rows'}."""
    args = parse_args(argv)
    embedder = random_weight_embedder(args.arch)
    rows = bench(args.n, embedder, args.repeats, args.seed)
    print(
        f"model {embedder.spec.name} (dim {embedder.dim}), {args.n:,} products, median of {args.repeats}, "
        f"{torch.get_num_threads()} threads"
    )
    print(
        format_table(
            ["what", "seconds", "vs full recompute"],
            [[r["name"], f"{r['seconds']:.3f}", f"{r['ratio']:.3f}x"] for r in rows],
        )
    )
    if args.n == GOAL_N:
        worst = max(r["seconds"] for r in rows if r["name"].startswith("add category"))
        print(
            f"goal (add one category and re-classify {GOAL_N:,} products < {GOAL_S:g} s): "
            f"{'met' if worst < GOAL_S else 'NOT met'} (slowest add: {worst:.3f} s)"
        )
    return {"model": embedder.spec.name, "rows": rows}


if __name__ == "__main__":
    main(sys.argv[1:])
