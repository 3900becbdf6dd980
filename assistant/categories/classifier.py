"""Classify vectors against prototypes held in a FAISS index: softmax probabilities, hierarchy, "unknown".

Probabilities are CLIP's: softmax over ``logit_scale * cosine``, with the model's learned logit scale
(100 for pretrained CLIP). A category's probability includes its sub-categories' ("stud" counts for
"earring"); a product gets the most specific category whose probability reaches the threshold, and
"unknown" when none does, so that new kinds of product are not forced into old categories.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass

import faiss
import numpy as np

from assistant.categories.registry import UNKNOWN
from assistant.clip.embedder import Embedder, normalize

MAX_LOGIT_SCALE = 100.0


def clip_logit_scale(embedder: Embedder) -> float:
    """The temperature CLIP was trained with (exp of its learned log scale, capped at 100 as in training)."""
    scale = getattr(embedder.model, "logit_scale", None)
    return min(MAX_LOGIT_SCALE, float(scale.exp().item())) if scale is not None else MAX_LOGIT_SCALE


def softmax(logits: np.ndarray) -> np.ndarray:
    logits = np.asarray(logits, dtype=np.float64)
    shifted = np.exp(logits - logits.max(axis=-1, keepdims=True))
    return (shifted / shifted.sum(axis=-1, keepdims=True)).astype(np.float32)


class LabelSet:
    """Named prototypes (unit rows) in a FAISS inner-product index, with parent links and their scoring.

    A vector's logit for label j is ``logit_scale * cos(q, prototype_j) + bias_j``, where ``q`` is the
    vector itself, or ``normalize(vector * query_gain)`` when a meta-trained head supplies a gain.
    """

    def __init__(
        self,
        keys: Sequence[str],
        vectors: np.ndarray,
        parents: dict[str, str | None] | None = None,
        logit_scale: float = MAX_LOGIT_SCALE,
        bias: np.ndarray | None = None,
        query_gain: np.ndarray | None = None,
    ):
        self.keys = list(keys)
        self.vectors = np.ascontiguousarray(np.atleast_2d(vectors), dtype=np.float32)
        if len(self.keys) != len(self.vectors) or len(set(self.keys)) != len(self.keys):
            raise ValueError("a label set needs one vector per distinct key")
        self.parents = {k: (parents or {}).get(k) for k in self.keys}
        self.logit_scale = float(logit_scale)
        self.bias = np.zeros(len(self.keys), np.float32) if bias is None else np.asarray(bias, np.float32)
        self.query_gain = None if query_gain is None else np.asarray(query_gain, np.float32)
        self.index = faiss.IndexFlatIP(self.vectors.shape[1])
        self.index.add(self.vectors)

    def column_fingerprints(self) -> list[str]:
        """One digest per prototype: a column of cosines is stale exactly when its prototype changed."""
        return [hashlib.sha256(v.tobytes()).hexdigest()[:24] for v in self.vectors]

    def query_fingerprint(self) -> str:
        """Digest of the query transform: when it changes, every stored cosine is stale."""
        return "identity" if self.query_gain is None else hashlib.sha256(self.query_gain.tobytes()).hexdigest()[:24]

    def prepare(self, vectors: np.ndarray) -> np.ndarray:
        queries = np.ascontiguousarray(np.atleast_2d(vectors), dtype=np.float32)
        return queries if self.query_gain is None else normalize(queries * self.query_gain)

    def __len__(self) -> int:
        return len(self.keys)

    @property
    def dim(self) -> int:
        return self.vectors.shape[1]

    def position(self, key: str) -> int:
        return self.keys.index(key)

    def similarities(self, vectors: np.ndarray) -> np.ndarray:
        """Cosine of every (prepared) vector to every prototype, [n, len(self)] in key order (one FAISS search)."""
        queries = self.prepare(vectors)
        out = np.zeros((len(queries), len(self)), dtype=np.float32)
        if len(self) and len(queries):
            scores, positions = self.index.search(queries, len(self))
            np.put_along_axis(out, positions, scores, axis=1)
        return out

    def nearest(self, prototype: np.ndarray, k: int = 1) -> list[tuple[str, float]]:
        """The labels whose prototypes are closest to another prototype (same space, no query transform)."""
        if not len(self):
            return []
        scores, positions = self.index.search(np.atleast_2d(prototype).astype(np.float32), min(k, len(self)))
        return [(self.keys[p], float(s)) for p, s in zip(positions[0], scores[0])]

    @property
    def hierarchy(self) -> Hierarchy:
        return Hierarchy(self.keys, self.parents)


class Hierarchy:
    """Labels with parent links, as matrices: ``ancestry[j, i] = 1`` when label i is label j or one of
    its ancestors; ``depth`` counts a label's ancestors among the labels (0 for roots)."""

    def __init__(self, keys: Sequence[str], parents: dict[str, str | None] | None = None):
        self.keys = list(keys)
        parents = parents or {}
        positions = {key: i for i, key in enumerate(self.keys)}
        self.ancestry = np.zeros((len(self.keys), len(self.keys)), dtype=np.float32)
        for j, key in enumerate(self.keys):
            node = key
            while node in positions:
                self.ancestry[j, positions[node]] = 1.0
                node = parents.get(node)
        self.depth = self.ancestry.sum(axis=1) - 1


