"""N-way K-shot episodes over a labelled pool of vectors, for meta-training and few-shot evaluation."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from assistant.errors import TrainingDataError


@dataclass(frozen=True)
class Episode:
    """Item indices of one task. Episode labels 0..N-1 follow ``classes``; support is grouped by class."""

    classes: np.ndarray  # [N] dataset class indices
    support: np.ndarray  # [N*K] item indices
    support_labels: np.ndarray  # [N*K] in 0..N-1
    query: np.ndarray  # [N*Q] item indices
    query_labels: np.ndarray  # [N*Q] in 0..N-1

    @property
    def items(self) -> np.ndarray:
        return np.concatenate([self.support, self.query])


class EpisodeSampler:
    """Samples episodes from the items of ``classes`` only: the pool a sampler is given is all it can see."""

    def __init__(
        self,
        item_classes: np.ndarray,
        classes: Sequence[int],
        ways: int,
        shots: int,
        queries: int,
        seed: int = 0,
        always_include: Sequence[int] = (),
    ):
        self.item_classes = np.asarray(item_classes)
        self.members = {int(c): np.flatnonzero(self.item_classes == c) for c in classes}
        short = [c for c, items in self.members.items() if len(items) < shots + queries]
        if short:
            raise TrainingDataError(
                f"classes {short} have fewer than {shots + queries} items ({shots} shots + {queries} queries)"
            )
        if not 2 <= ways <= len(self.members):
            raise TrainingDataError(
                f"{ways}-way episodes need at least {ways} classes (and ways >= 2); the pool has {len(self.members)}"
            )
        missing = set(always_include) - set(self.members)
        if missing or len(always_include) > ways:
            raise TrainingDataError(
                f"always_include {sorted(always_include)} must be classes of the pool, at most {ways}"
            )
        self.ways, self.shots, self.queries = ways, shots, queries
        self.always_include = [int(c) for c in always_include]
        self.rng = np.random.default_rng(seed)

    def sample(self) -> Episode:
        others = [c for c in self.members if c not in self.always_include]
        chosen = (
            self.always_include + self.rng.choice(others, self.ways - len(self.always_include), replace=False).tolist()
        )
        classes = np.array(self.rng.permutation(chosen))
        support, query = [], []
        for items in (self.members[int(c)] for c in classes):
            picked = self.rng.choice(items, self.shots + self.queries, replace=False)
            support.append(picked[: self.shots])
            query.append(picked[self.shots :])
        return Episode(
            classes=classes,
            support=np.concatenate(support),
            support_labels=np.repeat(np.arange(self.ways), self.shots),
            query=np.concatenate(query),
            query_labels=np.repeat(np.arange(self.ways), self.queries),
        )

    def batch(self, n: int) -> list[Episode]:
        return [self.sample() for _ in range(n)]
