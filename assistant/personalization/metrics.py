"""Ranking metrics of held-out clicks: nDCG@10, HR@10, MRR per shopper, and their means with 95% intervals."""

from __future__ import annotations

import math

import numpy as np
import torch

from assistant.personalization.tasks import TaskBatch

METRICS = ("ndcg@10", "hr@10", "mrr")
CUTOFF = 10


def ranking_metrics(scores: torch.Tensor, batch: TaskBatch) -> dict[str, np.ndarray]:
    """Per-shopper nDCG@10, HR@10 and MRR of the held-out clicks among the candidates."""
    scores = scores.masked_fill(~batch.candidate_mask, -math.inf)
    relevant = torch.zeros_like(scores).scatter_(1, batch.query_positives, batch.query_mask)
    order = torch.argsort(scores, dim=1, descending=True, stable=True)
    ranked = relevant.gather(1, order)
    discounts = 1.0 / torch.log2(torch.arange(2, CUTOFF + 2, dtype=torch.float32))
    dcg = (ranked[:, :CUTOFF] * discounts).sum(1)
    n_relevant = ranked.sum(1).clamp(max=CUTOFF).long()
    ideal = torch.cumsum(discounts, 0)[(n_relevant - 1).clamp(min=0)]
    first = ranked.argmax(1)
    has_relevant = ranked.sum(1) > 0
    return {
        "ndcg@10": torch.where(has_relevant, dcg / ideal, 0.0).numpy(),
        "hr@10": (ranked[:, :CUTOFF].sum(1) > 0).float().numpy(),
        "mrr": torch.where(has_relevant, 1.0 / (first + 1).float(), 0.0).numpy(),
    }


def mean_ci95(values: np.ndarray) -> tuple[float, float, float]:
    """Mean and normal-approximation 95% interval of the mean."""
    values = np.asarray(values, dtype=np.float64)
    half = 1.96 * values.std(ddof=1) / math.sqrt(len(values)) if len(values) > 1 else float("nan")
    return float(values.mean()), float(values.mean() - half), float(values.mean() + half)


def mean_ndcg(ranker, batches: list[TaskBatch]) -> float:
    """Mean nDCG@10 of a ranker (anything with ``scores(batch)``) over several task batches."""
    return float(np.mean([ranking_metrics(ranker.scores(b), b)["ndcg@10"].mean() for b in batches]))