@dataclass
class Classification:
    """What a vector is: ``label`` (a key or "unknown"), its probability, the top keys on their own."""

    label: str
    probability: float
    top: list[tuple[str, float]]
    similarity: float

    @property
    def is_unknown(self) -> bool:
        return self.label == UNKNOWN

    def to_dict(self) -> dict:
        return {
            "label": self.label,
            "probability": round(self.probability, 6),
            "top": [{"label": k, "probability": round(p, 6)} for k, p in self.top],
            "similarity": round(self.similarity, 6),
        }


@dataclass
class Decisions:
    """Vectorised classification of n rows: label positions (-1 = unknown) and their probabilities."""

    probabilities: np.ndarray  # [n, C] per label, on its own
    label_index: np.ndarray  # [n] int, -1 for unknown
    label_probability: np.ndarray  # [n] probability of the chosen label with its sub-labels (best one when unknown)


class Classifier:
    """Softmax over a label set's logits, with its hierarchy and the unknown threshold."""

    def __init__(self, labels: LabelSet, unknown_below: float):
        if not 0.0 <= unknown_below <= 1.0:
            raise ValueError(f"the unknown threshold is a probability in [0, 1], got {unknown_below}")
        self.labels = labels
        self.keys = labels.keys
        self.hierarchy = labels.hierarchy
        self.unknown_below = float(unknown_below)

    def decide(self, similarities: np.ndarray) -> Decisions:
        """Pick, per row, the deepest label whose probability (with its sub-labels) reaches the threshold."""
        similarities = np.atleast_2d(similarities)
        n = len(similarities)
        if not len(self.keys):
            return Decisions(np.zeros((n, 0), np.float32), np.full(n, -1), np.zeros(n, np.float32))
        probabilities = softmax(self.labels.logit_scale * similarities + self.labels.bias)
        rolled = probabilities @ self.hierarchy.ancestry
        eligible = rolled >= self.unknown_below
        preference = np.where(eligible, 2.0 * self.hierarchy.depth + rolled, -1.0)
        choice = preference.argmax(axis=1)
        known = eligible[np.arange(n), choice]
        label_probability = np.where(known, rolled[np.arange(n), choice], rolled.max(axis=1))
        return Decisions(probabilities, np.where(known, choice, -1), label_probability.astype(np.float32))

    def explain(self, similarities: np.ndarray, top_k: int = 3) -> list[Classification]:
        similarities = np.atleast_2d(similarities)
        decisions = self.decide(similarities)
        out = []
        for row, (probs, choice, prob) in enumerate(
            zip(decisions.probabilities, decisions.label_index, decisions.label_probability)
        ):
            order = np.argsort(-probs)[:top_k]
            out.append(
                Classification(
                    label=self.keys[choice] if choice >= 0 else UNKNOWN,
                    probability=float(prob),
                    top=[(self.keys[i], float(probs[i])) for i in order],
                    similarity=float(similarities[row].max()) if similarities.shape[1] else 0.0,
                )
            )
        return out

    def classify(self, vectors: np.ndarray, top_k: int = 3) -> list[Classification]:
        """Top labels with probabilities for each unit vector; "unknown" below the threshold."""
        return self.explain(self.labels.similarities(vectors), top_k)
