"""Rankers compared in the evaluation: MAML and the baselines it has to beat.

Each ranker maps a ``TaskBatch`` to scores [shoppers, items]; higher ranks first.

- ``popularity``: clicks by the training shoppers, the same list for everyone;
- ``centroid``: cosine similarity (centred CLIP space) to the mean of the shopper's clicked items;
- ``logreg``: logistic regression on the item features, trained from scratch on the support clicks
  (positives) against the rest of the catalog (skips weighted up);
- ``prior``: the meta-learned head before any adaptation;
- ``finetune``: a head trained normally on all training shoppers' clicks, then fine-tuned on the support
  clicks by gradient steps (learning rate and steps tuned on validation shoppers);
- ``maml``: the meta-learned head adapted by its learnt inner loop.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch.nn import functional as F

from assistant.personalization.head import RankingHead
from assistant.personalization.items import ItemTable
from assistant.personalization.maml import batch_scores
from assistant.personalization.tasks import Sessions, TaskBatch


def popularity_counts(sessions: Sessions, n_items: int) -> np.ndarray:
    """How many shoppers clicked each item."""
    counts = np.zeros(n_items, dtype=np.float32)
    for clicks in sessions.clicks:
        np.add.at(counts, clicks, 1.0)
    return counts


def support_weights(batch: TaskBatch, n_items: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(positive weights, negative weights) [B, n], each row summing to 1; skips weigh more than unseen items."""
    positive = torch.zeros(len(batch), n_items).scatter_add_(1, batch.positives, batch.positive_mask).clamp(max=1.0)
    negative = (1.0 - positive) * batch.log_weights.exp()
    return positive / positive.sum(1, keepdim=True).clamp(min=1e-9), negative / negative.sum(1, keepdim=True)


@dataclass
class PopularityRanker:
    counts: np.ndarray
    name: str = "popularity"

    def scores(self, batch: TaskBatch) -> torch.Tensor:
        return torch.from_numpy(np.log1p(self.counts)).expand(len(batch), -1).clone()


@dataclass
class CentroidRanker:
    items: ItemTable
    name: str = "centroid"

    def scores(self, batch: TaskBatch) -> torch.Tensor:
        centred = torch.from_numpy(self.items.centred)
        clicked = centred[batch.positives] * batch.positive_mask[..., None]  # [B, P, dim]
        return clicked.sum(1) @ centred.T  # same order as the cosine to the (unnormalised) mean


@dataclass
class LogisticRegressionRanker:
    features: torch.Tensor
    l2: float = 1e-2
    iterations: int = 40
    name: str = "logreg"

    def scores(self, batch: TaskBatch) -> torch.Tensor:
        n_items, width = self.features.shape
        x = torch.cat([self.features, torch.ones(n_items, 1)], dim=1)
        positive, negative = support_weights(batch, n_items)
        w = torch.zeros(len(batch), width + 1, requires_grad=True)
        optimizer = torch.optim.LBFGS([w], max_iter=self.iterations, line_search_fn="strong_wolfe")

        def closure() -> torch.Tensor:
            optimizer.zero_grad()
            logits = w @ x.T
            loss = (positive * F.softplus(-logits) + negative * F.softplus(logits)).sum() + self.l2 * (
                w[:, :-1] ** 2
            ).sum()
            loss.backward()
            return loss

        optimizer.step(closure)
        return (w @ x.T).detach()


@dataclass
class HeadRanker:
    """A ranking head, adapted on the support set by ``steps`` inner steps (0: its prior as is)."""

    name: str
    head: RankingHead
    features: torch.Tensor
    steps: int | None = None  # None: the head's own inner loop
    inner_lr: float | None = None  # None: the head's own (meta-learnt) rates

    def scores(self, batch: TaskBatch) -> torch.Tensor:
        if self.steps == 0:
            return batch_scores(self.head, self.features, batch, adapt=False)
        return batch_scores(self.head, self.features, batch, steps=self.steps, inner_lr=self.inner_lr)
