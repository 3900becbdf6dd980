"""Cold start of a new category: how well a category that meta-training never saw is ranked for the shoppers
who favour it, after K clicks on other items.

Protocol. Every item of the held-out category is removed from the item table that MAML and the baselines are
trained and tuned on: training and validation shoppers are simulated over the other items only, so no item of
the category is ever a click, a skip or a candidate in training, and it counts no popularity. Test shoppers are
simulated over the whole catalog with the category as their favourite (their other tastes drawn as usual). A
test shopper's support is their first K clicks on items outside the category (and K skips); their held-out
clicks are their clicks on the category's items; every item but the support clicks is a candidate. Item
features use the training vocabulary, so the category's items reach the heads with the "other" category code,
as a category added after training would. Metrics and the paired comparison are evaluation.py's.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import replace

import numpy as np

from assistant.personalization.baselines import popularity_counts
from assistant.personalization.evaluation import (
    EvaluationError,
    Progress,
    TrainedRankers,
    compare,
    summary,
    train_rankers,
)
from assistant.personalization.head import HeadConfig
from assistant.personalization.items import AttributeVocab, ItemTable
from assistant.personalization.maml import MetaTrainConfig, single_threaded
from assistant.personalization.metrics import ranking_metrics
from assistant.personalization.shoppers import SIMULATED_CLICKS, SIMULATED_SKIPS, simulated_clicks
from assistant.personalization.simulator import ShopperSimulator
from assistant.personalization.tasks import QUERY_CLICKS, make_batch

#: Clicks simulated per test shopper: enough that a shopper who favours the category also clicks other items.
TEST_SESSION_CLICKS = 120
#: How many candidate test shoppers are simulated per one kept (those without enough clicks are skipped).
TRIES_PER_SHOPPER = 20


def cold_start_shoppers(
    items: ItemTable, category: str, n_shoppers: int, k_max: int, seed: int = 0
) -> tuple[list[np.ndarray], list[np.ndarray], list[np.ndarray], int]:
    """(support clicks outside the category, skips, held-out clicks inside it, shoppers simulated) per test shopper.

    Simulated over the whole catalog from the test stream, each with ``category`` as their favourite."""
    simulator = ShopperSimulator(items, seed)
    in_category = np.array(items.category) == category
    weight = float(np.mean(simulator.config.taste_weight))
    support, skips, held_out = [], [], []
    tried = 0
    while len(support) < n_shoppers and tried < TRIES_PER_SHOPPER * n_shoppers:
        taste = simulator.taste("test", tried)
        taste = replace(taste, attribute_weights={**taste.attribute_weights, "category": {category: weight}})
        rng = np.random.default_rng([seed, 3, tried])
        clicks, skipped, _ = simulator.session(
            taste, rng, simulated_clicks(items, TEST_SESSION_CLICKS), k_max, with_query=False
        )
        tried += 1
        outside, inside = clicks[~in_category[clicks]], clicks[in_category[clicks]]
        if len(outside) >= k_max and len(inside):
            support.append(outside[:k_max])
            skips.append(skipped[~in_category[skipped]][:k_max])
            held_out.append(inside[:QUERY_CLICKS])
    return support, skips, held_out, tried


def evaluate_cold_start(
    items: ItemTable,
    category: str,
    n_train: int,
    n_validation: int,
    n_test: int,
    clicks: Sequence[int],
    meta: MetaTrainConfig,
    head_options: dict,
    seed: int = 0,
    progress: Progress | None = None,
) -> dict:
    """Train MAML and the baselines without ``category``; score them on its items for shoppers who favour it."""
    with single_threaded():
        return _evaluate_cold_start(
            items, category, n_train, n_validation, n_test, clicks, meta, head_options, seed, progress
        )


def _evaluate_cold_start(
    items, category, n_train, n_validation, n_test, clicks, meta, head_options, seed, progress
) -> dict:
    say = progress or (lambda _: None)
    started = time.monotonic()
    category = " ".join(category.lower().split())
    inside = np.array(items.category) == category
    if not inside.any() or inside.all():
        known = ", ".join(sorted(set(items.category) - {""}))
        raise EvaluationError(
            f"cold start needs a category the catalog has beside others; {category!r} (known: {known})"
        )
    k_max = max(clicks)
    kept_rows = np.flatnonzero(~inside)
    seen = items.subset(kept_rows)  # the catalog as meta-training knows it
    simulator = ShopperSimulator(seen, seed)
    train = simulator.sessions("train", n_train, simulated_clicks(seen, SIMULATED_CLICKS), SIMULATED_SKIPS)
    eval_clicks = simulated_clicks(seen, k_max + QUERY_CLICKS)
    validation = simulator.sessions("validation", n_validation, eval_clicks, k_max, query_rate=0.0)
    vocab = AttributeVocab.from_items(seen)
    seen_counts = popularity_counts(train, len(seen))
    say(f"cold start of {category!r}: training without its {int(inside.sum())} items")
    trained: TrainedRankers = train_rankers(
        seen,
        seen.features(vocab, seen_counts),
        vocab,
        train,
        validation.with_at_least(k_max + 1),
        clicks,
        meta,
        head_options,
        say,
    )
    counts = np.zeros(len(items), dtype=seen_counts.dtype)
    counts[kept_rows] = seen_counts
    rankers = trained.rankers(items, items.features(vocab, counts), counts)
    support, skips, held_out, tried = cold_start_shoppers(items, category, n_test, k_max, seed)
    if not support:
        raise EvaluationError(f"no simulated shopper who favours {category!r} clicked {k_max} other items")
    skip_weight = head_options.get("skip_weight", HeadConfig.skip_weight)
    no_query = np.zeros((len(support), len(items)), np.float32)
    results, comparison = {}, {}
    for k in clicks:
        say(f"cold start: scoring {len(support)} shoppers who favour {category!r} after {k} click(s) on other items")
        batch = make_batch(
            items, [s[:k] for s in support], [s[:k] for s in skips], held_out, support, no_query, skip_weight
        )
        per_method = {name: ranking_metrics(r.scores(batch), batch) for name, r in rankers.items()}
        results[str(k)] = {name: summary(m) for name, m in per_method.items()}
        comparison[str(k)] = compare(per_method)
    return {
        "category": category,
        "k_clicks": results,
        "comparison": comparison,
        "setup": {
            "items": len(items),
            "held_out_items": int(inside.sum()),
            "shoppers": {"train": len(train), "validation": len(validation), "test": len(support)},
            "test_shoppers_simulated": tried,
            "held_out_clicks_per_shopper": f"their clicks on {category} items, at most {QUERY_CLICKS}",
            "candidates": f"all items except each test shopper's first {k_max} clicks",
            **trained.describe(),
            "seconds": round(time.monotonic() - started, 1),
        },
    }
