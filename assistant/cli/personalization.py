"""CLI: ``train personalizer`` (meta-train the ranking head for a catalog) and ``eval personalization``."""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path

from assistant.atomic import atomic_write_json
from assistant.catalog import Catalog
from assistant.errors import UsageError
from assistant.services import stored_manifest
from assistant.settings import Settings

#: Products in the catalog that ``eval personalization`` generates when there is none.
SYNTHETIC_EVAL_PRODUCTS = 800


def register(commands, evals, trains) -> None:
    train = trains.add_parser(
        "personalizer",
        help="meta-train the personalised ranking head (MAML) for the catalog",
        description="Meta-train the ranking head on the catalog's products with simulated shoppers (synthetic) "
        "or the users of an event log, and write it to <catalog>/personalizer.pt, tagged with the model spec.",
    )
    train.add_argument("--shoppers", type=int, default=5000, help="simulated training shoppers (default 5000)")
    train.add_argument(
        "--log", type=Path, help="train on the users of this event log (CSV: user_id,product_id,event_type,timestamp)"
    )
    train.add_argument("--out", type=Path, help="checkpoint path (default <catalog>/personalizer.pt)")
    _add_training_options(train)
    train.set_defaults(handler=cmd_train)

    ev = evals.add_parser(
        "personalization",
        help="nDCG@10, HR@10, MRR of MAML and baselines after K clicks",
        description="Meta-train on training shoppers, tune baselines on validation shoppers, and report nDCG@10, "
        "HR@10 and MRR (mean, 95% interval) on disjoint test shoppers after K support clicks. Without a catalog "
        "it generates a synthetic one.",
    )
    ev.add_argument(
        "--clicks", type=int, nargs="+", default=[1, 3, 5, 10], metavar="K", help="support clicks (default 1 3 5 10)"
    )
    ev.add_argument("--shoppers", type=int, default=500, help="test shoppers (default 500)")
    ev.add_argument("--train-shoppers", type=int, default=5000, help="simulated training shoppers (default 5000)")
    ev.add_argument("--log", type=Path, help="evaluate on the users of this event log instead of simulated shoppers")
    ev.add_argument("--json", type=Path, required=True, metavar="OUT", help="write the report here as JSON")
    _add_training_options(ev)
    ev.set_defaults(handler=cmd_eval)


def _add_training_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--steps", type=int, default=1000, help="meta-training steps (default 1000, best of every 100 kept)"
    )
    parser.add_argument("--inner-steps", type=int, default=5, help="inner-loop gradient steps per shopper (default 5)")
    parser.add_argument(
        "--first-order", action="store_true", help="first-order MAML (no gradients through the inner loop)"
    )
    parser.add_argument(
        "--no-meta-sgd", action="store_true", help="one fixed inner learning rate instead of learnt per-weight rates"
    )
    parser.add_argument("--seed", type=int, default=0)


def _training_config(args: argparse.Namespace):
    from assistant.personalization.maml import MetaTrainConfig

    for name in ("steps", "inner_steps", "shoppers"):
        if getattr(args, name) < 1:
            raise UsageError(f"--{name.replace('_', '-')} must be at least 1")
    meta = MetaTrainConfig(meta_steps=args.steps, first_order=args.first_order, seed=args.seed)
    return meta, {"inner_steps": args.inner_steps, "meta_sgd": not args.no_meta_sgd}


def _say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _open_catalog(settings: Settings) -> Catalog | None:
    """The catalog for the model spec, or None when the folder holds no catalog."""
    if stored_manifest(settings) is None:
        return None
    return Catalog.open(settings.catalog_location, settings.model_spec, create=False)


