"""A shopper simulator (SYNTHETIC): made-up shoppers to meta-train and evaluate where no interaction log exists.

Every simulated shopper is labelled synthetic (ids ``sim-<split>-<n>``, ``Sessions.synthetic``). A
shopper's utility for an item sums, on standardised scales:

- attribute tastes: a favourite category, metal, stone and/or price band (each present or not);
- a region of the embedding space: closeness to one or two anchor items they are drawn to;
- popularity bias: items that are shown and bought more often, shared by all shoppers of a world;
- when the session starts from a search, closeness to that search's vector;

and they click items in order of utility plus Gumbel noise. Skips are items the shop showed them
(popularity-weighted) that they did not care for. Shoppers of different splits (train, validation,
test) come from disjoint random streams, so no test shopper is ever trained on.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

from assistant.clip.embedder import normalize
from assistant.personalization.items import ATTRIBUTE_GROUPS, PRICE_BAND_VALUES, ItemTable, zscore
from assistant.personalization.tasks import Sessions

SPLITS = {"train": 0, "validation": 1, "test": 2}


@dataclass(frozen=True)
class SimulatorConfig:
    #: Chance that a shopper has a favourite value in each attribute group, and its weight range.
    taste_rate: Mapping[str, float] = field(
        default_factory=lambda: {"category": 0.5, "metal": 0.6, "stone": 0.5, "price_band": 0.5}
    )
    taste_weight: tuple[float, float] = (1.0, 3.0)
    embedding_weight: tuple[float, float] = (0.5, 2.0)
    popularity_weight: tuple[float, float] = (0.0, 1.5)
    #: Spread of the world's item popularity (log scale) and the Gumbel noise on every choice.
    popularity_spread: float = 1.0
    noise: float = 1.0
    #: Share of sessions that start from a search, and how much the search steers the clicks.
    query_rate: float = 0.3
    query_weight: tuple[float, float] = (1.0, 2.0)


@dataclass(frozen=True)
class ShopperTaste:
    shopper_id: str
    attribute_weights: Mapping[str, Mapping[str, float]]  # group -> value -> utility
    anchors: tuple[int, ...] = ()  # item rows whose neighbourhood they like
    embedding_weight: float = 0.0
    popularity_weight: float = 0.0


class ShopperSimulator:
    """Synthetic shoppers over one item table; the same seed gives the same world and shoppers."""

    def __init__(self, items: ItemTable, seed: int = 0, config: SimulatorConfig | None = None):
        self.items = items
        self.seed = seed
        self.config = config or SimulatorConfig()
        world = np.random.default_rng([seed, 99])
        self.popularity = world.normal(0.0, self.config.popularity_spread, len(items))
        self.exposure = _softmax(self.popularity)  # how often the shop shows each item
        # per group: the distinct values and each item's code into them, for fast utilities
        self._values: dict[str, list[str]] = {}
        self._codes: dict[str, np.ndarray] = {}
        for group in ATTRIBUTE_GROUPS:
            values, codes = np.unique(np.array(items.attribute(group), dtype=object), return_inverse=True)
            self._values[group], self._codes[group] = [str(v) for v in values], codes

    def shopper_rng(self, split: str, n: int) -> np.random.Generator:
        return np.random.default_rng([self.seed, SPLITS[split], n])

    def taste(self, split: str, n: int) -> ShopperTaste:
        """The n-th shopper of a split: random tastes drawn from the config's ranges."""
        rng = self.shopper_rng(split, n)
        c = self.config
        weights: dict[str, dict[str, float]] = {}
        for group in ATTRIBUTE_GROUPS:
            present = [v for v in self._values[group] if v]
            if present and rng.random() < c.taste_rate[group]:
                favourite = present[rng.integers(len(present))]
                weights[group] = {favourite: float(rng.uniform(*c.taste_weight))}
                if group == "price_band":  # neighbouring bands are half as welcome
                    b = PRICE_BAND_VALUES.index(favourite)
                    for near in (b - 1, b + 1):
                        if 0 <= near < len(PRICE_BAND_VALUES):
                            weights[group][PRICE_BAND_VALUES[near]] = weights[group][favourite] / 2
        anchors = tuple(int(a) for a in rng.choice(len(self.items), size=int(rng.integers(1, 3)), p=self.exposure))
        return ShopperTaste(
            shopper_id=f"sim-{split}-{n:05d}",
            attribute_weights=weights,
            anchors=anchors,
            embedding_weight=float(rng.uniform(*c.embedding_weight)),
            popularity_weight=float(rng.uniform(*c.popularity_weight)),
        )

    def utility(self, taste: ShopperTaste) -> np.ndarray:
        """Noise-free utility of every item for a shopper."""
        u = np.zeros(len(self.items))
        for group, prefs in taste.attribute_weights.items():
            u += np.array([prefs.get(v, 0.0) for v in self._values[group]])[self._codes[group]]
        if taste.anchors and taste.embedding_weight:
            closeness = (self.items.centred @ self.items.centred[list(taste.anchors)].T).max(axis=1)
            u += taste.embedding_weight * zscore(closeness)
        return u + taste.popularity_weight * zscore(self.popularity)

    def session(
        self, taste: ShopperTaste, rng: np.random.Generator, n_clicks: int, n_skips: int, with_query: bool
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
        """(clicked rows in click order, skipped rows, search vector or None) for one visit."""
        u = self.utility(taste)
        query = None
        if with_query:  # they search for something close to an item they would like
            intent = int(np.argmax(u + rng.gumbel(size=len(u)) * self.config.noise))
            query = normalize(self.items.vectors[intent] + 0.05 * rng.standard_normal(self.items.dim))
            u = u + rng.uniform(*self.config.query_weight) * self.items.query_similarity(query)
        perturbed = u + self.config.noise * rng.gumbel(size=len(u))
        clicks = np.argsort(-perturbed)[:n_clicks]
        clicks = clicks[rng.permutation(len(clicks))]  # which liked item they meet first is chance
        clicked = np.zeros(len(u), dtype=bool)
        clicked[clicks] = True
        shown = rng.choice(len(u), size=min(len(u), 6 * n_skips + 10), replace=False, p=self.exposure)
        passed_over = shown[~clicked[shown] & (u[shown] < np.median(u))]
        skips = passed_over[:n_skips].astype(np.int64)
        return clicks.astype(np.int64), skips, query

    def sessions(
        self, split: str, n_shoppers: int, n_clicks: int = 30, n_skips: int = 20, query_rate: float | None = None
    ) -> Sessions:
        """Sessions of the first ``n_shoppers`` shoppers of a split (synthetic)."""
        rate = self.config.query_rate if query_rate is None else query_rate
        ids, clicks, skips, queries = [], [], [], []
        for n in range(n_shoppers):
            taste = self.taste(split, n)
            rng = np.random.default_rng([self.seed, SPLITS[split], n, 1])
            c, s, q = self.session(taste, rng, n_clicks, n_skips, with_query=rng.random() < rate)
            ids.append(taste.shopper_id)
            clicks.append(c)
            skips.append(s)
            queries.append(q)
        return Sessions(ids, clicks, skips, queries, synthetic=True)


def _softmax(x: np.ndarray) -> np.ndarray:
    e = np.exp(x - x.max())
    return e / e.sum()
