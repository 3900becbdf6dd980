"""Building and training ranking heads: the MAML head and the normally trained head of the finetune baseline."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import torch

from assistant.metalearning import final_loss
from assistant.personalization.baselines import HeadRanker, popularity_counts
from assistant.personalization.checkpoint import PersonalizerCheckpoint
from assistant.personalization.events import EventLog, EventLogError, load_events, sessions_from_events, split_by_user
from assistant.personalization.head import HeadConfig, RankingHead
from assistant.personalization.items import AttributeVocab, ItemTable
from assistant.personalization.maml import MetaTrainConfig, meta_train
from assistant.personalization.metrics import mean_ndcg
from assistant.personalization.shoppers import (
    SIMULATED_CLICKS,
    SIMULATED_SKIPS,
    SIMULATED_TRAIN_SHOPPERS,
    simulated_clicks,
)
from assistant.personalization.simulator import ShopperSimulator
from assistant.personalization.tasks import QUERY_CLICKS, Sessions, TaskBatch, evaluation_batch

#: Support clicks at which validation shoppers score a head during training.
VALIDATION_CLICKS = (1, 3, 5, 10)
VALIDATION_SHOPPERS = 200
#: A real event log's users: most to train on, the rest to pick the best meta-step on.
LOG_TRAINING_SPLIT = {"train": 0.9, "validation": 0.1}


def validation_batches(
    items: ItemTable, sessions: Sessions, clicks: tuple[int, ...], skip_weight: float
) -> list[TaskBatch]:
    """Evaluation batches of the shoppers with enough clicks for the largest K (none if nobody has)."""
    k_max = max(clicks)
    eligible = sessions.with_at_least(k_max + 1)
    if len(eligible) == 0:
        return []
    return [evaluation_batch(items, eligible, k, k_max, skip_weight) for k in clicks]


def adapted_ndcg(
    features: torch.Tensor, batches: list[TaskBatch], steps: int | None = None, inner_lr: float | None = None
) -> Callable[[RankingHead], float]:
    """Validation score of a head: mean nDCG@10 after adapting (``steps``/``inner_lr``: fine-tuning instead)."""
    return lambda head: mean_ndcg(HeadRanker("validation", head, features, steps, inner_lr), batches)


def new_head(features: torch.Tensor, vocab: AttributeVocab, seed: int = 0, **options) -> RankingHead:
    """A fresh head for these item features; ``options`` are HeadConfig fields (hidden, inner_steps, ...)."""
    torch.manual_seed(seed)
    return RankingHead(HeadConfig(in_features=features.shape[1], wide_features=vocab.width + 1, **options))


def train_maml(
    items: ItemTable,
    features: torch.Tensor,
    vocab: AttributeVocab,
    sessions: Sessions,
    meta: MetaTrainConfig,
    progress: Callable[[int, int], None] | None = None,
    validate: Callable[[RankingHead], float] | None = None,
    **head_options,
) -> tuple[RankingHead, list[float]]:
    """A MAML head; with ``validate``, the best-validating state seen during training (early stopping)."""
    head = new_head(features, vocab, seed=meta.seed, **head_options)
    losses = meta_train(head, items, features, sessions, meta, progress, validate)
    return head.eval(), losses


def train_normally(
    items: ItemTable,
    features: torch.Tensor,
    vocab: AttributeVocab,
    sessions: Sessions,
    meta: MetaTrainConfig,
    hidden: int = HeadConfig.hidden,
    progress: Callable[[int, int], None] | None = None,
    validate: Callable[[RankingHead], float] | None = None,
) -> RankingHead:
    """The same head and data, but no inner loop: one shared state fit to every shopper's clicks.

    With zero inner steps the meta-loss is the plain supervised loss on held-out clicks, so the same
    trainer serves; the head is later fine-tuned per shopper with its own learning rate and steps.
    """
    head = new_head(features, vocab, seed=meta.seed, hidden=hidden, inner_steps=0, meta_sgd=False)
    meta_train(head, items, features, sessions, meta, progress, validate)
    return head.eval()


def train_for_catalog(
    catalog,
    shoppers: int = SIMULATED_TRAIN_SHOPPERS,
    log_path: str | Path | None = None,
    meta: MetaTrainConfig | None = None,
    progress: Callable[[int, int], None] | None = None,
    **head_options,
) -> tuple[PersonalizerCheckpoint, EventLog | None]:
    """Meta-train a head on a catalog's products, from an event log's users or else simulated shoppers.

    Popularity learnt from a real log is kept in the checkpoint to steer real rankings; simulated
    shoppers' popularity is made up, so a simulator-trained checkpoint carries none.
    """
    meta = meta or MetaTrainConfig()
    items = ItemTable.from_catalog(catalog)
    log = None
    if log_path is not None:
        log = load_events(log_path, dict(zip(items.skus, items.ids.tolist())), set(items.ids.tolist()))
        users = split_by_user(sessions_from_events(log, items).with_at_least(2), LOG_TRAINING_SPLIT)
        sessions, validation = users["train"], users["validation"]
        if len(sessions) == 0:
            raise EventLogError(
                f"event log {log_path} has no user with 2 or more clicks on catalog products to learn from"
            )
        source = f"{len(sessions)} users of event log {Path(log_path).name}"
    else:
        simulator = ShopperSimulator(items, meta.seed)
        sessions = simulator.sessions("train", shoppers, simulated_clicks(items, SIMULATED_CLICKS), SIMULATED_SKIPS)
        n_clicks = simulated_clicks(items, max(VALIDATION_CLICKS) + QUERY_CLICKS)
        validation = simulator.sessions(
            "validation", VALIDATION_SHOPPERS, n_clicks, max(VALIDATION_CLICKS), query_rate=0.0
        )
        source = f"{len(sessions)} simulated shoppers (synthetic)"
    counts = popularity_counts(sessions, len(items))
    vocab = AttributeVocab.from_items(items)
    features = items.features(vocab, counts)
    longest = max((len(c) for c in validation.clicks), default=0)
    clicks = tuple(k for k in VALIDATION_CLICKS if k < longest)
    batches = validation_batches(items, validation, clicks, HeadConfig.skip_weight) if clicks else []
    validate = adapted_ndcg(features, batches) if batches else None
    head, losses = train_maml(items, features, vocab, sessions, meta, progress, validate, **head_options)
    checkpoint = PersonalizerCheckpoint(
        model_spec=catalog.model_spec,
        head=head,
        vocab=vocab,
        popularity={sku: float(c) for sku, c in zip(items.skus, counts) if c} if log is not None else {},
        trained_on={
            "shoppers_source": source,
            "catalog": str(catalog.root),
            "catalog_generation": catalog.generation,
            "products": len(items),
            "synthetic_shoppers": log is None,
            "meta": meta.to_dict(),
            "validation_shoppers": len(validation),
            "final_meta_loss": final_loss(losses),
        },
    )
    return checkpoint, log
