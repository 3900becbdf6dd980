"""The prototype blend: a category's text prior and its K example photos combined into one unit vector.

``blend(text, 1 - w; image mean, w)`` with ``w = K / (K + PRIOR_STRENGTH)``: the text prior counts as
PRIOR_STRENGTH photos, so one photo nudges the prototype and many photos dominate it. A leaf: the
labeller (``prototypes``) and the MAML head (``fewshot``, which meta-learns the prior strength) both
start from it, and neither imports the other.
"""

from __future__ import annotations

import numpy as np

from assistant.clip.embedder import blend, normalize

#: How many photos the text prior is worth in a blended prototype.
PRIOR_STRENGTH = 2.0


def mean_prototype(vectors: np.ndarray) -> np.ndarray:
    """The normalised mean of unit vectors: the direction they share."""
    vectors = np.atleast_2d(np.asarray(vectors, dtype=np.float32))
    if len(vectors) == 0:
        raise ValueError("a prototype needs at least one vector")
    return normalize(vectors.mean(axis=0))


def image_weight(shots: int, prior_strength: float = PRIOR_STRENGTH) -> float:
    """Share of the photo mean in a blended prototype: K / (K + prior_strength)."""
    if shots < 0 or prior_strength < 0:
        raise ValueError("shots and prior strength must be non-negative")
    return 0.0 if shots == 0 else shots / (shots + prior_strength)


def blend_prototype(
    text_vector: np.ndarray, image_vectors: np.ndarray | None, prior_strength: float = PRIOR_STRENGTH
) -> np.ndarray:
    """Text prior blended with the mean of K example photo vectors (just the text when K = 0)."""
    shots = 0 if image_vectors is None else len(np.atleast_2d(image_vectors))
    if shots == 0:
        return normalize(text_vector)
    w = image_weight(shots, prior_strength)
    return blend([(normalize(text_vector), 1.0 - w), (mean_prototype(image_vectors), w)])
