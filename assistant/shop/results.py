"""Honest search results for shoppers: which hits are close matches, how many there are, and pages of them.

A search always has nearest products, even for "xyzzy qwerty"; only some of them *match*. What counts
as a close match is calibrated on the catalog itself: a set of nonsense queries of the same kind as the
shopper's (random letter strings for words, noise, flat colours and stripes for photos, and their blend at
the same weight for words with a photo) is searched in the catalog, and a hit matches when its score is
above the ``NONSENSE_QUANTILE`` quantile of the best scores those nonsense queries reach. So about one
nonsense query in twenty finds a "match", whatever the model and the catalog, and the cut moves with both.

Invariant: the threshold depends only on the catalog's vectors (its generation), the embedder and the kind
of query; the match count is exact up to ``MAX_COUNTED`` and says "more than" beyond it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageDraw

from assistant.catalog import Catalog, Filters, Hit
from assistant.clip.embedder import Embedder, blend

#: Share of nonsense queries whose best hit may still pass as a match.
NONSENSE_QUANTILE = 0.95
NONSENSE_QUERIES = 32
#: Matches counted exactly; beyond this the heading says "more than".
MAX_COUNTED = 240
#: Nearest pieces offered when nothing matches closely.
NEAREST_WHEN_NO_MATCH = 8
_LETTERS = "abcdefghijklmnopqrstuvwxyz"


def nonsense_words(n: int = NONSENSE_QUERIES, seed: int = 0) -> list[str]:
    """Pronounceable-looking strings that mean nothing: 'qorv blatex', 'zimuk'."""
    rng = np.random.default_rng(seed)
    words = []
    for _ in range(n):
        parts = ["".join(rng.choice(list(_LETTERS), size=rng.integers(4, 9))) for _ in range(rng.integers(1, 4))]
        words.append(" ".join(parts))
    return words


def nonsense_photos(n: int = NONSENSE_QUERIES, seed: int = 0, size: int = 224) -> list[Image.Image]:
    """Photos of nothing: coloured noise, flat colours, gradients and stripes."""
    rng = np.random.default_rng(seed)
    photos = []
    for i in range(n):
        kind = i % 4
        if kind == 0:
            pixels = rng.integers(0, 256, size=(size, size, 3), dtype=np.uint8)
            photos.append(Image.fromarray(pixels))
            continue
        colour = tuple(int(c) for c in rng.integers(0, 256, size=3))
        image = Image.new("RGB", (size, size), colour)
        if kind == 2:
            ramp = np.linspace(0, 1, size, dtype=np.float32)[None, :, None]
            image = Image.fromarray((np.asarray(image, np.float32) * ramp).astype(np.uint8))
        elif kind == 3:
            draw = ImageDraw.Draw(image)
            other = tuple(int(c) for c in rng.integers(0, 256, size=3))
            step = int(rng.integers(8, 40))
            for x in range(0, size, 2 * step):
                draw.rectangle([x, 0, x + step, size], fill=other)
        photos.append(image)
    return photos


@dataclass(frozen=True)
class NonsenseQueries:
    """Unit vectors of nonsense word and photo queries in one embedder's space (computed once per model)."""

    words: np.ndarray
    photos: np.ndarray

    @classmethod
    def embed(cls, embedder: Embedder, n: int = NONSENSE_QUERIES) -> NonsenseQueries:
        return cls(
            embedder.embed_texts(nonsense_words(n)), embedder.embed_images(nonsense_photos(n), num_workers=0).vectors
        )

    def like(self, has_words: bool, has_photo: bool, text_weight: float) -> np.ndarray:
        """Nonsense queries of the shopper's kind: words, a photo, or both blended at the same weight."""
        if has_words and has_photo:
            return np.stack(
                [blend([(w, text_weight), (p, 1.0 - text_weight)]) for w, p in zip(self.words, self.photos)]
            )
        return self.words if has_words else self.photos


def match_threshold(catalog: Catalog, nonsense: np.ndarray, quantile: float = NONSENSE_QUANTILE) -> float:
    """The score a hit must beat to be a close match: the quantile of nonsense queries' best scores."""
    best = [hits[0].score for hits in (catalog.search_vector(v, k=1) for v in nonsense) if hits]
    return float(np.quantile(best, quantile)) if best else float("inf")


@dataclass(frozen=True)
class Results:
    """One search's answer: the close matches (best first) and their count, or the nearest when none match."""

    matches: list[Hit]
    nearest: list[Hit]
    #: True when there were more than MAX_COUNTED matches (the count is then a lower bound).
    more_than: bool = False

    @property
    def count(self) -> int:
        return len(self.matches)

    @property
    def close_match(self) -> bool:
        return bool(self.matches)


def search_results(
    catalog: Catalog,
    query: np.ndarray,
    threshold: float,
    filters: Filters | None = None,
    max_counted: int = MAX_COUNTED,
) -> Results:
    """Every close match (up to max_counted) among the products the filters allow, or the nearest few."""
    hits = catalog.search_vector(query, k=max_counted + 1, filters=filters)
    matches = [h for h in hits if h.score > threshold]
    if not matches:
        return Results([], hits[:NEAREST_WHEN_NO_MATCH])
    return Results(matches[:max_counted], [], more_than=len(matches) > max_counted)


@dataclass
class Listing:
    """What a results grid shows: an order fixed when the search (its ``signature``) was made, and how much
    of it is shown. Likes and passes never reorder it, so nothing moves under the shopper's finger; a new
    search, filter or ordering makes a new listing, and *Show more* only appends."""

    signature: tuple
    ids: list[int]
    page_size: int
    #: What the heading says: (message key, count or None), translated when shown.
    summary: tuple[str, int | None] = ("", None)
    shown: int = 0

    def __post_init__(self) -> None:
        self.shown = self.shown or self.page_size

    def visible(self) -> list[int]:
        return self.ids[: self.shown]

    def remaining(self) -> int:
        return max(0, len(self.ids) - self.shown)

    def show_more(self) -> None:
        self.shown = min(len(self.ids), self.shown + self.page_size)
