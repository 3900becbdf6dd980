"""CLI commands for categories: ``eval categories`` and ``categories list|add|remove|classify``."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from assistant.catalog import Catalog
from assistant.categories import CatalogCategories, CategoryRegistry, preview_draft
from assistant.categories.catalog_labels import CATEGORY, HEAD_NAME
from assistant.categories.evaluation import CategoryEvaluation, EvalSettings
from assistant.categories.fewshot import Maml, MamlConfig
from assistant.categories.labelled import read_labels
from assistant.categories.registry import CATEGORIES_DIR
from assistant.categories.training import catalog_training_set, image_training_set, train_catalog_head
from assistant.checkpoints import CheckpointError
from assistant.cli.common import print_table, write_json_report
from assistant.clip.embedder import Embedder
from assistant.errors import UsageError
from assistant.services import open_existing_catalog, stored_manifest


def catalog_and_embedder(args: argparse.Namespace) -> tuple[Catalog, Embedder]:
    """The catalog of ``--catalog`` and an embedder of the model it was built with."""
    catalog = open_existing_catalog(args.settings)
    return catalog, Embedder.from_spec(catalog.model_spec, cache_dir=args.settings.model_cache)


def stage_progress():
    """A progress(stage, done, total) callback that draws one tqdm bar per stage on stderr."""
    from tqdm import tqdm

    bars: dict[str, tqdm] = {}

    def update(stage: str, done: int, total: int) -> None:
        if stage not in bars:
            for bar in bars.values():
                bar.close()
            bars[stage] = tqdm(desc=stage, total=total, file=sys.stderr, disable=None)
        bars[stage].n = done
        bars[stage].refresh()
        if done >= total:
            bars[stage].close()

    return update


# ---------------------------------------------------------------------- eval categories
def print_eval_report(report: dict, out=None) -> None:
    out = out or sys.stdout
    data = report["dataset"]
    print(
        f"model {report['model']}: {data['kept']} of {data['images']} images after dedup "
        f"({data['duplicates_removed']} duplicates, "
        f"{data['conflicting_labels_removed']} with conflicting labels removed, "
        f"{len(data['unreadable'])} unreadable); train {data['train_images']}, test {data['test_images']}",
        file=out,
    )
    train = data.get("train_source")
    if train:
        print(
            f"meta-trained on another set: {train['kept']} of {train['images']} images after dedup, "
            f"{train['copies_of_test_images_removed']} copies of evaluation photos removed",
            file=out,
        )
    zero = report["zero_shot"]
    random_text = "" if report["text_side_real"] else " (the model's text side is random: chance by design)"
    print(f"\nzero-shot top-1 on {zero['images']} test images: {zero['top1']:.3f}{random_text}", file=out)
    labels = zero["confusion"]["labels"]
    rows = [
        [label, f"{zero['per_class'][label] if zero['per_class'][label] is not None else float('nan'):.3f}", *row]
        for label, row in zip(labels, zero["confusion"]["matrix"])
    ]
    print_table(rows, ["true \\ predicted", "accuracy", *labels], out)
    print(
        f"\nfew-shot accuracy, mean and 95% interval over episodes (default method: {report['default_method']})",
        file=out,
    )
    rows = []
    for shots, result in report["few_shot"].items():
        for method in report["methods"]:
            m = result["methods"][method]
            mark = " (best)" if method == result["best"] else ""
            rows.append(
                [
                    f"{result['ways']}-way {shots}-shot",
                    method + mark,
                    f"{m['accuracy']:.3f}",
                    f"[{m['ci95'][0]:.3f}, {m['ci95'][1]:.3f}]",
                ]
            )
    print_table(rows, ["task", "method", "accuracy", "95% CI"], out)
    held = report.get("held_out")
    if held:
        print(f"\nheld out of meta-training: {', '.join(held['categories'])}", file=out)
        name_only = ", ".join(f"{k} {v:.3f}" for k, v in held["name_only"]["per_class"].items())
        print(f"added by name only (zero-shot recall): {name_only}", file=out)
        rows = []
        for shots, result in held["few_shot"].items():
            for method in report["methods"]:
                m = result["methods"][method]
                rows.append([f"{shots}-shot", method, f"{m['accuracy']:.3f}", f"{m['held_out_accuracy']:.3f}"])
            leaked = result["held_out_seen_in_meta_training"]
            print(
                f"{shots}-shot meta-training saw {', '.join(result['meta_training']['classes'])}; "
                f"held-out seen: {leaked or 'none'}",
                file=out,
            )
        print_table(rows, ["task", "method", "episode accuracy", "held-out class accuracy"], out)


def cmd_eval_categories(args: argparse.Namespace) -> int:
    if args.episodes < 1 or any(k < 1 for k in args.shots):
        raise UsageError("--episodes and --shots must be positive")
    if bool(args.train_images) != bool(args.train_labels):
        raise UsageError("give both --train-images and --train-labels (the set to meta-train on), or neither")
    maml = maml_config(args)
    embedder = Embedder.from_spec(args.settings.model_spec, cache_dir=args.settings.model_cache)
    settings = EvalSettings(
        shots=args.shots,
        episodes=args.episodes,
        ways=args.ways,
        queries=args.queries,
        holdout=args.holdout or (),
        maml=maml,
        seed=args.seed,
    )
    train_items = read_labels(Path(args.train_labels), Path(args.train_images)) if args.train_images else None
    evaluation = CategoryEvaluation(
        embedder,
        read_labels(Path(args.labels), Path(args.images)),
        settings=settings,
        progress=stage_progress(),
        train_items=train_items,
    )
    report = evaluation.run()
    out = write_json_report(args.json, report)
    print_eval_report(report)
    print(f"\nwrote {out}")
    return 0


# ---------------------------------------------------------------------- categories ...
def method_of(args: argparse.Namespace) -> str:
    """Which few-shot method the catalog uses, without loading a model: MAML once a usable head was trained,
    else the prototype blend (and why a trained head is not used)."""
    path = args.settings.catalog_dir / CATEGORIES_DIR / HEAD_NAME
    if not path.exists():
        return "prototype blend"
    try:
        Maml.load(path, stored_manifest(args.settings).model_spec)
    except CheckpointError as exc:
        return f"prototype blend: {exc}"
    return "MAML head (train categories)"


def cmd_list(args: argparse.Namespace) -> int:
    if args.settings.catalog_url:  # opening a shared catalog mirrors its registry and head into catalog_dir
        open_existing_catalog(args.settings).close()
    registry = CategoryRegistry.load(args.settings.catalog_dir)
    counts = None
    if args.counts:
        catalog, embedder = catalog_and_embedder(args)
        counts = CatalogCategories(catalog, embedder, registry).counts()
    if args.json:
        categories = [c.to_dict() | ({"products": counts.get(c.name, 0)} if counts else {}) for c in registry]
        json.dump(
            {
                "unknown_below": registry.unknown_below,
                "categories": categories,
                "unknown_products": counts and counts["unknown"],
            },
            sys.stdout,
            indent=2,
            ensure_ascii=False,
        )
        print()
        return 0
    rows = [
        [
            c.name,
            c.parent or "",
            ", ".join(c.synonyms[:3]),
            "、".join(c.zh),
            len(c.examples),
            *([counts.get(c.name, 0)] if counts else []),
        ]
        for c in registry
    ]
    print_table(
        rows, ["category", "parent", "synonyms", "chinese", "photos", *(["products"] if counts else [])], out=sys.stdout
    )
    print(f"\nexample photos are learned by the {method_of(args)}")
    if counts:
        print(f"\nunknown (below probability {registry.unknown_below}): {counts['unknown']}")
    return 0


def cmd_add(args: argparse.Namespace) -> int:
    catalog, embedder = catalog_and_embedder(args)
    owner = CatalogCategories(catalog, embedder)
    if args.name in owner.registry:
        raise UsageError(f"category {args.name!r} already exists; remove it first or pick another name")
    preview = preview_draft(
        owner,
        args.name,
        args.description or "",
        [Path(p) for p in args.photo or []],
        synonyms=args.synonym or (),
        zh=args.zh or (),
        parent=args.parent,
    )
    summary = preview.to_dict(limit=args.show)
    print(
        f"{summary['category']!r} would take {summary['taken']} product(s): "
        + (", ".join(f"{n} from {k}" for k, n in summary["taken_from"].items()) or "none")
    )
    if summary["nearest_category"]:
        margin = "n/a" if summary["margin"] is None else f"{summary['margin']:.3f}"
        print(
            f"nearest existing category: {summary['nearest_category']} "
            f"(prototype cosine {summary['nearest_similarity']:.3f}); "
            f"median margin over the taken products: {margin}"
        )
    if summary["products"]:
        print_table(
            [[p["sku"], p["title"][:48], f"{p['probability']:.3f}", p["previous"]] for p in summary["products"]],
            ["sku", "title", "probability", "was"],
            out=sys.stdout,
        )
    if args.dry_run:
        preview.discard()
        print("\ndry run: nothing saved")
        return 0
    report = preview.apply()
    print(
        f"\nsaved {args.name!r}; re-classified incrementally "
        f"(new columns: {', '.join(report.columns_recomputed.get(CATEGORY, [])) or 'none'})"
    )
    return 0


def cmd_remove(args: argparse.Namespace) -> int:
    catalog, embedder = catalog_and_embedder(args)
    owner = CatalogCategories(catalog, embedder)
    owner.remove(args.name)
    print(f"removed {args.name!r}; {owner.counts()['unknown']} product(s) are now unknown")
    return 0


def cmd_classify(args: argparse.Namespace) -> int:
    catalog, embedder = catalog_and_embedder(args)
    owner = CatalogCategories(catalog, embedder)
    if args.kind not in owner.kinds:
        raise UsageError(f"unknown kind {args.kind!r}; choose one of {', '.join(owner.kinds)}")
    if args.sku:
        products = [catalog.get_by_sku(s) for s in args.sku]
        missing = [s for s, p in zip(args.sku, products) if p is None]
        if missing:
            raise UsageError(f"not in the catalog: {', '.join(missing)}")
        labelled = owner.explain([p.id for p in products], args.kind)
        title = f"{args.kind} of {len(labelled)} product(s)"
    else:
        labelled = owner.low_confidence(args.low_confidence, args.kind)
        title = f"the {len(labelled)} least confident {args.kind} label(s)"
    counts = owner.counts(args.kind)
    if args.json:
        payload = {
            "kind": args.kind,
            "counts": counts,
            "products": [{"sku": pl.product.sku, **pl.classification.to_dict()} for pl in labelled],
        }
        json.dump(payload, sys.stdout, indent=2, ensure_ascii=False)
        print()
        return 0
    print_table([[k, n] for k, n in counts.items() if n], [args.kind, "products"], out=sys.stdout)
    print(f"\n{title}:")
    print_table(
        [
            [
                pl.product.sku,
                pl.product.title[:40],
                pl.classification.label,
                f"{pl.classification.probability:.3f}",
                ", ".join(f"{k} {p:.2f}" for k, p in pl.classification.top),
            ]
            for pl in labelled
        ],
        ["sku", "title", args.kind, "probability", "top"],
        out=sys.stdout,
    )
    return 0


def cmd_train_categories(args: argparse.Namespace) -> int:

    if bool(args.images) != bool(args.labels):
        raise UsageError("give both --images and --labels, or neither to train on the catalog's own product categories")
    catalog, embedder = catalog_and_embedder(args)
    owner = CatalogCategories(catalog, embedder)
    if args.forget:
        owner.remove_head()
        print(f"removed the few-shot head; categories use the {owner.method.replace('_', ' ')}")
        return 0
    config = maml_config(args, shots=args.shots)
    progress = stage_progress()
    if args.images:
        data = image_training_set(
            embedder, Path(args.labels), Path(args.images), lambda d, t: progress("embedding photos", d, t)
        )
    else:
        data = catalog_training_set(catalog)
    summary = train_catalog_head(owner, data, config, lambda d, t: progress("meta-training", d, t))
    print(
        f"meta-trained on {summary['items_seen']} items of {len(summary['categories'])} categories "
        f"({', '.join(summary['categories'])}) from {summary['source']}; final loss {summary['final_loss']}"
    )
    print(f"categories now use {owner.method}; {owner.counts()['unknown']} product(s) are unknown")
    return 0


def _add_maml_options(parser: argparse.ArgumentParser) -> None:
    """The MAML options ``eval categories`` and ``train categories`` share; defaults are MamlConfig's."""
    parser.add_argument(
        "--meta-steps", type=int, default=MamlConfig.meta_steps, help="MAML meta-training steps (default %(default)s)"
    )
    parser.add_argument(
        "--inner-steps", type=int, default=MamlConfig.inner_steps, help="MAML adaptation steps (default %(default)s)"
    )
    parser.add_argument(
        "--first-order", action="store_true", help="first-order MAML (no gradients through the inner loop)"
    )
    parser.add_argument("--seed", type=int, default=MamlConfig.seed)


