"""Building and training ranking heads: the MAML head and the normally trained head of the finetune baseline."""

from __future__ import annotations

from collections.abc import Callable

import torch

from .head import HeadConfig, RankingHead
from .items import AttributeVocab, ItemTable
from .maml import MetaTrainConfig, meta_train
from .tasks import Sessions


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
    **head_options,
) -> tuple[RankingHead, list[float]]:
    head = new_head(features, vocab, seed=meta.seed, **head_options)
    losses = meta_train(head, items, features, sessions, meta, progress)
    return head.eval(), losses


def train_normally(
    items: ItemTable,
    features: torch.Tensor,
    vocab: AttributeVocab,
    sessions: Sessions,
    meta: MetaTrainConfig,
    hidden: int = 64,
    progress: Callable[[int, int], None] | None = None,
) -> RankingHead:
    """The same head and data, but no inner loop: one shared state fit to every shopper's clicks.

    With zero inner steps the meta-loss is the plain supervised loss on held-out clicks, so the same
    trainer serves; the head is later fine-tuned per shopper with its own learning rate and steps.
    """
    head = new_head(features, vocab, seed=meta.seed, hidden=hidden, inner_steps=0, meta_sgd=False)
    meta_train(head, items, features, sessions, meta, progress)
    return head.eval()
