"""CLI: ``train personalizer`` (meta-train the ranking head for a catalog) and ``eval personalization``."""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path

from assistant.catalog import Catalog, audit, history
from assistant.cli.common import write_json_report
from assistant.clip.factory import parse_model_spec
from assistant.errors import UsageError
from assistant.personalization.cold_start import evaluate_cold_start
from assistant.personalization.evaluation import DEFAULT_CLICKS, EvaluationSetup, evaluate, format_table
from assistant.personalization.head import HeadConfig
from assistant.personalization.maml import VALIDATE_EVERY, MetaTrainConfig
from assistant.personalization.shoppers import SIMULATED_TRAIN_SHOPPERS, log_splits, simulated_splits
from assistant.personalization.tasks import MAX_SUPPORT_CLICKS
from assistant.personalization.training import VALIDATION_SHOPPERS, train_for_catalog
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
    train.add_argument(
        "--shoppers",
        type=int,
        default=SIMULATED_TRAIN_SHOPPERS,
        help="simulated training shoppers (default %(default)s)",
    )
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
        "--clicks",
        type=int,
        nargs="+",
        default=list(DEFAULT_CLICKS),
        metavar="K",
        help=f"support clicks, 1 to {MAX_SUPPORT_CLICKS} (default {' '.join(map(str, DEFAULT_CLICKS))})",
    )
    ev.add_argument("--shoppers", type=int, default=500, help="test shoppers (default %(default)s)")
    ev.add_argument(
        "--train-shoppers",
        type=int,
        default=SIMULATED_TRAIN_SHOPPERS,
        help="simulated training shoppers (default %(default)s)",
    )
    ev.add_argument("--log", type=Path, help="evaluate on the users of this event log instead of simulated shoppers")
    ev.add_argument(
        "--holdout-category",
        metavar="CAT",
        help="also measure the cold start of CAT: held out of meta-training entirely, ranked for simulated "
        "shoppers who favour it after K clicks on other items",
    )
    ev.add_argument("--json", type=Path, required=True, metavar="OUT", help="write the report here as JSON")
    _add_training_options(ev)
    ev.set_defaults(handler=cmd_eval)


def _add_training_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--steps",
        type=int,
        default=MetaTrainConfig.meta_steps,
        help=f"meta-training steps (default %(default)s, best of every {VALIDATE_EVERY} kept)",
    )
    parser.add_argument(
        "--inner-steps",
        type=int,
        default=HeadConfig.inner_steps,
        help="inner-loop gradient steps per shopper (default %(default)s)",
    )
    parser.add_argument(
        "--first-order", action="store_true", help="first-order MAML (no gradients through the inner loop)"
    )
    parser.add_argument(
        "--no-meta-sgd", action="store_true", help="one fixed inner learning rate instead of learnt per-weight rates"
    )
    parser.add_argument("--seed", type=int, default=MetaTrainConfig.seed)


def training_config(args: argparse.Namespace):
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

    meta, head_options = training_config(args)
    catalog = _open_catalog(args.settings)
    if catalog is None or catalog.count() == 0:
        raise UsageError(
            f"no products in catalog {args.settings.catalog_location}; "
            "ingest some first (or try: python -m assistant demo)"
        )
    out = args.out or default_checkpoint_path(catalog.root)
    started = time.monotonic()
    with progress_bar("meta-training") as progress:
        checkpoint, log = train_for_catalog(catalog, args.shoppers, args.log, meta, progress, **head_options)
    if log is not None:
        _report_rejected(log)
    previous = history.keep(catalog, out)  # the checkpoint this one replaces, so the training can be undone
    save_checkpoint(out, checkpoint)
    details = dict(checkpoint.trained_on) | history.training_details(catalog, out, previous)
    audit.record(catalog, audit.TRAIN_PERSONALIZER, str(out), details)
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
    from assistant.personalization.items import ItemTable

    meta, head_options = training_config(args)
    clicks = sorted(set(args.clicks))
    if min(clicks) < 1 or max(clicks) > MAX_SUPPORT_CLICKS:
        raise UsageError(f"--clicks must be between 1 and {MAX_SUPPORT_CLICKS}")
    if args.holdout_category and args.log:
        raise UsageError("--holdout-category simulates the shoppers who favour it; it cannot be used with --log")
    with ExitStack() as stack:
        catalog = _open_catalog(args.settings)
        catalog_note = args.settings.catalog_location
        if catalog is None or catalog.count() == 0:
            if args.log:
                raise UsageError(
                    f"--log needs the catalog its products belong to; no catalog at {args.settings.catalog_location}"
                )
            folder = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="personalization-eval-")))
            catalog = _synthetic_catalog(args.settings, folder)
            catalog_note = f"generated synthetic catalog ({SYNTHETIC_EVAL_PRODUCTS} products, labelled synthetic)"
        items = ItemTable.from_catalog(catalog)
        if args.log:
            splits = log_splits(items, args.log, max(clicks), args.shoppers)
            _report_rejected(splits.log)
        else:
            splits = simulated_splits(
                items, args.train_shoppers, VALIDATION_SHOPPERS, args.shoppers, max(clicks), args.seed
            )
        _say(f"catalog: {catalog_note}; shoppers: {splits.source}")
        note = parse_model_spec(catalog.model_spec).evaluation_note
        if note:  # the catalog's vectors come from an evaluation model, loaded or not
            _say(f"warning: {note}")
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
        if args.holdout_category:
            report["cold_start"] = evaluate_cold_start(
                items,
                args.holdout_category,
                args.train_shoppers,
                VALIDATION_SHOPPERS,
                args.shoppers,
                clicks,
                meta,
                head_options,
                args.seed,
                _say,
            )
    write_json_report(args.json, report)
    print(format_table(report))
    if args.holdout_category:
        cold = report["cold_start"]
        print(
            f"\ncold start of {cold['category']!r} ({cold['setup']['held_out_items']} items never seen in training), "
            f"{cold['setup']['shoppers']['test']} shoppers who favour it, after K clicks on other items:"
        )
        print(format_table(cold))
    print(
        f"\n{len(setup.test.with_at_least(max(clicks) + 1))} test shoppers; "
        f"catalog: {catalog_note}; shoppers: {splits.source}"
    )
    print(f"wrote {args.json}")
    return 0


def _synthetic_catalog(settings: Settings, folder: Path) -> Catalog:
    """A throw-away catalog of drawn synthetic products, embedded with the chosen model."""
    from assistant.catalog.ingest import ingest_csv
    from assistant.catalog.synthetic import write_synthetic_catalog
    from assistant.services import load_embedder

    _say(
        f"no catalog at {settings.catalog_location}: generating a synthetic one "
        f"({SYNTHETIC_EVAL_PRODUCTS} drawn products, labelled synthetic)"
    )
    embedder = load_embedder(settings)
    csv_path = write_synthetic_catalog(folder / "source", n=SYNTHETIC_EVAL_PRODUCTS, seed=0, image_size=64)
    catalog = Catalog.open(folder / "catalog", embedder.spec.name, embedder.dim)
    ingest_csv(catalog, embedder, csv_path, csv_path.parent / "images")
    return catalog
