"""Synthetic embedding sets for the search benchmark and tests: uniform on the sphere, or clustered like CLIP.

``clustered`` is a documented stand-in for CLIP image features until real ones can be fitted here. CLIP
features are not uniform: they sit in a narrow cone (any two photos have cosine ~0.4-0.5), gather by
category and style (same-category cosine ~0.6-0.7), and their variance is concentrated in a few dozen
directions (the spectrum decays like a power law). The mixture reproduces those three facts:

- a shared mean direction ``g`` and ``clusters`` (default 48) centres ``mu_j = normalize(CONE * g + r_j)``
  with ``r_j`` uniform on the sphere, so centres have cosine CONE^2 / (1 + CONE^2) ~ 0.69 with each other;
- cluster sizes from a Zipf law (a shop has many rings and few brooches);
- a point of cluster j is ``normalize(mu_j + s_j * e)``, where ``e`` is Gaussian noise of unit expected norm
  whose variance along a random orthonormal basis falls as 1 / (i + 1) (i = 0..dim-1), and the spread
  ``s_j`` is drawn uniformly from SPREAD per cluster: within a cluster, cosine 1 / (1 + s^2) ~ 0.5-0.8.

Queries are fresh draws from the same mixture (a shopper's photo is like the products, not one of them).
All draws are deterministic given the generator.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

CONE = 1.5
SPREAD = (0.5, 1.0)
DEFAULT_CLUSTERS = 48
ZIPF_EXPONENT = 1.0


def normalize_rows(vectors: np.ndarray) -> np.ndarray:
    vectors = np.asarray(vectors, dtype=np.float32)
    return vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)


def random_unit_vectors(rng: np.random.Generator, n: int, dim: int) -> np.ndarray:
    """Uniform on the sphere: no structure at all, the hardest case for approximate indexes."""
    return normalize_rows(rng.standard_normal((n, dim), dtype=np.float32))


@dataclass(frozen=True)
class SphereMixture:
    """Cluster centres, spreads, weights and the shared noise basis of a clustered embedding set."""

    centres: np.ndarray  # (clusters, dim) unit rows
    spreads: np.ndarray  # (clusters,)
    weights: np.ndarray  # (clusters,) summing to 1
    noise_basis: np.ndarray  # (dim, dim) orthonormal rows, scaled by the noise spectrum

    @classmethod
    def draw(cls, rng: np.random.Generator, dim: int, clusters: int = DEFAULT_CLUSTERS) -> SphereMixture:
        mean = random_unit_vectors(rng, 1, dim)[0]
        centres = normalize_rows(CONE * mean + random_unit_vectors(rng, clusters, dim))
        spreads = rng.uniform(*SPREAD, clusters).astype(np.float32)
        weights = 1.0 / np.arange(1, clusters + 1) ** ZIPF_EXPONENT
        basis, _ = np.linalg.qr(rng.standard_normal((dim, dim)))
        spectrum = 1.0 / np.arange(1, dim + 1)
        scale = np.sqrt(spectrum / spectrum.sum())  # E|noise|^2 = 1
        noise_basis = (basis.T * scale[:, None]).astype(np.float32)
        return cls(centres, spreads, rng.permutation(weights / weights.sum()), noise_basis)

    def sample(self, rng: np.random.Generator, n: int, chunk: int = 65_536) -> np.ndarray:
        """n unit vectors from the mixture (drawn in chunks, so 1M x 512 needs no temporary copies)."""
        dim = self.centres.shape[1]
        out = np.empty((n, dim), dtype=np.float32)
        labels = rng.choice(len(self.weights), size=n, p=self.weights)
        for start in range(0, n, chunk):
            part = labels[start : start + chunk]
            noise = rng.standard_normal((len(part), dim), dtype=np.float32) @ self.noise_basis
            out[start : start + chunk] = normalize_rows(self.centres[part] + self.spreads[part, None] * noise)
        return out


def clustered_unit_vectors(rng: np.random.Generator, n: int, dim: int, n_queries: int = 0):
    """(base vectors, queries) from one freshly drawn mixture."""
    mixture = SphereMixture.draw(rng, dim)
    return mixture.sample(rng, n), mixture.sample(rng, n_queries)
