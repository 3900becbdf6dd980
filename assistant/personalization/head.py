"""The ranking head: scores every catalog item for one shopper.

    score(item) = <user, embed(item)> + query_weight * query_similarity(item)

``embed`` (shared by all shoppers, meta-learned) turns an item's CLIP vector, attribute one-hots and
popularity into a feature vector: a small MLP's output concatenated with the one-hots and popularity,
so that "likes rose gold" is one weight away. ``user`` is the shopper's state: the meta-learned prior
before any click, adapted on the shopper's clicks and skips by a few gradient steps (the MAML inner
loop); it is the only parameter adapted per shopper, everything else is shared. Item features are
computed once per catalog, so adapting and re-ranking touch only ``user``.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import torch
from torch import nn


@dataclass(frozen=True)
class HeadConfig:
    in_features: int
    wide_features: int  # trailing input columns (one-hots + popularity) passed straight through
    hidden: int = 64
    inner_steps: int = 5
    inner_lr: float = 0.3
    meta_sgd: bool = True
    #: A skipped item weighs this many ordinary catalog items in the softmax: shown and passed over.
    skip_weight: float = 20.0

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> HeadConfig:
        return cls(**data)


class RankingHead(nn.Module):
    def __init__(self, config: HeadConfig):
        super().__init__()
        self.config = config
        self.body = nn.Sequential(
            nn.Linear(config.in_features, config.hidden),
            nn.GELU(),
            nn.Linear(config.hidden, config.hidden),
        )
        width = config.hidden + config.wide_features
        self.user = nn.Parameter(torch.zeros(width))
        self.query_weight = nn.Parameter(torch.tensor(1.0))
        log_lr = torch.full((width,), math.log(config.inner_lr))
        if config.meta_sgd:  # Meta-SGD: one learnt inner learning rate per user weight
            self.log_inner_lr = nn.Parameter(log_lr)
        else:
            self.register_buffer("log_inner_lr", log_lr)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        """Item embeddings [n, hidden + wide] from head inputs [n, in_features]."""
        wide = features[:, features.shape[1] - self.config.wide_features :]
        return torch.cat([self.body(features), wide], dim=1)


def item_scores(
    user: torch.Tensor, embeddings: torch.Tensor, query_similarity: torch.Tensor, query_weight: torch.Tensor
) -> torch.Tensor:
    """Scores of all items [n] for one shopper state."""
    return embeddings @ user + query_weight * query_similarity


def support_loss(
    user: torch.Tensor,
    embeddings: torch.Tensor,
    query_similarity: torch.Tensor,
    query_weight: torch.Tensor,
    positives: torch.Tensor,
    positive_mask: torch.Tensor,
    log_weights: torch.Tensor,
) -> torch.Tensor:
    """Mean softmax cross-entropy of each click against the whole catalog, skips up-weighted.

    ``log_weights`` [n] is log(skip_weight) on skipped items and 0 elsewhere, so a skip counts as a strong
    negative. The mean (not the sum) keeps one inner learning rate stable from 1 to 20 clicks.
    """
    scores = item_scores(user, embeddings, query_similarity, query_weight)
    log_norm = torch.logsumexp(scores + log_weights, dim=0)
    return -((scores.gather(0, positives) - log_norm) * positive_mask).sum() / positive_mask.sum().clamp(min=1)


def query_loss(
    user: torch.Tensor,
    embeddings: torch.Tensor,
    query_similarity: torch.Tensor,
    query_weight: torch.Tensor,
    positives: torch.Tensor,
    positive_mask: torch.Tensor,
    candidate_mask: torch.Tensor,
) -> torch.Tensor:
    """Mean softmax cross-entropy of the held-out clicks among the candidates (support clicks left out)."""
    scores = item_scores(user, embeddings, query_similarity, query_weight)
    log_norm = torch.logsumexp(scores.masked_fill(~candidate_mask, -1e9), dim=0)
    return -((scores.gather(0, positives) - log_norm) * positive_mask).sum() / positive_mask.sum().clamp(min=1)
