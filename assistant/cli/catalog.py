"""CLI commands over a catalog: ingest, search, info, delete, reindex, demo."""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

from assistant.catalog import Catalog, CatalogError, Filters, Hit
from assistant.catalog.ingest import IngestReport, ingest_csv
from assistant.catalog.reindex import reindex
from assistant.catalog.trash import delete_products, trash_days_from_env
from assistant.catalog.vector_index import INDEX_KINDS
from assistant.cli.common import print_table, progress_bar
from assistant.search import DEFAULT_TEXT_WEIGHT
from assistant.services import load_embedder, make_search_engine, open_catalog, open_existing_catalog


def print_ingest_report(report: IngestReport, out=None) -> None:
    out = out or sys.stdout
    print(
        f"added {report.added}, updated {report.updated}, unchanged {report.unchanged}, "
        f"rejected {len(report.rejected)}",
        file=out,
    )
    for title, remarks, what in (("rejected rows", report.rejected, "problem"), ("notes", report.notes, "note")):
        if remarks:
            print(f"\n{title}:", file=out)
            rows = [[p.file, p.row, p.sku, p.column, p.message] for p in remarks]
            print_table(rows, ["file", "row", "sku", "column", what], out)


def cmd_ingest(args: argparse.Namespace) -> int:
    embedder = load_embedder(args.settings)
    catalog = open_catalog(args.settings, embedder, args.index_kind, args.image_weight)
    with progress_bar("embedding") as progress:
        report = ingest_csv(catalog, embedder, args.csv, args.images, progress=progress, batch_size=args.batch_size)
    if args.json:
        json.dump(report.to_dict(), sys.stdout, indent=2, ensure_ascii=False)
        print()
    else:
        print_ingest_report(report)
    return 1 if (args.strict and report.rejected) else 0


def filters_from_args(args: argparse.Namespace) -> Filters:
    return Filters(
        category=args.category, metal=args.metal, stone=args.stone, min_price=args.min_price, max_price=args.max_price
    )


def print_hits(hits: list[Hit], as_json: bool) -> None:
    if as_json:
        json.dump([h.to_dict() for h in hits], sys.stdout, indent=2, ensure_ascii=False)
        print()
        return
    if not hits:
        print("no matching products")
        return
    rows = [
        [
            n,
            f"{h.score:.3f}",
            h.product.sku,
            h.product.title[:48],
            h.product.category,
            h.product.metal,
            h.product.stone,
            "" if h.product.price is None else f"{h.product.price:,.2f} {h.product.currency}",
        ]
        for n, h in enumerate(hits, 1)
    ]
    print_table(rows, ["#", "score", "sku", "title", "category", "metal", "stone", "price"])


def cmd_search(args: argparse.Namespace) -> int:
    if not args.text and not args.image:
        raise CatalogError("search needs TEXT, --image FILE, or both")
    embedder = load_embedder(args.settings)
    catalog = Catalog.open(args.settings.catalog_location, embedder.spec.name, create=False)
    engine = make_search_engine(catalog, embedder)
    hits = engine.search(
        args.text, Path(args.image) if args.image else None, filters_from_args(args), args.k, args.text_weight
    )
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
    missing = delete_products(catalog, args.skus)
    print(
        f"moved {len(set(args.skus)) - len(missing)} product(s) to the trash for {trash_days_from_env():g} days; "
        "bring one back with: python -m assistant restore SKU"
    )
    if missing:
        print(f"not in the catalog: {', '.join(missing)}", file=sys.stderr)
        return 1
    return 0


def cmd_reindex(args: argparse.Namespace) -> int:
    embedder = load_embedder(args.settings)
    catalog = Catalog.open(
        args.settings.catalog_location,
        embedder.spec.name,
        create=False,
        allow_reindex=True,
        index_kind=args.index_kind,
    )
    before = catalog.model_spec
    with progress_bar("re-embedding") as progress:
        n = reindex(catalog, embedder, progress)
    print(f"re-embedded {n} product(s) with {embedder.spec.name} (was {before}); index: {catalog.index_kind}")
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from assistant.catalog.synthetic import write_synthetic_catalog

    embedder = load_embedder(args.settings)
    catalog = open_catalog(args.settings, embedder)
    with tempfile.TemporaryDirectory() as tmp:
        csv_path = write_synthetic_catalog(tmp, n=args.n, seed=args.seed)
        with progress_bar("embedding") as progress:
            report = ingest_csv(catalog, embedder, csv_path, Path(tmp) / "images", progress=progress)
    print(f"synthetic demo catalog in {catalog.location}: ", end="")
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
    p.add_argument(
        "csv",
        help="products CSV: sku,title,description,category,metal,stone,price,currency,image "
        "(an empty image keeps a product's stored photo, - removes it)",
    )
    p.add_argument("--images", help="folder or .zip holding the photos named in the image column")
    p.add_argument("--strict", action="store_true", help="exit 1 when any row is rejected")
    p.add_argument("--index-kind", choices=INDEX_KINDS, help="flat (exact), hnsw (approximate) or auto (by size)")
    p.add_argument(
        "--image-weight", type=float, help="share of the photo in a product's vector (new catalogs; default 0.7)"
    )
    p.add_argument("--batch-size", type=int, default=128, help="products embedded and committed together")
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.set_defaults(handler=cmd_ingest)

    p = commands.add_parser("search", help="search the catalog by text, photo, or both")
    p.add_argument("text", nargs="?", help="what to look for, e.g. 'rose gold hoops'")
    p.add_argument("--image", help="a photo to search by")
    p.add_argument("--k", type=int, default=10, help="how many results")
    p.add_argument(
        "--text-weight", type=float, default=DEFAULT_TEXT_WEIGHT, help="share of the text in a text+photo query"
    )
    add_filter_arguments(p)
    p.add_argument("--json", action="store_true", help="print hits as JSON")
    p.set_defaults(handler=cmd_search)

    p = commands.add_parser("info", help="what the catalog holds")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=cmd_info)

    p = commands.add_parser("delete", help="move products to the trash by sku (restorable; see restore, purge)")
    p.add_argument("skus", nargs="+")
    p.set_defaults(handler=cmd_delete)

    p = commands.add_parser("reindex", help="re-embed every product with --model (after a model change)")
    p.add_argument("--index-kind", choices=INDEX_KINDS)
    p.set_defaults(handler=cmd_reindex)

    p = commands.add_parser("demo", help="fill the catalog with synthetic demo products (labelled synthetic)")
    p.add_argument("--n", type=int, default=120)
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(handler=cmd_demo)
