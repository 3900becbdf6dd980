"""CLI commands over a catalog: ingest, search, info, delete, reindex, demo."""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from contextlib import contextmanager
from pathlib import Path

from .catalog import MANIFEST_NAME, Catalog, CatalogError, Filters, Hit, Manifest
from .embedder import Embedder
from .ingest import IngestError, IngestReport, ingest_csv
from .reindex import reindex
from .search import DEFAULT_TEXT_WEIGHT, SearchEngine
from .settings import Settings
from .vector_index import INDEX_KINDS


def load_embedder(settings: Settings) -> Embedder:
    return Embedder.from_spec(settings.model_spec, cache_dir=settings.model_cache)


def open_catalog(settings: Settings, embedder: Embedder, index_kind: str | None = None, image_weight: float | None = None) -> Catalog:
    """Open the catalog for the embedder's model, creating it (with the given settings) when absent."""
    catalog = Catalog.open(settings.catalog_dir, embedder.spec.name, embedder.dim, index_kind=index_kind)
    if image_weight is not None and image_weight != catalog.manifest.image_weight:
        if catalog.count():
            raise CatalogError(
                f"catalog {catalog.root} blends photos at weight {catalog.manifest.image_weight}; "
                "changing it would mix two kinds of vectors. Use a new --catalog folder for another weight."
            )
        catalog.manifest.image_weight = image_weight
        catalog.manifest.write(catalog.manifest_path)
    return catalog


def open_existing_catalog(settings: Settings) -> Catalog:
    """Open a catalog with the model it was built with: for commands that embed nothing."""
    manifest_path = settings.catalog_dir / MANIFEST_NAME
    if not manifest_path.exists():
        raise CatalogError(f"no catalog at {settings.catalog_dir}; fill one with: python -m assistant ingest PRODUCTS.csv --images DIR")
    return Catalog.open(settings.catalog_dir, Manifest.read(manifest_path).model_spec, create=False)


@contextmanager
def progress_bar(description: str):
    """A tqdm bar fed by the engine's progress(done, total) callbacks."""
    from tqdm import tqdm

    bar = tqdm(desc=description, unit="item", file=sys.stderr, disable=None)
    try:
        def update(done: int, total: int) -> None:
            bar.total = total
            bar.n = done
            bar.refresh()

        yield update
    finally:
        bar.close()


def print_table(rows: list[list[str]], header: list[str], out=None) -> None:
    out = out or sys.stdout  # looked up per call, so redirected or captured stdout is honoured
    widths = [max(len(str(x)) for x in col) for col in zip(header, *rows)]
    for row in [header, ["-" * w for w in widths], *rows]:
        print("  ".join(str(x).ljust(w) for x, w in zip(row, widths)).rstrip(), file=out)


def print_ingest_report(report: IngestReport, out=None) -> None:
    out = out or sys.stdout
    print(f"added {report.added}, updated {report.updated}, unchanged {report.unchanged}, rejected {len(report.rejected)}", file=out)
    if report.rejected:
        print("\nrejected rows:", file=out)
        print_table([[p.row, p.sku, p.column, p.message] for p in report.rejected], ["row", "sku", "column", "problem"], out)


def cmd_ingest(args: argparse.Namespace) -> int:
    embedder = load_embedder(args.settings)
    catalog = open_catalog(args.settings, embedder, args.index_kind, args.image_weight)
    try:
        with progress_bar("embedding") as progress:
            report = ingest_csv(catalog, embedder, args.csv, args.images, progress=progress, batch_size=args.batch_size)
    except IngestError as exc:
        raise CatalogError(str(exc)) from exc
    if args.json:
        json.dump(report.to_dict(), sys.stdout, indent=2, ensure_ascii=False)
        print()
    else:
        print_ingest_report(report)
    return 1 if (args.strict and report.rejected) else 0


def filters_from_args(args: argparse.Namespace) -> Filters:
    return Filters(category=args.category, metal=args.metal, stone=args.stone, min_price=args.min_price, max_price=args.max_price)


def print_hits(hits: list[Hit], as_json: bool) -> None:
    if as_json:
        json.dump([h.to_dict() for h in hits], sys.stdout, indent=2, ensure_ascii=False)
        print()
        return
    if not hits:
        print("no matching products")
        return
    rows = [
        [n, f"{h.score:.3f}", h.product.sku, h.product.title[:48], h.product.category, h.product.metal, h.product.stone,
         "" if h.product.price is None else f"{h.product.price:,.2f} {h.product.currency}"]
        for n, h in enumerate(hits, 1)
    ]
    print_table(rows, ["#", "score", "sku", "title", "category", "metal", "stone", "price"])