def maml_config(args: argparse.Namespace, **fields) -> MamlConfig:
    """The MamlConfig of the shared MAML options (and ``fields``); no flags give MamlConfig's defaults."""
    if args.meta_steps < 1 or args.inner_steps < 0:
        raise UsageError("--meta-steps must be at least 1 and --inner-steps at least 0")
    return MamlConfig(
        meta_steps=args.meta_steps,
        inner_steps=args.inner_steps,
        first_order=args.first_order,
        seed=args.seed,
        **fields,
    )


def register(commands, evals, trains) -> None:
    p = evals.add_parser("categories", help="zero-shot and few-shot category accuracy on a labelled image set")
    p.add_argument("--images", required=True, help="folder the paths in the labels CSV are relative to")
    p.add_argument(
        "--labels",
        required=True,
        help="CSV with path,label[,split][,group] (split: train/training or test; group: near-duplicate group)",
    )
    p.add_argument("--train-images", help="another labelled set to meta-train on (with --train-labels)")
    p.add_argument(
        "--train-labels", help="its CSV; then every photo of --images/--labels is a test photo (cross-source)"
    )
    p.add_argument(
        "--shots",
        type=int,
        nargs="+",
        default=list(EvalSettings.shots),
        help=f"K photos per category (default: {' '.join(map(str, EvalSettings.shots))})",
    )
    p.add_argument(
        "--episodes", type=int, default=EvalSettings.episodes, help="few-shot episodes per K (default %(default)s)"
    )
    p.add_argument(
        "--holdout",
        nargs="+",
        metavar="CAT",
        help="categories removed from meta-training, then added by name / K photos",
    )
    p.add_argument("--json", required=True, help="where to write the JSON report")
    p.add_argument(
        "--ways",
        type=int,
        default=EvalSettings.ways,
        help="categories per episode, at most those in the data (default %(default)s)",
    )
    p.add_argument(
        "--queries",
        type=int,
        default=EvalSettings.queries,
        help="query photos per category and episode (default %(default)s)",
    )
    _add_maml_options(p)
    p.set_defaults(handler=cmd_eval_categories)

    p = trains.add_parser("categories", help="meta-train the catalog's few-shot (MAML) head for its categories")
    p.add_argument(
        "--images", help="folder of labelled photos (with --labels); default: the catalog's own product categories"
    )
    p.add_argument("--labels", help="CSV with path,label[,split]; rows whose split is test are not trained on")
    p.add_argument(
        "--shots",
        type=int,
        default=MamlConfig.shots,
        help="K photos per category in meta-training episodes (default %(default)s)",
    )
    _add_maml_options(p)
    p.add_argument("--forget", action="store_true", help="remove the head: go back to the prototype blend")
    p.set_defaults(handler=cmd_train_categories)

    group = commands.add_parser(
        "categories", help="the catalog's categories: list, add (with preview), remove, classify"
    )
    sub = group.add_subparsers(dest="categories_command", required=True, metavar="ACTION")
    p = sub.add_parser("list", help="categories with synonyms (and product counts with --counts)")
    p.add_argument("--counts", action="store_true", help="classify the catalog and count products per category")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=cmd_list)

    p = sub.add_parser("add", help="add a category by name, description and optional photos; shows what it takes")
    p.add_argument("name")
    p.add_argument("--description", help="what the category is, in a sentence")
    p.add_argument("--synonym", action="append", help="an English synonym (repeatable)")
    p.add_argument("--zh", action="append", help="a Chinese name (repeatable)")
    p.add_argument("--parent", help="broader category, e.g. earring for 'ear cuff'")
    p.add_argument("--photo", action="append", help="an example photo (repeatable)")
    p.add_argument("--dry-run", action="store_true", help="preview only; save nothing")
    p.add_argument("--show", type=int, default=20, help="how many taken products to list")
    p.set_defaults(handler=cmd_add)

    p = sub.add_parser("remove", help="remove a category (its sub-categories move up to its parent)")
    p.add_argument("name")
    p.set_defaults(handler=cmd_remove)

    p = sub.add_parser("classify", help="label counts and the least confident products (or given skus)")
    p.add_argument("--kind", default=CATEGORY, help="category (default), metal, stone or style")
    p.add_argument("--sku", nargs="+", help="classify these products")
    p.add_argument("--low-confidence", type=int, default=20, help="how many least confident products to list")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=cmd_classify)
