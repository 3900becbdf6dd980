"""The catalog as the personaliser sees it: product ids, CLIP vectors, attributes and catalog-relative price bands.

Everything the ranking head, the simulator, the baselines and the explanations read about an item comes
from one ``ItemTable``, built from a ``Catalog`` (or generated, labelled synthetic, for quick tests).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import torch

from assistant.catalog import CatalogError
from assistant.clip.embedder import normalize

#: Attribute groups the head sees as one-hot codes (unknown values share an "other" slot per group).
ATTRIBUTE_GROUPS = ("category", "metal", "stone", "price_band")
#: Prices fall into this many catalog-relative bands (quantiles), so "your price range" means the same
#: thing in a catalog of silver charms and one of diamond rings.
PRICE_BANDS = 5
PRICE_BAND_VALUES = tuple(f"price band {b + 1} of {PRICE_BANDS}" for b in range(PRICE_BANDS))
#: Values that mean "nothing to say" in a shop's attribute columns.
EMPTY_VALUES = ("", "none", "n/a", "na", "-")


@dataclass(frozen=True)
class AttributeVocab:
    """Known values per attribute group, fixed at training time and stored with the checkpoint."""

    values: Mapping[str, tuple[str, ...]]

    @classmethod
    def from_items(cls, items: ItemTable) -> AttributeVocab:
        return cls(
            {
                "category": tuple(sorted(set(items.category) - set(EMPTY_VALUES))),
                "metal": tuple(sorted(set(items.metal) - set(EMPTY_VALUES))),
                "stone": tuple(sorted(set(items.stone) - set(EMPTY_VALUES))),
                "price_band": PRICE_BAND_VALUES,
            }
        )

    @classmethod
    def from_dict(cls, data: Mapping[str, Sequence[str]]) -> AttributeVocab:
        return cls({group: tuple(data[group]) for group in ATTRIBUTE_GROUPS})

    def to_dict(self) -> dict[str, list[str]]:
        return {group: list(self.values[group]) for group in ATTRIBUTE_GROUPS}

    @property
    def width(self) -> int:
        """Columns of the one-hot block: each group's values plus its "other" slot."""
        return sum(len(self.values[g]) + 1 for g in ATTRIBUTE_GROUPS)

    def one_hot(self, items: ItemTable) -> np.ndarray:
        out = np.zeros((len(items), self.width), dtype=np.float32)
        offset = 0
        for group in ATTRIBUTE_GROUPS:
            slot = {value: n + 1 for n, value in enumerate(self.values[group])}
            codes = np.array([slot.get(v, 0) for v in items.attribute(group)], dtype=np.int64)
            out[np.arange(len(items)), offset + codes] = 1.0
            offset += len(self.values[group]) + 1
        return out


def price_bands(prices: np.ndarray) -> np.ndarray:
    """Catalog-relative price band (0 .. PRICE_BANDS-1) per item by quantile; -1 where the price is unknown."""
    bands = np.full(len(prices), -1, dtype=np.int64)
    known = np.isfinite(prices)
    if known.any():
        edges = np.quantile(prices[known], np.linspace(0, 1, PRICE_BANDS + 1)[1:-1])
        bands[known] = np.searchsorted(edges, prices[known], side="right")
    return bands


def zscore(values: np.ndarray, axis: int = -1) -> np.ndarray:
    """Standardise along an axis; a constant row becomes zeros rather than NaN."""
    values = np.asarray(values, dtype=np.float32)
    std = values.std(axis=axis, keepdims=True)
    return (values - values.mean(axis=axis, keepdims=True)) / np.maximum(std, 1e-6)


