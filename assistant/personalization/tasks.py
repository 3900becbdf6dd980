"""Shoppers as few-shot tasks: their first clicks (and skips) are the support set, later clicks the query set.

``Sessions`` holds shoppers' interactions as item rows of an ``ItemTable``, from the simulator or an event
log; ``TaskBatch`` is a padded tensor batch of tasks that the MAML loop maps over with ``vmap``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from assistant.personalization.items import ItemTable

#: Most clicks a shopper's state adapts on; older clicks are dropped at serving time.
MAX_SUPPORT_CLICKS = 20
#: Held-out clicks per shopper that the outer (meta) loss and the evaluation score.
QUERY_CLICKS = 10


@dataclass
class Sessions:
    """Per shopper: clicked item rows in time order, skipped (shown, not clicked) rows, an optional query vector."""

    shopper_ids: list[str]
    clicks: list[np.ndarray]
    skips: list[np.ndarray]
    queries: list[np.ndarray | None]
    synthetic: bool

    def __len__(self) -> int:
        return len(self.shopper_ids)

    def subset(self, rows: Sequence[int]) -> Sessions:
        return Sessions(
            [self.shopper_ids[r] for r in rows],
            [self.clicks[r] for r in rows],
            [self.skips[r] for r in rows],
            [self.queries[r] for r in rows],
            self.synthetic,
        )

    def with_at_least(self, n_clicks: int) -> Sessions:
        """The shoppers with at least this many distinct clicks."""
        return self.subset([r for r, c in enumerate(self.clicks) if len(c) >= n_clicks])


@dataclass
class TaskBatch:
    positives: torch.Tensor  # long [B, P] support clicks (padded)
    positive_mask: torch.Tensor  # float [B, P]
    skips: torch.Tensor  # long [B, S] support skips (padded)
    skip_mask: torch.Tensor  # float [B, S]
    log_weights: torch.Tensor  # float [B, n] log(skip weight) on skipped items, else 0
    query_positives: torch.Tensor  # long [B, Q] held-out clicks (padded)
    query_mask: torch.Tensor  # float [B, Q]
    candidate_mask: torch.Tensor  # bool [B, n] items that may be ranked (support clicks excluded)
    query_similarity: torch.Tensor  # float [B, n] standardised similarity to the shopper's search, or 0

    def __len__(self) -> int:
        return self.positives.shape[0]


def _pad(rows: Sequence[np.ndarray]) -> tuple[torch.Tensor, torch.Tensor]:
    width = max(1, max((len(r) for r in rows), default=0))
    index = np.zeros((len(rows), width), dtype=np.int64)
    mask = np.zeros((len(rows), width), dtype=np.float32)
    for n, r in enumerate(rows):
        index[n, : len(r)] = r
        mask[n, : len(r)] = 1.0
    return torch.from_numpy(index), torch.from_numpy(mask)


def make_batch(
    items: ItemTable,
    support: Sequence[np.ndarray],
    skips: Sequence[np.ndarray],
    held_out: Sequence[np.ndarray],
    excluded: Sequence[np.ndarray],
    query_similarity: np.ndarray,
    skip_weight: float,
) -> TaskBatch:
    """Pad per-task index lists into tensors; ``excluded`` items are never ranked (nor scored as held-out).

    ``query_similarity`` [tasks, n] is each task's standardised similarity to its search (zeros: none).
    """
    n = len(items)
    positives, positive_mask = _pad(support)
    skip_index, skip_mask = _pad(skips)
    query_positives, query_mask = _pad(held_out)
    log_weights = np.zeros((len(support), n), dtype=np.float32)
    candidates = np.ones((len(support), n), dtype=bool)
    for t, (skipped, gone) in enumerate(zip(skips, excluded)):
        log_weights[t, skipped] = math.log(skip_weight)
        candidates[t, gone] = False
    return TaskBatch(
        positives=positives,
        positive_mask=positive_mask,
        skips=skip_index,
        skip_mask=skip_mask,
        log_weights=torch.from_numpy(log_weights),
        query_positives=query_positives,
        query_mask=query_mask,
        candidate_mask=torch.from_numpy(candidates),
        query_similarity=torch.as_tensor(query_similarity, dtype=torch.float32),
    )


def query_similarities(items: ItemTable, queries: Sequence[np.ndarray | None]) -> np.ndarray:
    """[len(queries), n] standardised similarity of every item to each query (zeros where there is none)."""
    if not len(queries):
        return np.zeros((0, len(items)), np.float32)
    return np.stack([items.query_similarity(q) for q in queries])


def training_batch(
    items: ItemTable, sessions: Sessions, rng: np.random.Generator, batch_size: int, skip_weight: float
) -> TaskBatch:
    """Random shoppers, each cut at a random number of support clicks (1 .. 20) with up to as many skips."""
    rows = rng.choice(len(sessions), size=min(batch_size, len(sessions)), replace=False)
    support, skips, held_out, queries = [], [], [], []
    for r in rows:
        clicks = sessions.clicks[r]
        k = int(rng.integers(1, min(MAX_SUPPORT_CLICKS, len(clicks) - 1) + 1))
        n_skips = int(rng.integers(0, min(k, len(sessions.skips[r])) + 1))
        support.append(clicks[:k])
        skips.append(sessions.skips[r][:n_skips])
        held_out.append(clicks[k : k + QUERY_CLICKS])
        queries.append(sessions.queries[r])
    return make_batch(items, support, skips, held_out, support, query_similarities(items, queries), skip_weight)


def evaluation_batch(items: ItemTable, sessions: Sessions, k: int, k_max: int, skip_weight: float) -> TaskBatch:
    """Every shopper with ``k`` support clicks and ``k`` skips; held-out clicks are those after ``k_max``.

    The same held-out clicks and candidates (all items but the first ``k_max`` clicks) are used for every
    k, so results across k differ only in how much the method was told.
    """
    support = [c[:k] for c in sessions.clicks]
    skips = [s[:k] for s in sessions.skips]
    held_out = [c[k_max : k_max + QUERY_CLICKS] for c in sessions.clicks]
    excluded = [c[:k_max] for c in sessions.clicks]
    return make_batch(
        items, support, skips, held_out, excluded, query_similarities(items, sessions.queries), skip_weight
    )
