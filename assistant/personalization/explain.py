"""Reasons in words for a personalised ranking: what the shopper did that puts an item where it is.

Reasons rest on evidence the shopper can check (their own picks, their search), not on model internals:
"looks like the pearl earring you liked", "rose gold, like 3 of your picks", "in your price range",
"matches your search", and before any pick "popular with shoppers". Each has a strength; the strongest
few are shown.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from assistant.personalization.items import EMPTY_VALUES, ItemTable

#: An item "looks like" a pick when it is among this share of the catalog most similar to that pick.
LOOKS_LIKE_TOP_SHARE = 0.05
#: A liked price range is widened by this share on each side.
PRICE_SLACK = 0.15
#: Standardised query similarity from which an item "matches your search".
QUERY_MATCH_Z = 1.5
#: Share of the catalog, by popularity, that is "popular with shoppers".
POPULAR_TOP_SHARE = 0.1
ATTRIBUTE_REASON_GROUPS = ("metal", "stone", "category")


def product_phrase(items: ItemTable, row: int) -> str:
    """A short noun phrase for a product: "pearl earring", "rose gold ring", else its title."""
    category = items.category[row]
    stone = items.stone[row]
    if category and stone not in EMPTY_VALUES:
        return f"{stone} {category}"
    if category and items.metal[row]:
        return f"{items.metal[row]} {category}"
    return items.titles[row].strip() or items.skus[row]


def pick_count_words(value: str, count: int, picks: int) -> str:
    if picks == 1:
        return f"{value}, like your pick"
    if count == picks:
        return f"{value}, like all {picks} of your picks"
    return f"{value}, like {count} of your picks"


@dataclass
class Explainer:
    items: ItemTable
    popularity: np.ndarray | None = None
    max_reasons: int = 3
    _thresholds: dict[int, float] = field(default_factory=dict, repr=False)

    def _looks_like_threshold(self, liked_row: int) -> float:
        """Similarity above which an item is among the catalog's closest to this pick (cached per pick)."""
        if liked_row not in self._thresholds:
            similarity = self.items.centred @ self.items.centred[liked_row]
            self._thresholds[liked_row] = float(np.quantile(similarity, 1.0 - LOOKS_LIKE_TOP_SHARE))
        return self._thresholds[liked_row]

    def reasons(
        self, rows: Sequence[int], liked: Sequence[int], query_similarity: np.ndarray | None = None
    ) -> list[list[str]]:
        """The top reasons for each item row, given the liked item rows and the query similarity [n] (or None)."""
        liked = list(dict.fromkeys(int(r) for r in liked))
        rows = [int(r) for r in rows]
        similarity = self.items.centred[rows] @ self.items.centred[liked].T if liked else np.zeros((len(rows), 0))
        thresholds = np.array([self._looks_like_threshold(r) for r in liked])
        liked_prices = self.items.prices[liked] if liked else np.zeros(0)
        liked_prices = liked_prices[np.isfinite(liked_prices)]
        popular_from = None
        if not liked and self.popularity is not None and self.popularity.any():
            popular_from = float(np.quantile(self.popularity, 1.0 - POPULAR_TOP_SHARE))
        out = []
        for n, row in enumerate(rows):
            found: list[tuple[float, str]] = []
            if query_similarity is not None and query_similarity[row] >= QUERY_MATCH_Z:
                found.append((0.95, "matches your search"))
            others = [j for j, r in enumerate(liked) if r != row]
            if others:
                j = max(others, key=lambda j: similarity[n, j] - thresholds[j])
                if similarity[n, j] >= thresholds[j]:
                    found.append((0.9, f"looks like the {product_phrase(self.items, liked[j])} you liked"))
            found.extend(self._attribute_reasons(row, [liked[j] for j in others]))
            price = self.items.prices[row]
            if len(liked_prices) and np.isfinite(price):
                low, high = liked_prices.min() * (1 - PRICE_SLACK), liked_prices.max() * (1 + PRICE_SLACK)
                if low <= price <= high:
                    found.append((0.5, "in your price range"))
            if popular_from is not None and self.popularity[row] >= popular_from and self.popularity[row] > 0:
                found.append((0.3, "popular with shoppers"))
            found.sort(key=lambda f: -f[0])
            out.append([text for _, text in found[: self.max_reasons]])
        return out

    def _attribute_reasons(self, row: int, liked: list[int]) -> list[tuple[float, str]]:
        found = []
        for group in ATTRIBUTE_REASON_GROUPS:
            value = self.items.attribute(group)[row]
            if value in EMPTY_VALUES:
                continue
            count = sum(1 for r in liked if self.items.attribute(group)[r] == value)
            if count >= 2 or (count == 1 and len(liked) == 1):
                found.append((0.4 + 0.5 * count / len(liked), pick_count_words(value, count, len(liked))))
        return found