def make_search_engine(catalog: Catalog, embedder: Embedder) -> SearchEngine:
    """Search that reads Chinese queries through the catalog's category and attribute vocabularies, as the app does."""
    from .categories import CategoryRegistry, QueryTranslator

    return SearchEngine(catalog, embedder, translate=QueryTranslator.from_vocabularies(CategoryRegistry.load(catalog.root)))


def cmd_search(args: argparse.Namespace) -> int:
    if not args.text and not args.image:
        raise CatalogError("search needs TEXT, --image FILE, or both")
    embedder = load_embedder(args.settings)
    catalog = Catalog.open(args.settings.catalog_dir, embedder.spec.name, create=False)
    engine = make_search_engine(catalog, embedder)
    hits = engine.search(args.text, Path(args.image) if args.image else None, filters_from_args(args), args.k, args.text_weight)
    print_hits(hits, args.json)
    return 0


def cmd_info(args: argparse.Namespace) -> int:
    info = open_existing_catalog(args.settings).info()
    if args.json:
        json.dump(info, sys.stdout, indent=2, ensure_ascii=False)
        print()
    else:
        for key, value in info.items():
            print(f"{key:>18}: {', '.join(value) if isinstance(value, list) else value}")
    return 0


def cmd_delete(args: argparse.Namespace) -> int:
    catalog = open_existing_catalog(args.settings)
    missing = catalog.delete(args.skus)
    print(f"deleted {len(args.skus) - len(missing)} product(s)")
    if missing:
        print(f"not in the catalog: {', '.join(missing)}", file=sys.stderr)
        return 1
    return 0


def cmd_reindex(args: argparse.Namespace) -> int:
    embedder = load_embedder(args.settings)
    catalog = Catalog.open(args.settings.catalog_dir, embedder.spec.name, create=False, allow_reindex=True, index_kind=args.index_kind)
    before = catalog.model_spec
    with progress_bar("re-embedding") as progress:
        n = reindex(catalog, embedder, progress)
    print(f"re-embedded {n} product(s) with {embedder.spec.name} (was {before}); index: {catalog.index_kind}")
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from .synthetic import write_synthetic_catalog

    embedder = load_embedder(args.settings)
    catalog = open_catalog(args.settings, embedder)
    with tempfile.TemporaryDirectory() as tmp:
        csv_path = write_synthetic_catalog(tmp, n=args.n, seed=args.seed)
        with progress_bar("embedding") as progress:
            report = ingest_csv(catalog, embedder, csv_path, Path(tmp) / "images", progress=progress)
    print(f"synthetic demo catalog in {catalog.root}: ", end="")
    print_ingest_report(report)
    return 0


def add_filter_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--category", help="only this category")
    parser.add_argument("--metal", help="only this metal, e.g. 'rose gold'")
    parser.add_argument("--stone", help="only this stone, e.g. pearl")
    parser.add_argument("--min-price", type=float)
    parser.add_argument("--max-price", type=float)


def register(commands, evals, trains) -> None:
    p = commands.add_parser("ingest", help="add or update products from a CSV and their photos")
    p.add_argument("csv", help="products CSV: sku,title,description,category,metal,stone,price,currency,image")
    p.add_argument("--images", help="folder or .zip holding the photos named in the image column")
    p.add_argument("--strict", action="store_true", help="exit 1 when any row is rejected")
    p.add_argument("--index-kind", choices=INDEX_KINDS, help="flat (exact), hnsw (approximate) or auto (by size)")
    p.add_argument("--image-weight", type=float, help="share of the photo in a product's vector (new catalogs; default 0.7)")
    p.add_argument("--batch-size", type=int, default=128, help="products embedded and committed together")
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.set_defaults(handler=cmd_ingest)

    p = commands.add_parser("search", help="search the catalog by text, photo, or both")
    p.add_argument("text", nargs="?", help="what to look for, e.g. 'rose gold hoops'")
    p.add_argument("--image", help="a photo to search by")
    p.add_argument("--k", type=int, default=10, help="how many results")
    p.add_argument("--text-weight", type=float, default=DEFAULT_TEXT_WEIGHT, help="share of the text in a text+photo query")
    add_filter_arguments(p)
    p.add_argument("--json", action="store_true", help="print hits as JSON")
    p.set_defaults(handler=cmd_search)

    p = commands.add_parser("info", help="what the catalog holds")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=cmd_info)

    p = commands.add_parser("delete", help="delete products by sku")
    p.add_argument("skus", nargs="+")
    p.set_defaults(handler=cmd_delete)

    p = commands.add_parser("reindex", help="re-embed every product with --model (after a model change)")
    p.add_argument("--index-kind", choices=INDEX_KINDS)
    p.set_defaults(handler=cmd_reindex)

    p = commands.add_parser("demo", help="fill the catalog with synthetic demo products (labelled synthetic)")
    p.add_argument("--n", type=int, default=120)
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(handler=cmd_demo)
