"""Photos/s and text-query latency of candidate CLIP architectures, next to their published accuracy.

Speed does not depend on the weights, so each architecture is built with random weights
(``open_clip.create_model_and_transforms(arch, pretrained=None)``: no download). Photos/s times the
image tower alone on preprocessed batches (decoding is the same for all models); text latency is
``Embedder.embed_text`` on new shopper queries, one at a time. Accuracy is the published zero-shot
ImageNet-1k top-1 of the named pretrained weights; "accuracy per CPU-second" multiplies it by photos per
CPU-second (photos/s divided by the cores used), the figure the default model is chosen by.

    python -m bench.models                          # the six candidates, 32 photos and 20 queries each
    python -m bench.models --archs ViT-B-32,ViT-B-16 --photos 64
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence

import numpy as np
import torch

from assistant.clip.embedder import configure_cpu_threads

from .embed import random_weight_embedder, shopper_queries
from .report import format_table, machine_line

#: arch -> (pretrained tag, zero-shot ImageNet-1k top-1 %, source). None: not confirmed from here.
PUBLISHED = {
    "ViT-B-32": ("laion2b_s34b_b79k", 66.6, "open_clip results table"),
    "ViT-B-32-256": ("datacomp_s34b_b86k", 72.8, "open_clip results table"),
    "ViT-B-16": ("laion2b_s34b_b88k", 70.2, "open_clip results table"),
    "xlm-roberta-base-ViT-B-32": ("laion5b_s13b_b90k", None, "open_clip results table (not confirmed here)"),
    "MobileCLIP2-S0": ("dfndr2b", None, "Apple ml-mobileclip tables (not confirmed here)"),
    "MobileCLIP2-S2": ("dfndr2b", None, "Apple ml-mobileclip tables (not confirmed here)"),
}


def photos_per_s(embedder, n: int, batch: int) -> float:
    size = embedder.model.visual.image_size
    side = int(size[0] if isinstance(size, (tuple, list)) else size)
    pixels = torch.randn(batch, 3, side, side, generator=torch.Generator().manual_seed(0))
    embedder.encode_pixels(pixels[:2])  # warm-up
    batches = max(1, n // batch)
    start = time.perf_counter()
    for _ in range(batches):
        embedder.encode_pixels(pixels)
    return batches * batch / (time.perf_counter() - start)


def text_p50_ms(embedder, queries: Sequence[str]) -> float:
    embedder.embed_texts(["warm-up"])
    latencies = []
    for query in queries:
        start = time.perf_counter()
        embedder.embed_texts([query])  # not embed_text: every query must be computed, not cached
        latencies.append((time.perf_counter() - start) * 1e3)
    return float(np.percentile(latencies, 50))


def measure(arch: str, args: argparse.Namespace, cores: int) -> dict:
    tag, accuracy, source = PUBLISHED.get(arch, (None, None, "unknown"))
    row = {"arch": arch, "pretrained": tag, "accuracy": accuracy, "source": source}
    try:
        embedder = random_weight_embedder(arch)
    except Exception as exc:  # an architecture this open_clip/timm cannot build offline: report, go on
        return {**row, "error": f"{type(exc).__name__}: {exc}"}
    row["photos_per_s"] = photos_per_s(embedder, args.photos, args.batch_size)
    row["text_p50_ms"] = text_p50_ms(embedder, shopper_queries(args.queries))
    row["params_m"] = sum(p.numel() for p in embedder.model.parameters()) / 1e6
    if accuracy is not None:
        row["accuracy_per_cpu_s"] = accuracy * row["photos_per_s"] / cores
    return row


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.models", description=__doc__.split("\n\n")[0])
    parser.add_argument("--archs", default=",".join(PUBLISHED), help="comma-separated open_clip architectures")
    parser.add_argument("--photos", type=int, default=32, help="photos timed per architecture (default 32)")
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--queries", type=int, default=20, help="new text queries timed (default 20)")
    args = parser.parse_args(argv)
    args.archs = [a.strip() for a in args.archs.split(",") if a.strip()]
    return args


def main(argv: Sequence[str] | None = None) -> dict:
    """Measure each architecture, print the table and the pick; returns {'machine', 'rows', 'best'}."""
    args = parse_args(argv)
    cores = configure_cpu_threads()
    rows = [measure(arch, args, cores) for arch in args.archs]
    print(machine_line())
    print(f"torch threads {torch.get_num_threads()}, random weights, {args.photos} photos, {args.queries} text queries")
    table = [
        [
            r["arch"],
            r["pretrained"] or "-",
            f"{r['accuracy']:.1f}" if r["accuracy"] is not None else "unknown",
            f"{r['params_m']:.0f}" if "params_m" in r else "-",
            f"{r['photos_per_s']:.1f}" if "photos_per_s" in r else r.get("error", "-")[:60],
            f"{r['text_p50_ms']:.1f}" if "text_p50_ms" in r else "-",
            f"{r['accuracy_per_cpu_s']:.0f}" if "accuracy_per_cpu_s" in r else "-",
        ]
        for r in rows
    ]
    headers = ["arch", "weights", "ImageNet %", "M params", "photos/s", "text p50 ms", "acc x photos/CPU-s"]
    print(format_table(headers, table))
    ranked = sorted((r for r in rows if "accuracy_per_cpu_s" in r), key=lambda r: -r["accuracy_per_cpu_s"])
    best = ranked[0]["arch"] if ranked else None
    if best:
        print(f"best accuracy per CPU-second among measured models with a known accuracy: {best}")
    return {"machine": machine_line(), "rows": rows, "best": best}


if __name__ == "__main__":
    main(sys.argv[1:])
