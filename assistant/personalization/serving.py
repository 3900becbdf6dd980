"""Serving: a per-shopper session that adapts to likes and skips and re-ranks the catalog with reasons.

``Personalizer.for_catalog(catalog)`` loads ``<catalog>/personalizer.pt`` (written by
``python -m assistant train personalizer``) and ranks with the meta-learned head: its prior before any
click, adapted by the learnt inner loop after each like or skip. Before a checkpoint exists it falls
back to the centroid method (similarity to the mean of the liked items), which needs no training.
Item features and their embeddings are computed once per catalog generation and shared by sessions.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import numpy as np
import torch

from assistant.personalization.checkpoint import (
    CheckpointError,
    PersonalizerCheckpoint,
    default_checkpoint_path,
    load_checkpoint,
)
from assistant.personalization.explain import Explainer
from assistant.personalization.items import ItemTable, popularity_feature, zscore
from assistant.personalization.maml import adapted_users, head_state, single_threaded
from assistant.personalization.tasks import MAX_SUPPORT_CLICKS, make_batch

DEFAULT_RESULTS = 20


class Ranked(NamedTuple):
    product_id: int
    score: float
    reasons: list[str]


@dataclass
class CatalogState:
    """What ranking needs from one catalog generation."""

    generation: int
    items: ItemTable
    embeddings: torch.Tensor | None  # head item embeddings (None for the centroid method)
    popularity: np.ndarray  # clicks per item from a real log, zeros when unknown
    explainer: Explainer


class Personalizer:
    """Ranks one catalog for many shoppers; thread-safe, sessions are cheap."""

    def __init__(self, model_spec: str, checkpoint: PersonalizerCheckpoint | None = None):
        self.model_spec = model_spec
        self.checkpoint = checkpoint
        self._lock = threading.Lock()
        self._states: dict[str, CatalogState] = {}

    @property
    def method(self) -> str:
        """ "maml" with a trained checkpoint, "centroid" before one exists."""
        return "maml" if self.checkpoint is not None else "centroid"

    @property
    def description(self) -> str:
        if self.checkpoint is None:
            return "no personaliser trained yet: ranking by similarity to your likes (centroid method)"
        source = self.checkpoint.trained_on.get("shoppers_source", "unknown shoppers")
        return f"meta-learned (MAML) ranking head trained on {source}, {self.checkpoint.created_at}"

    @classmethod
    def load(cls, checkpoint_path: str | Path, model_spec: str) -> Personalizer:
        """The head of a checkpoint; raises CheckpointModelMismatch for a checkpoint of another model."""
        return cls(model_spec, load_checkpoint(checkpoint_path, model_spec))

    @classmethod
    def prior(cls, model_spec: str) -> Personalizer:
        """The fallback before any training: the centroid method."""
        return cls(model_spec, None)

    @classmethod
    def for_catalog(cls, catalog, checkpoint_path: str | Path | None = None) -> Personalizer:
        """The catalog's own checkpoint when there is one, else the centroid fallback."""
        path = Path(checkpoint_path) if checkpoint_path else default_checkpoint_path(catalog.root)
        if path.exists():
            return cls.load(path, catalog.model_spec)
        return cls.prior(catalog.model_spec)

    def session(self, catalog) -> ShopperSession:
        return ShopperSession(self, catalog)

    def state(self, catalog) -> CatalogState:
        """Item table, features and embeddings for the catalog as it is now (rebuilt after any write)."""
        if catalog.model_spec != self.model_spec:
            raise CheckpointError(
                f"this personaliser is for model {self.model_spec!r}, "
                f"the catalog {catalog.root} for {catalog.model_spec!r}"
            )
        generation = catalog.generation
        key = str(Path(catalog.root).resolve())
        with self._lock:
            state = self._states.get(key)
            if state is None or state.generation != generation:
                state = self._build_state(catalog, generation)
                self._states[key] = state
            return state

    def _build_state(self, catalog, generation: int) -> CatalogState:
        items = ItemTable.from_catalog(catalog)
        popularity = np.zeros(len(items), dtype=np.float32)
        embeddings = None
        if self.checkpoint is not None:
            if self.checkpoint.dim != items.dim:
                raise CheckpointError(
                    f"the personaliser checkpoint expects {self.checkpoint.dim}-dim vectors, "
                    f"the catalog has {items.dim}"
                )
            popularity = np.array([self.checkpoint.popularity.get(s, 0.0) for s in items.skus], dtype=np.float32)
            with torch.no_grad():
                embeddings = self.checkpoint.head(items.features(self.checkpoint.vocab, popularity))
        return CatalogState(generation, items, embeddings, popularity, Explainer(items, popularity))

    def scores(
        self, state: CatalogState, liked: Sequence[int], skipped: Sequence[int], similarity: np.ndarray
    ) -> np.ndarray:
        """Score of every item row for a shopper with these liked and skipped rows and standardised
        similarity to their search (``ItemTable.query_similarity``; zeros without one)."""
        if self.checkpoint is None:
            return self._centroid_scores(state, liked, similarity)
        head = self.checkpoint.head
        params = head_state(head)
        with torch.no_grad(), single_threaded():
            if liked or skipped:
                none = np.zeros(0, np.int64)
                batch = make_batch(
                    state.items,
                    [np.array(liked, dtype=np.int64)],
                    [np.array(skipped, dtype=np.int64)],
                    [none],
                    [none],
                    similarity[None, :],
                    head.config.skip_weight,
                )
                user = adapted_users(head, params, state.embeddings, batch)[0]
            else:
                user = params["user"]
            scores = state.embeddings @ user + params["query_weight"] * torch.from_numpy(similarity)
        return scores.numpy()

    @staticmethod
    def _centroid_scores(state: CatalogState, liked: Sequence[int], similarity: np.ndarray) -> np.ndarray:
        if liked:
            centre = state.items.centred[list(liked)].sum(0)
            return zscore(state.items.centred @ centre) + similarity
        return popularity_feature(state.popularity) + similarity


