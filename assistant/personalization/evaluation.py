"""Offline evaluation: nDCG@10, HR@10 and MRR of held-out clicks after K support clicks, per method.

Shoppers are split into train (meta-training, popularity counts, the normally trained head), validation
(tuning the baselines' knobs) and test (the numbers reported); the splits must not share a shopper.
Every method ranks the same candidates for the same test shoppers, so differences are paired.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from assistant.errors import AssistantError
from assistant.personalization.baselines import (
    CentroidRanker,
    HeadRanker,
    LogisticRegressionRanker,
    PopularityRanker,
    popularity_counts,
)
from assistant.personalization.head import HeadConfig, RankingHead
from assistant.personalization.items import AttributeVocab, ItemTable
from assistant.personalization.maml import VALIDATE_EVERY, MetaTrainConfig, single_threaded
from assistant.personalization.metrics import METRICS, mean_ci95, mean_ndcg, ranking_metrics
from assistant.personalization.tasks import QUERY_CLICKS, Sessions, evaluation_batch
from assistant.personalization.training import adapted_ndcg, train_maml, train_normally, validation_batches

DEFAULT_CLICKS = (1, 3, 5, 10)
METHODS = ("maml", "popularity", "centroid", "logreg", "prior", "finetune")
BASELINES = METHODS[1:]
#: K values at which MAML is expected to beat every baseline.
DECISIVE_CLICKS = (3, 5)
#: Fine-tuning (steps, learning rate) used while training the plain head; the grid is searched after.
FINETUNE_DEFAULT = (20, 0.3)
FINETUNE_GRID = [(steps, lr) for steps in (5, 20) for lr in (0.03, 0.1, 0.3, 1.0)]
LOGREG_GRID = (0.1, 1.0, 10.0)

Progress = Callable[[str], None]


def summary(metrics: dict[str, np.ndarray]) -> dict:
    """Means of each metric; ``ci95`` is the interval of nDCG@10 (``ci95_<metric>`` the others')."""
    out: dict = {}
    for name in METRICS:
        mean, lo, hi = mean_ci95(metrics[name])
        out[name] = round(mean, 4)
        out["ci95" if name == "ndcg@10" else f"ci95_{name}"] = [round(lo, 4), round(hi, 4)]
    return out


class EvaluationError(AssistantError):
    """The shoppers given cannot make a sound evaluation; the message says why."""


def assert_disjoint(splits: dict[str, Sessions]) -> None:
    """Refuse an evaluation where one shopper is in two splits (it would measure memory, not adaptation)."""
    seen: dict[str, str] = {}
    for name, sessions in splits.items():
        for shopper in sessions.shopper_ids:
            if shopper in seen and seen[shopper] != name:
                raise EvaluationError(f"shopper {shopper!r} is in both the {seen[shopper]} and the {name} shoppers")
            seen[shopper] = name


@dataclass
class EvaluationSetup:
    items: ItemTable
    train: Sessions
    validation: Sessions
    test: Sessions
    clicks: Sequence[int] = DEFAULT_CLICKS
    meta: MetaTrainConfig = field(default_factory=MetaTrainConfig)
    head_options: dict = field(default_factory=dict)
    description: dict = field(default_factory=dict)  # where items and shoppers came from, for the report

    def validate(self) -> None:
        assert_disjoint({"train": self.train, "validation": self.validation, "test": self.test})
        if not self.clicks or min(self.clicks) < 1:
            raise EvaluationError("--clicks needs positive numbers of support clicks")
        need = max(self.clicks) + 1
        for name in ("validation", "test"):
            if len(getattr(self, name).with_at_least(need)) == 0:
                raise EvaluationError(f"no {name} shopper has the {need} clicks that K={max(self.clicks)} needs")


def evaluate(setup: EvaluationSetup, progress: Progress | None = None) -> dict:
    """Train MAML and the baselines on the train shoppers, tune on validation, report on test shoppers."""
    with single_threaded():
        return _evaluate(setup, progress)


@dataclass
class TrainedRankers:
    """The MAML head, the normally trained head and the tuned knobs of the baselines."""

    maml_head: RankingHead
    plain_head: RankingHead
    meta: MetaTrainConfig
    finetune: tuple[int, float]
    logreg_l2: float

    def rankers(self, items: ItemTable, features, counts: np.ndarray) -> dict:
        """MAML and the five baselines over an item table (``features`` built with the training vocabulary)."""
        steps, lr = self.finetune
        return {
            "maml": HeadRanker("maml", self.maml_head, features),
            "popularity": PopularityRanker(counts),
            "centroid": CentroidRanker(items),
            "logreg": LogisticRegressionRanker(features, l2=self.logreg_l2),
            "prior": HeadRanker("prior", self.maml_head, features, steps=0),
            "finetune": HeadRanker("finetune", self.plain_head, features, steps=steps, inner_lr=lr),
        }

    def describe(self) -> dict:
        return {
            "maml": {**self.maml_head.config.to_dict(), **self.meta.to_dict()},
            "finetune": {"steps": self.finetune[0], "lr": self.finetune[1]},
            "logreg": {"l2": self.logreg_l2},
        }


def train_rankers(
    items: ItemTable,
    features,
    vocab: AttributeVocab,
    train: Sessions,
    validation: Sessions,
    clicks: Sequence[int],
    meta: MetaTrainConfig,
    head_options: dict,
    say: Progress,
) -> TrainedRankers:
    """Meta-train MAML, train the plain head with the same early stopping, tune finetune and logreg."""
    skip_weight = head_options.get("skip_weight", HeadConfig.skip_weight)
    tuning = validation_batches(items, validation, tuple(clicks), skip_weight)
    say(
        f"meta-training the MAML head on {len(train)} training shoppers ({meta.meta_steps} steps, "
        f"best of every {VALIDATE_EVERY} on {len(validation)} validation shoppers)"
    )
    maml_head, _ = train_maml(
        items, features, vocab, train, meta, validate=adapted_ndcg(features, tuning), **head_options
    )
    say("training the baseline head normally on the same shoppers (same early stopping)")
    plain_head = train_normally(
        items,
        features,
        vocab,
        train,
        meta,
        hidden=maml_head.config.hidden,
        validate=adapted_ndcg(features, tuning, *FINETUNE_DEFAULT),
    )
    say("tuning the finetune and logreg baselines on the validation shoppers")
    steps, lr = max(FINETUNE_GRID, key=lambda g: mean_ndcg(HeadRanker("finetune", plain_head, features, *g), tuning))
    l2 = max(LOGREG_GRID, key=lambda c: mean_ndcg(LogisticRegressionRanker(features, l2=c), tuning))
    return TrainedRankers(maml_head, plain_head, meta, (steps, lr), l2)


def _evaluate(setup: EvaluationSetup, progress: Progress | None) -> dict:
    say = progress or (lambda _: None)
    setup.validate()
    started = time.monotonic()
    k_max = max(setup.clicks)
    items = setup.items
    vocab = AttributeVocab.from_items(items)
    counts = popularity_counts(setup.train, len(items))
    features = items.features(vocab, counts)
    validation = setup.validation.with_at_least(k_max + 1)
    skip_weight = setup.head_options.get("skip_weight", HeadConfig.skip_weight)
    trained = train_rankers(
        items, features, vocab, setup.train, validation, setup.clicks, setup.meta, setup.head_options, say
    )
    rankers = trained.rankers(items, features, counts)
    test = setup.test.with_at_least(k_max + 1)
    results: dict[str, dict] = {}
    comparison: dict[str, dict] = {}
    for k in setup.clicks:
        say(f"scoring {len(test)} test shoppers with {k} click(s)")
        batch = evaluation_batch(items, test, k, k_max, skip_weight)
        per_method = {name: ranking_metrics(r.scores(batch), batch) for name, r in rankers.items()}
        results[str(k)] = {name: summary(m) for name, m in per_method.items()}
        comparison[str(k)] = compare(per_method)
    decisive = [comparison[str(k)] for k in DECISIVE_CLICKS if str(k) in comparison]
    return {
        "k_clicks": results,
        "comparison": comparison,
        "maml_beats_best_baseline": all(c["maml_better"] for c in decisive) if decisive else None,
        "setup": {
            **setup.description,
            "items": len(items),
            "synthetic_items": items.synthetic,
            "shoppers": {"train": len(setup.train), "validation": len(validation), "test": len(test)},
            "held_out_clicks_per_shopper": QUERY_CLICKS,
            "candidates": f"all items except each test shopper's first {k_max} clicks",
            **trained.describe(),
            "seconds": round(time.monotonic() - started, 1),
        },
    }


def compare(per_method: dict[str, dict[str, np.ndarray]]) -> dict:
    """MAML against the baseline with the best mean nDCG@10, with a paired 95% interval of the difference."""
    best = max(BASELINES, key=lambda name: per_method[name]["ndcg@10"].mean())
    mean, lo, hi = mean_ci95(per_method["maml"]["ndcg@10"] - per_method[best]["ndcg@10"])
    return {
        "best_baseline": best,
        "maml_minus_best_ndcg@10": round(mean, 4),
        "ci95": [round(lo, 4), round(hi, 4)],
        "maml_better": mean > 0,
        "significant": lo > 0 or hi < 0,
    }


def format_table(report: dict) -> str:
    """The report as a readable table: one row per K and method."""
    header = ["K", "method", "nDCG@10", "95% CI", "HR@10", "MRR"]
    rows = []
    for k, methods in report["k_clicks"].items():
        best = max(methods, key=lambda m: methods[m]["ndcg@10"])
        for name in METHODS:
            m = methods[name]
            mark = " *" if name == best else ""
            rows.append(
                [
                    k,
                    name + mark,
                    f"{m['ndcg@10']:.4f}",
                    f"[{m['ci95'][0]:.4f}, {m['ci95'][1]:.4f}]",
                    f"{m['hr@10']:.4f}",
                    f"{m['mrr']:.4f}",
                ]
            )
    widths = [max(len(str(x)) for x in col) for col in zip(header, *rows)]
    lines = [
        "  ".join(str(x).ljust(w) for x, w in zip(r, widths)).rstrip()
        for r in [header, ["-" * w for w in widths], *rows]
    ]
    lines.append("(* best nDCG@10 at that K)")
    for k, c in report["comparison"].items():
        verdict = "beats" if c["maml_better"] else "does not beat"
        sig = "significant" if c["significant"] else "not significant"
        lines.append(
            f"K={k}: MAML {verdict} the best baseline ({c['best_baseline']}) "
            f"by {c['maml_minus_best_ndcg@10']:+.4f} nDCG@10, "
            f"95% CI [{c['ci95'][0]:+.4f}, {c['ci95'][1]:+.4f}] ({sig})"
        )
    return "\n".join(lines)
