"""Images/s of our embedding and ingest paths against a bare open_clip loop on the same photos and model.

The baseline is what one writes first: in the main process, per batch, open each JPEG, preprocess it,
stack, ``encode_image``. Ours decodes and preprocesses in a DataLoader worker while the model runs
(``Embedder.embed_images``), and the full ``ingest_csv`` also validates, hashes, copies photos, embeds
the product texts and writes SQLite and the index; its baseline therefore encodes the texts too. With
``--runtime onnx`` (default) the same ``embed_images`` also runs on the ONNX Runtime int8 image tower.
Text queries: latency of ``Embedder.embed_text`` for new queries and for repeated (cached) ones.
Goals: ``embed_images`` >= 0.9x the bare loop; the onnx row >= 2x it at min cosine >= 0.99 to fp32;
new text queries p50 <= 10 ms.

    python -m bench.embed                                  # tiny-test model, 256 generated 800x800 JPEGs
    python -m bench.embed --arch-random ViT-B-32           # a real-cost architecture with random weights
    python -m bench.embed --images ../shared/data/jc5/dataset --n 256
"""

from __future__ import annotations

import argparse
import csv
import random
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import open_clip
import torch
from PIL import Image

from assistant.catalog.catalog import DEFAULT_IMAGE_WEIGHT, Catalog
from assistant.catalog.ingest import ingest_csv
from assistant.catalog.product_vectors import product_text
from assistant.catalog.synthetic import draw_product, synthetic_rows
from assistant.clip.embedder import Embedder, configure_cpu_threads
from assistant.clip.factory import TEST_MODEL_SPEC, LoadedModel, ModelSpec
from assistant.clip.onnx_tower import RUNTIMES, onnx_tower
from assistant.images import IMAGE_SUFFIXES

from .report import format_table, machine_line

#: Pixel noise added to the drawn products so JPEG decoding costs what a real photo's does.
PHOTO_NOISE_SIGMA = 10.0


def write_photos(out_dir: Path, n: int, size: int, seed: int = 0) -> list[Path]:
    """n JPEG 'photos' of drawn products, size x size with sensor-like noise (a blank drawing decodes too fast)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    rows = synthetic_rows(n, seed)
    rng = random.Random(seed)
    noise = np.random.default_rng(seed)
    paths = []
    for row in rows:
        drawing = np.asarray(draw_product(row["category"], row["metal"], row["stone"], rng, size), dtype=np.float32)
        pixels = np.clip(drawing + noise.normal(0.0, PHOTO_NOISE_SIGMA, drawing.shape), 0, 255).astype(np.uint8)
        path = out_dir / f"{row['sku']}.jpg"
        Image.fromarray(pixels).save(path, quality=90)
        paths.append(path)
    return paths


def find_photos(folder: Path, n: int) -> list[Path]:
    """The first n image files under folder (sorted, recursive)."""
    paths = sorted(p for p in folder.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())[:n]
    if not paths:
        raise SystemExit(f"no image files ({', '.join(sorted(IMAGE_SUFFIXES))}) under {folder}")
    return paths


def random_weight_embedder(arch: str) -> Embedder:
    """An open_clip architecture with random weights (no download), inside our Embedder, for real model cost."""
    configure_cpu_threads()
    torch.manual_seed(0)
    model, _, preprocess = open_clip.create_model_and_transforms(arch, pretrained=None)
    model.eval()
    tokenizer = open_clip.get_tokenizer(arch)
    spec = ModelSpec(arch=arch, pretrained="random-seed-0")  # names the weights in the ONNX cache key
    with torch.inference_mode():  # timm towers (MobileCLIP2) have no output_dim: ask the model
        dim = int(model.encode_text(tokenizer(["x"])).shape[-1])
    return Embedder(LoadedModel(spec, model, preprocess, tokenizer, dim))


def with_runtime(embedder: Embedder, runtime: str, cache_dir: str | None) -> Embedder | None:
    """The same model with its towers on another runtime; None when that runtime can't run the image tower here."""
    image = onnx_tower(embedder.loaded, runtime, cache_dir, torch.get_num_threads(), "image")
    text = onnx_tower(embedder.loaded, runtime, cache_dir, torch.get_num_threads(), "text")
    return Embedder(embedder.loaded, image, runtime, text) if image is not None else None