class ShopperSession:
    """One shopper's likes and skips (in memory) and their personalised ranking."""

    def __init__(self, personalizer: Personalizer, catalog):
        self.personalizer = personalizer
        self.catalog = catalog
        self.likes: list[int] = []
        self.skips: list[int] = []
        self._cache: tuple[tuple, np.ndarray, np.ndarray] | None = None

    def _check(self, product_id: int) -> int:
        state = self.personalizer.state(self.catalog)
        if not state.items.has(product_id):
            raise KeyError(f"product {product_id} is not in the catalog")
        return int(product_id)

    def like(self, product_id: int) -> None:
        """The shopper tapped a product they like (liking again changes nothing; a skip becomes a like)."""
        product_id = self._check(product_id)
        if product_id in self.skips:
            self.skips.remove(product_id)
        if product_id not in self.likes:
            self.likes.append(product_id)

    def skip(self, product_id: int) -> None:
        """The shopper passed over a product (a like becomes a skip)."""
        product_id = self._check(product_id)
        if product_id in self.likes:
            self.likes.remove(product_id)
        if product_id not in self.skips:
            self.skips.append(product_id)

    def unlike(self, product_id: int) -> None:
        """Take a like back (unliking what is not liked changes nothing)."""
        if product_id in self.likes:
            self.likes.remove(product_id)

    def reset(self) -> None:
        """Forget this shopper: back to the prior."""
        self.likes.clear()
        self.skips.clear()
        self._cache = None

    def scores(self, query_vector: np.ndarray | None = None) -> tuple[CatalogState, np.ndarray, np.ndarray, list[int]]:
        """(catalog state, score per item row, query similarity per row, liked rows) for the current
        likes, skips and search; cached until one of them (or the catalog) changes."""
        state = self.personalizer.state(self.catalog)
        items = state.items
        self.likes = [p for p in self.likes if items.has(p)]  # products deleted since are forgotten
        self.skips = [p for p in self.skips if items.has(p)]
        liked = [items.index_of(p) for p in self.likes[-MAX_SUPPORT_CLICKS:]]
        skipped = [items.index_of(p) for p in self.skips[-MAX_SUPPORT_CLICKS:]]
        query_key = (
            None if query_vector is None else hashlib.sha1(np.asarray(query_vector, np.float32).tobytes()).hexdigest()
        )
        key = (state.generation, tuple(liked), tuple(skipped), query_key)
        if self._cache is None or self._cache[0] != key:
            similarity = items.query_similarity(query_vector)
            self._cache = (key, self.personalizer.scores(state, liked, skipped, similarity), similarity)
        return state, self._cache[1], self._cache[2], liked

    def rank(
        self,
        candidate_ids: Sequence[int] | None = None,
        query_vector: np.ndarray | None = None,
        k: int | None = DEFAULT_RESULTS,
        exclude_seen: bool = False,
    ) -> list[Ranked]:
        """The best ``k`` of the candidates (all products when None; unknown ids ignored), best first, with reasons.

        ``exclude_seen`` leaves out products the shopper already liked or skipped.
        """
        state, scores, similarity, liked = self.scores(query_vector)
        items = state.items
        if candidate_ids is None:
            rows = np.arange(len(items))
        else:
            rows = np.array([items.index_of(p) for p in candidate_ids if items.has(p)], dtype=np.int64)
        if exclude_seen and (self.likes or self.skips):
            seen = np.array([items.index_of(p) for p in self.likes + self.skips], dtype=np.int64)
            rows = rows[~np.isin(rows, seen)]
        if k is not None and k < len(rows):
            rows = rows[np.argpartition(-scores[rows], k)[:k]]
        rows = rows[np.argsort(-scores[rows], kind="stable")]
        reasons = state.explainer.reasons(rows, liked, similarity if query_vector is not None else None)
        return [Ranked(int(items.ids[r]), float(scores[r]), why) for r, why in zip(rows, reasons)]
