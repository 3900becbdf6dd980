"""Retrieval quality of the search space on a labelled photo set (``eval search``).

Protocol. The set is deduplicated first (labelled.py: exact copies by content hash, near-duplicates by the
CSV's group column or a difference hash), so no query finds a copy of itself in the gallery. Every photo is
then a query against all the others (leave-one-out); a result is relevant when it has the query's category.
Image -> image reports P@1, P@10 and average precision per query, averaged by category and overall. Text ->
image ranks every photo against each category's prompt-ensemble text prototype (the zero-shot classifier's
vector), only where the model's text side is real. Ranking is exact cosine, as the engine's exact index and
its filtered searches rank; how closely the approximate index follows it is measured in bench/search.py.
Chance is the share of relevant photos in a query's gallery.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass

import numpy as np

from assistant.categories.labelled import LabelledImage, LabelledSetError, deduplicate, resolve_categories
from assistant.categories.prototypes import PrototypeBuilder, category_prompts
from assistant.categories.registry import CategoryRegistry
from assistant.clip.embedder import Embedder

TOP_K = 10


@dataclass
class QueryScores:
    """Per-query retrieval scores: precision at 1 and at k, and average precision."""

    p_at_1: np.ndarray
    p_at_k: np.ndarray
    average_precision: np.ndarray


def rank_scores(similarity: np.ndarray, relevant: np.ndarray, k: int = TOP_K) -> QueryScores:
    """Scores of each query row: ``similarity`` [Q, G] over a gallery, ``relevant`` [Q, G] booleans.

    Entries with similarity ``-inf`` (the query itself) are not part of that query's gallery."""
    order = np.argsort(-similarity, axis=1, kind="stable")
    hits = np.take_along_axis(relevant, order, axis=1) & np.isfinite(np.take_along_axis(similarity, order, axis=1))
    cumulative = np.cumsum(hits, axis=1)
    ranks = np.arange(1, hits.shape[1] + 1)
    n_relevant = hits.sum(axis=1)
    average_precision = np.where(
        n_relevant > 0, (hits * cumulative / ranks).sum(axis=1) / np.maximum(n_relevant, 1), 0.0
    )
    return QueryScores(hits[:, 0].astype(float), hits[:, :k].mean(axis=1), average_precision)


def _summary(scores: QueryScores, rows: np.ndarray, chance: float) -> dict:
    return {
        "queries": int(rows.sum()),
        "p_at_1": round(float(scores.p_at_1[rows].mean()), 4),
        f"p_at_{TOP_K}": round(float(scores.p_at_k[rows].mean()), 4),
        "map": round(float(scores.average_precision[rows].mean()), 4),
        "chance": round(chance, 4),
    }


class SearchEvaluation:
    """Embeds a labelled photo set once and measures image -> image and text -> image retrieval by category."""

    def __init__(
        self,
        embedder: Embedder,
        items: list[LabelledImage],
        registry: CategoryRegistry | None = None,
        progress: Callable[[int, int], None] | None = None,
    ):
        self.embedder = embedder
        items, self.dedup = deduplicate(items)
        categories, label_map = resolve_categories([i.label for i in items], registry or CategoryRegistry.defaults())
        result = embedder.embed_images([i.path for i in items], progress=progress)
        self.unreadable = {str(items[i].path): message for i, message in result.failures.items()}
        self.items = [items[i] for i in result.ok]
        self.vectors = result.vectors
        self.categories = categories
        self.class_names = [c.name for c in categories]
        self.classes = np.array([self.class_names.index(label_map[i.label]) for i in self.items], dtype=int)
        if len(self.items) < 2 or np.bincount(self.classes).max() < 2:
            raise LabelledSetError("retrieval needs at least two photos of one category after deduplication")

    def run(self) -> dict:
        return {
            "model": self.embedder.spec.name,
            "dataset": {**asdict(self.dedup), "unreadable": self.unreadable, "photos": len(self.items)},
            "text_side_real": not self.embedder.spec.image_only,
            "image_to_image": self.image_to_image(),
            "text_to_image": None if self.embedder.spec.image_only else self.text_to_image(),
        }

    def _by_category(self, scores: QueryScores, query_classes: np.ndarray, leave_one_out: bool) -> dict:
        """Scores averaged over each category's queries, over all queries, and over categories (macro)."""
        counts = np.bincount(self.classes, minlength=len(self.class_names))
        gallery = len(self.items) - leave_one_out
        per_category = {
            name: _summary(scores, query_classes == c, (counts[c] - leave_one_out) / gallery)
            for c, name in enumerate(self.class_names)
            if (query_classes == c).any()
        }
        chance = float(np.mean([(counts[c] - leave_one_out) / gallery for c in query_classes]))
        overall = _summary(scores, np.ones(len(query_classes), dtype=bool), chance)
        macro = {key: round(float(np.mean([v[key] for v in per_category.values()])), 4) for key in ("p_at_1", "map")}
        return {**overall, "p_at_1_macro": macro["p_at_1"], "map_macro": macro["map"], "per_category": per_category}

    def image_to_image(self) -> dict:
        """Every photo queries all the others; relevant = same category."""
        similarity = self.vectors @ self.vectors.T
        np.fill_diagonal(similarity, -np.inf)
        relevant = self.classes[:, None] == self.classes[None, :]
        scores = rank_scores(similarity, relevant)
        return self._by_category(scores, self.classes, leave_one_out=True)

    def text_to_image(self) -> dict:
        """Each category's prompt ensemble ranks every photo; relevant = photos of that category."""
        builder = PrototypeBuilder(self.embedder)
        present = sorted(set(self.classes.tolist()))
        text = np.stack([builder.text_prototype(category_prompts(self.categories[c])) for c in present])
        query_classes = np.array(present)
        relevant = query_classes[:, None] == self.classes[None, :]
        scores = rank_scores(text @ self.vectors.T, relevant)
        return self._by_category(scores, query_classes, leave_one_out=False)
