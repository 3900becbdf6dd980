"""CLI command ``eval search``: retrieval quality by category on a labelled photo set."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from assistant.categories.labelled import read_labels
from assistant.cli.common import print_table, progress_bar, write_json_report
from assistant.search.evaluation import TOP_K, SearchEvaluation
from assistant.services import load_embedder


def print_search_report(report: dict, out=None) -> None:
    out = out or sys.stdout
    data = report["dataset"]
    print(
        f"model {report['model']}: {data['photos']} of {data['images']} photos after removing "
        f"{data['duplicates_removed']} exact and {data['near_duplicates_removed']} near duplicates "
        f"({data['near_duplicates_by'] or 'not looked for'}); {len(data['unreadable'])} unreadable",
        file=out,
    )
    for title, result in (
        ("image -> image (leave-one-out)", report["image_to_image"]),
        ("text -> image", report["text_to_image"]),
    ):
        print(f"\n{title}", file=out)
        if result is None:
            print("skipped: the model's text side is random", file=out)
            continue
        rows = [
            [
                name,
                r["queries"],
                f"{r['p_at_1']:.3f}",
                f"{r[f'p_at_{TOP_K}']:.3f}",
                f"{r['map']:.3f}",
                f"{r['chance']:.3f}",
            ]
            for name, r in [*result["per_category"].items(), ("all", result)]
        ]
        print_table(rows, ["category", "queries", "P@1", f"P@{TOP_K}", "mAP", "chance"], out)
        print(
            f"macro average over categories: P@1 {result['p_at_1_macro']:.3f}, mAP {result['map_macro']:.3f}", file=out
        )


def cmd_eval_search(args: argparse.Namespace) -> int:
    embedder = load_embedder(args.settings)
    items = read_labels(Path(args.labels), Path(args.images))
    with progress_bar("embedding photos") as progress:
        evaluation = SearchEvaluation(embedder, items, progress=progress)
    report = evaluation.run()
    out = write_json_report(args.json, report)
    print_search_report(report)
    print(f"\nwrote {out}")
    return 0


def register(commands, evals, trains) -> None:
    p = evals.add_parser("search", help="retrieval quality (P@1, P@10, mAP by category) on a labelled photo set")
    p.add_argument("--images", required=True, help="folder the paths in the labels CSV are relative to")
    p.add_argument("--labels", required=True, help="CSV with path,label[,split][,group]; split is ignored")
    p.add_argument("--json", required=True, help="where to write the JSON report")
    p.set_defaults(handler=cmd_eval_search)