def text_query_latencies(embedder: Embedder, queries: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """(ms per new query, ms per repeat of the same queries): the second pass is served from the cache."""

    def one_pass() -> np.ndarray:
        out = []
        for query in queries:
            start = time.perf_counter()
            embedder.embed_text(query)
            out.append((time.perf_counter() - start) * 1e3)
        return np.array(out)

    embedder.embed_texts(["warm-up"])
    return one_pass(), one_pass()


def shopper_queries(n: int) -> list[str]:
    """n distinct short queries as shoppers type them (from the synthetic catalog's vocabulary)."""
    rows = synthetic_rows(n, seed=7)
    return [f"{row['metal']} {row['category']} with {row['stone']} #{i}" for i, row in enumerate(rows)]


@torch.inference_mode()
def bare_open_clip_loop(
    embedder: Embedder, paths: Sequence[Path], batch_size: int, texts: Sequence[str] | None = None
) -> np.ndarray:
    """The baseline: decode, preprocess and encode one batch after another in this process.

    With texts, each batch's texts are encoded too and blended with the photos as products are.
    """
    model, preprocess = embedder.model, embedder.preprocess
    out = []
    for start in range(0, len(paths), batch_size):
        pixels = torch.stack([preprocess(Image.open(p).convert("RGB")) for p in paths[start : start + batch_size]])
        vectors = torch.nn.functional.normalize(model.encode_image(pixels).float(), dim=-1)
        if texts is not None:
            tokens = embedder.tokenizer(list(texts[start : start + batch_size]))
            text_vectors = torch.nn.functional.normalize(model.encode_text(tokens).float(), dim=-1)
            mixed = DEFAULT_IMAGE_WEIGHT * vectors + (1 - DEFAULT_IMAGE_WEIGHT) * text_vectors
            vectors = torch.nn.functional.normalize(mixed, dim=-1)
        out.append(vectors.numpy())
    return np.concatenate(out)


def write_products_csv(path: Path, photos: Sequence[Path], images_dir: Path) -> list[str]:
    """A catalog CSV with one synthetic product per photo; returns the product texts CLIP will read."""
    rows = synthetic_rows(len(photos))
    for row, photo in zip(rows, photos):
        row["image"] = photo.relative_to(images_dir).as_posix()
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return [product_text(row) for row in rows]


@dataclass
class Timing:
    name: str
    batch_size: int
    seconds: float
    baseline: str | None = None  # name of the timing this one is compared with


def timed(run: Callable[[], object]) -> float:
    start = time.perf_counter()
    run()
    return time.perf_counter() - start


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.embed", description=__doc__.split("\n\n")[0])
    model = parser.add_mutually_exclusive_group()
    model.add_argument("--model", default=TEST_MODEL_SPEC, help="model spec, as for the CLI (default: tiny-test)")
    model.add_argument(
        "--arch-random", metavar="ARCH", help="open_clip architecture with random weights, e.g. ViT-B-32"
    )
    parser.add_argument("--images", type=Path, help="folder of photos to use instead of generated ones")
    parser.add_argument("--n", type=int, default=256, help="number of photos (default 256)")
    parser.add_argument("--size", type=int, default=800, help="side of generated photos in pixels (default 800)")
    parser.add_argument("--batch-size", type=int, default=32, help="images per model batch, both paths (default 32)")
    parser.add_argument(
        "--num-workers",
        type=int,
        default=None,
        help="DataLoader workers of the embed_images row (default: the engine's choice, which ingest always uses)",
    )
    parser.add_argument("--repeats", type=int, default=2, help="runs per path; the fastest counts (default 2)")
    parser.add_argument(
        "--runtime",
        default="onnx",
        choices=[r for r in RUNTIMES if r != "torch"] + ["none"],
        help="also time embed_images on this image-tower runtime (default onnx = ONNX Runtime int8; none: skip)",
    )
    parser.add_argument("--cache-dir", help="where the exported ONNX model is cached (default: the engine's)")
    parser.add_argument("--text-queries", type=int, default=50, help="new text queries timed (default 50)")
    parser.add_argument("--quick", action="store_true", help="64 photos, one run each")
    args = parser.parse_args(argv)
    if args.quick:
        args.n, args.repeats = min(args.n, 64), 1
    return args


def main(argv: Sequence[str] | None = None) -> dict:
    """Run the benchmark, print its table; returns {'model', 'n', 'rows': [{name, images_per_s, ratio, ...}]}."""
    args = parse_args(argv)
    embedder = random_weight_embedder(args.arch_random) if args.arch_random else Embedder.from_spec(args.model)
    with tempfile.TemporaryDirectory(prefix="bench-embed-") as tmp:
        tmp = Path(tmp)
        if args.images:
            images_dir = args.images.resolve()
            photos = find_photos(images_dir, args.n)
        else:
            images_dir = tmp / "photos"
            photos = write_photos(images_dir, args.n, args.size)
        texts = write_products_csv(tmp / "products.csv", photos, images_dir)
        n = len(photos)
        batch = args.batch_size

        # One small warm-up per path: first calls allocate, and open the files into the page cache.
        bare_open_clip_loop(embedder, photos[:batch], batch, texts[:batch])
        embedder.embed_images(photos[:batch], batch_size=batch, num_workers=0)

        ours = embedder.embed_images(photos, batch_size=batch, num_workers=args.num_workers).vectors
        reference = bare_open_clip_loop(embedder, photos, batch)
        agreement = float(np.min(np.sum(ours * reference, axis=1)))
        fast = None if args.runtime == "none" else with_runtime(embedder, args.runtime, args.cache_dir)
        fast_agreement = fast_mean_agreement = None
        if fast is not None:
            fast_vectors = fast.embed_images(photos, batch_size=batch, num_workers=args.num_workers).vectors
            cosines = np.sum(fast_vectors * reference, axis=1)
            fast_agreement, fast_mean_agreement = float(np.min(cosines)), float(np.mean(cosines))

        timings = []
        for _ in range(args.repeats):  # interleaved, so a slow spell of the machine hits both sides
            timings += [
                Timing("open_clip loop: photos", batch, timed(lambda: bare_open_clip_loop(embedder, photos, batch))),
                Timing(
                    "Embedder.embed_images",
                    batch,
                    timed(lambda: embedder.embed_images(photos, batch_size=batch, num_workers=args.num_workers)),
                    baseline="open_clip loop: photos",
                ),
                *(
                    [
                        Timing(
                            f"Embedder.embed_images ({args.runtime})",
                            batch,
                            timed(lambda: fast.embed_images(photos, batch_size=batch, num_workers=args.num_workers)),
                            baseline="open_clip loop: photos",
                        )
                    ]
                    if fast is not None
                    else []
                ),
                Timing(
                    "open_clip loop: photos + texts",
                    batch,
                    timed(lambda: bare_open_clip_loop(embedder, photos, batch, texts)),
                ),
                Timing(
                    "ingest_csv (end to end)",
                    32,
                    timed(lambda: _ingest_fresh(embedder, tmp, images_dir)),
                    baseline="open_clip loop: photos + texts",
                ),
            ]
        new_ms, cached_ms = text_query_latencies(embedder, shopper_queries(args.text_queries))
    rows = _summarise(timings, n)
    model_name = f"{args.arch_random} (random weights)" if args.arch_random else embedder.spec.name
    source = str(args.images) if args.images else f"generated {args.size}x{args.size} JPEG"
    print(machine_line())
    print(f"model {model_name}, {n} photos ({source}), torch threads {torch.get_num_threads()}, best of {args.repeats}")
    table = [
        [r["name"], r["batch_size"], f"{r['images_per_s']:.1f}", f"{r['ratio']:.2f}x" if r["baseline"] else "baseline"]
        for r in rows
    ]
    print(format_table(["path", "batch", "images/s", "vs baseline"], table))
    print(f"embed_images vs open_clip loop: min cosine {agreement:.5f} (same model, same photos)")
    if fast_agreement is not None:
        print(
            f"embed_images ({args.runtime}) vs open_clip fp32 loop: min cosine {fast_agreement:.5f}, "
            f"mean {fast_mean_agreement:.5f}"
        )
    elif args.runtime != "none":
        print(f"runtime {args.runtime} unavailable here (see the warning above): no row for it")
    text = {
        "new_p50_ms": float(np.percentile(new_ms, 50)),
        "new_p99_ms": float(np.percentile(new_ms, 99)),
        "cached_p50_ms": float(np.percentile(cached_ms, 50)),
    }
    print(
        f"text queries ({len(new_ms)}, one at a time): new p50 {text['new_p50_ms']:.2f} ms, "
        f"p99 {text['new_p99_ms']:.2f} ms; repeated (LRU cache) p50 {text['cached_p50_ms']:.4f} ms"
    )
    return {
        "model": model_name,
        "n": n,
        "rows": rows,
        "agreement": agreement,
        "runtime_agreement": fast_agreement,
        "runtime_mean_agreement": fast_mean_agreement,
        "text": text,
    }


def _ingest_fresh(embedder: Embedder, tmp: Path, images_dir: Path) -> None:
    """ingest_csv into a new catalog folder (a re-ingest would embed nothing: unchanged rows are skipped)."""
    root = Path(tempfile.mkdtemp(prefix="catalog-", dir=tmp))
    catalog = Catalog.open(root, embedder.spec.name, embedder.dim)
    try:
        report = ingest_csv(catalog, embedder, tmp / "products.csv", images_dir)
    finally:
        catalog.close()
    if report.rejected:
        raise SystemExit(f"ingest rejected rows: {report.rejected[0]}")


def _summarise(timings: list[Timing], n: int) -> list[dict]:
    best: dict[str, Timing] = {}
    for t in timings:
        if t.name not in best or t.seconds < best[t.name].seconds:
            best[t.name] = t
    rows = []
    for t in best.values():
        rate = n / t.seconds
        ratio = (best[t.baseline].seconds / t.seconds) if t.baseline else 1.0
        rows.append(
            {
                "name": t.name,
                "batch_size": t.batch_size,
                "seconds": t.seconds,
                "images_per_s": rate,
                "ratio": ratio,
                "baseline": t.baseline,
            }
        )
    return rows


if __name__ == "__main__":
    main(sys.argv[1:])