def cmd_train(args: argparse.Namespace) -> int:
    from assistant.cli.common import progress_bar
    from assistant.personalization.checkpoint import CHECKPOINT_NAME, default_checkpoint_path, save_checkpoint
    from assistant.personalization.training import train_for_catalog

    meta, head_options = _training_config(args)
    catalog = _open_catalog(args.settings)
    if catalog is None or catalog.count() == 0:
        raise UsageError(
            f"no products in catalog {args.settings.catalog_dir}; ingest some first (or try: python -m assistant demo)"
        )
    out = args.out or default_checkpoint_path(catalog.root)
    started = time.monotonic()
    with progress_bar("meta-training") as progress:
        checkpoint, log = train_for_catalog(catalog, args.shoppers, args.log, meta, progress, **head_options)
    if log is not None:
        _report_rejected(log)
    save_checkpoint(out, checkpoint)
    if args.out is None:  # the catalog's own checkpoint: every app server of a shared catalog gets it
        catalog.publish_file(CHECKPOINT_NAME)
    print(
        f"wrote {out}: {checkpoint.trained_on['shoppers_source']}, {checkpoint.trained_on['products']} products, "
        f"model {checkpoint.model_spec}, {time.monotonic() - started:.0f} s"
    )
    return 0


def _report_rejected(log) -> None:
    if log.rejected:
        _say(f"{log.path}: skipped {len(log.rejected)} bad row(s):")
        for rejected in log.rejected[:20]:
            _say(f"  {rejected}")
        if len(log.rejected) > 20:
            _say(f"  ... and {len(log.rejected) - 20} more")


def cmd_eval(args: argparse.Namespace) -> int:
    from assistant.personalization.evaluation import EvaluationSetup, evaluate, format_table
    from assistant.personalization.items import ItemTable
    from assistant.personalization.shoppers import log_splits, simulated_splits

    meta, head_options = _training_config(args)
    clicks = sorted(set(args.clicks))
    if min(clicks) < 1 or max(clicks) > 20:
        raise UsageError("--clicks must be between 1 and 20")
    with ExitStack() as stack:
        catalog = _open_catalog(args.settings)
        catalog_note = str(args.settings.catalog_dir)
        if catalog is None or catalog.count() == 0:
            if args.log:
                raise UsageError(
                    f"--log needs the catalog its products belong to; no catalog at {args.settings.catalog_dir}"
                )
            folder = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="personalization-eval-")))
            catalog = _synthetic_catalog(args.settings, folder)
            catalog_note = f"generated synthetic catalog ({SYNTHETIC_EVAL_PRODUCTS} products, labelled synthetic)"
        items = ItemTable.from_catalog(catalog)
        if args.log:
            splits = log_splits(items, args.log, max(clicks), args.shoppers)
            _report_rejected(splits.log)
        else:
            splits = simulated_splits(items, args.train_shoppers, 200, args.shoppers, max(clicks), args.seed)
        _say(f"catalog: {catalog_note}; shoppers: {splits.source}")
        setup = EvaluationSetup(
            items,
            splits.train,
            splits.validation,
            splits.test,
            clicks,
            meta,
            head_options,
            description={
                "catalog": catalog_note,
                "model": catalog.model_spec,
                "shoppers_source": splits.source,
                **splits.details,
            },
        )
        report = evaluate(setup, progress=_say)
    atomic_write_json(args.json, report)
    print(format_table(report))
    print(
        f"\n{len(setup.test.with_at_least(max(clicks) + 1))} test shoppers; catalog: {catalog_note}; shoppers: {splits.source}"
    )
    print(f"wrote {args.json}")
    return 0


def _synthetic_catalog(settings: Settings, folder: Path) -> Catalog:
    """A throw-away catalog of drawn synthetic products, embedded with the chosen model."""
    from assistant.catalog.ingest import ingest_csv
    from assistant.catalog.synthetic import write_synthetic_catalog
    from assistant.services import load_embedder

    _say(
        f"no catalog at {settings.catalog_dir}: generating a synthetic one ({SYNTHETIC_EVAL_PRODUCTS} drawn products, labelled synthetic)"
    )
    embedder = load_embedder(settings)
    csv_path = write_synthetic_catalog(folder / "source", n=SYNTHETIC_EVAL_PRODUCTS, seed=0, image_size=64)
    catalog = Catalog.open(folder / "catalog", embedder.spec.name, embedder.dim)
    ingest_csv(catalog, embedder, csv_path, csv_path.parent / "images")
    return catalog