@dataclass
class ItemTable:
    """Items in a fixed order (their index is what sessions and models refer to)."""

    ids: np.ndarray  # int64 product ids
    skus: list[str]
    titles: list[str]
    vectors: np.ndarray  # float32 [n, dim] unit rows
    category: list[str]
    metal: list[str]
    stone: list[str]
    prices: np.ndarray  # float64, NaN when unknown
    synthetic: bool = False
    _index: dict[int, int] = field(default_factory=dict, repr=False)
    _attributes: dict[str, list[str]] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        self.ids = np.asarray(self.ids, dtype=np.int64)
        self.vectors = normalize(self.vectors)
        self.prices = np.asarray(self.prices, dtype=np.float64)
        self.category = [_clean(v) for v in self.category]
        self.metal = [_clean(v) for v in self.metal]
        self.stone = [_clean(v) for v in self.stone]
        self._index = {int(pid): n for n, pid in enumerate(self.ids)}
        self.price_band = price_bands(self.prices)
        self._attributes = {
            "category": self.category,
            "metal": self.metal,
            "stone": self.stone,
            "price_band": [PRICE_BAND_VALUES[b] if b >= 0 else "" for b in self.price_band],
        }
        # CLIP vectors of one catalog share a large common component; centring removes it so that
        # similarities spread out (cosine on centred vectors is what the simulator, centroid and reasons use).
        centred = self.vectors - self.vectors.mean(axis=0, keepdims=True)
        self.centred = normalize(centred)

    def __len__(self) -> int:
        return len(self.ids)

    @property
    def dim(self) -> int:
        return int(self.vectors.shape[1])

    def index_of(self, product_id: int) -> int:
        """Row of a product id; KeyError names the id when it is not in this table."""
        try:
            return self._index[int(product_id)]
        except KeyError:
            raise KeyError(f"product {product_id} is not in the catalog") from None

    def has(self, product_id: int) -> bool:
        return int(product_id) in self._index

    def subset(self, rows: np.ndarray) -> ItemTable:
        """These rows only, in this order (their centring is recomputed over the subset)."""
        rows = np.asarray(rows, dtype=np.int64)
        return ItemTable(
            ids=self.ids[rows],
            skus=[self.skus[r] for r in rows],
            titles=[self.titles[r] for r in rows],
            vectors=self.vectors[rows],
            category=[self.category[r] for r in rows],
            metal=[self.metal[r] for r in rows],
            stone=[self.stone[r] for r in rows],
            prices=self.prices[rows],
            synthetic=self.synthetic,
        )

    def attribute(self, group: str) -> list[str]:
        """Each item's value in an attribute group ("" when unknown)."""
        return self._attributes[group]

    def query_similarity(self, query_vector: np.ndarray | None) -> np.ndarray:
        """Standardised similarity of every item to a query vector (zeros without a query)."""
        if query_vector is None:
            return np.zeros(len(self), dtype=np.float32)
        query = normalize(np.asarray(query_vector, dtype=np.float32).reshape(1, -1))[0]
        if query.shape[0] != self.dim:
            raise ValueError(f"query vector has {query.shape[0]} dimensions, the catalog's vectors {self.dim}")
        return zscore(self.vectors @ query)

    def features(self, vocab: AttributeVocab, popularity: np.ndarray | None = None) -> torch.Tensor:
        """Head input per item: [centred CLIP vector * sqrt(dim), attribute one-hots, popularity z-score]."""
        pop = np.zeros(len(self), np.float32) if popularity is None else popularity_feature(popularity)
        parts = [self.centred * np.sqrt(self.dim), vocab.one_hot(self), pop[:, None]]
        return torch.from_numpy(np.concatenate(parts, axis=1).astype(np.float32))

    @classmethod
    def from_catalog(cls, catalog) -> ItemTable:
        """Every product of a ``Catalog`` with its stored vector; raises ValueError on an empty catalog."""
        ids, vectors = catalog.vectors()
        if len(ids) == 0:
            raise CatalogError(f"catalog {catalog.root} has no products to personalise; ingest some first")
        products = {p.id: p for p in catalog.products()}
        rows = [products[int(i)] for i in ids]
        return cls(
            ids=ids,
            skus=[p.sku for p in rows],
            titles=[p.title for p in rows],
            vectors=vectors,
            category=[p.category for p in rows],
            metal=[p.metal for p in rows],
            stone=[p.stone for p in rows],
            prices=np.array([np.nan if p.price is None else p.price for p in rows], dtype=np.float64),
            synthetic=all(p.sku.startswith("SYN-") for p in rows),
        )

    @classmethod
    def synthetic_items(cls, n: int = 500, dim: int = 64, seed: int = 0, noise: float = 1.0) -> ItemTable:
        """Synthetic items (labelled so) without any model: vectors cluster by attribute, like CLIP's do.

        Rows and prices come from the synthetic catalog generator; each attribute value gets a random
        direction and an item's vector is the sum of its values' directions plus noise.
        """
        from assistant.catalog.synthetic import synthetic_rows

        rows = synthetic_rows(n, seed)
        rng = np.random.default_rng(seed)
        directions: dict[tuple[str, str], np.ndarray] = {}

        def direction(group: str, value: str) -> np.ndarray:
            if (group, value) not in directions:
                directions[(group, value)] = rng.standard_normal(dim)
            return directions[(group, value)]

        vectors = np.stack(
            [
                sum(direction(g, r[g]) for g in ("category", "metal", "stone", "style"))
                + noise * rng.standard_normal(dim)
                for r in rows
            ]
        )
        return cls(
            ids=np.arange(1, n + 1),
            skus=[r["sku"] for r in rows],
            titles=[r["title"] for r in rows],
            vectors=vectors,
            category=[r["category"] for r in rows],
            metal=[r["metal"] for r in rows],
            stone=[r["stone"] for r in rows],
            prices=np.array([float(r["price"]) for r in rows]),
            synthetic=True,
        )


def popularity_feature(counts: np.ndarray) -> np.ndarray:
    """log(1 + clicks), standardised; all zeros when no popularity is known."""
    counts = np.asarray(counts, dtype=np.float32)
    if not counts.any():
        return np.zeros_like(counts)
    return zscore(np.log1p(counts))


def _clean(value: str | None) -> str:
    return " ".join((value or "").lower().split())
