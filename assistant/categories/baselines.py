"""Few-shot baselines MAML is measured against, batched over same-shaped episodes (``EpisodeTensors``).

Invariant: every method sees only an episode's support photos and labels (and, for the text-based ones, its
categories' text prototypes) and returns one predicted episode label per query; none reads query labels.

- ``zero_shot``: the nearest text prototype (meaningful only where the model's text side is real);
- ``prototype``: the nearest mean of the K support photos (nearest centroid), no text at all;
- ``prototype_blend``: the nearest text prior blended with the photo mean, as the catalog's categories do;
- ``linear_probe``: multinomial logistic regression fitted on the K shots of each class.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from assistant.categories.blend import PRIOR_STRENGTH
from assistant.categories.fewshot import EpisodeTensors


def _photo_means(batch: EpisodeTensors) -> torch.Tensor:
    """Unit mean of each class's support photos [E, N, d]."""
    one_hot = F.one_hot(batch.support_labels, batch.text.shape[1]).to(batch.support.dtype)  # [E, S, N]
    return F.normalize(one_hot.transpose(1, 2) @ batch.support, dim=-1)


def _nearest(query: torch.Tensor, prototypes: torch.Tensor) -> np.ndarray:
    return (query @ prototypes.transpose(1, 2)).argmax(-1).numpy()


def zero_shot(batch: EpisodeTensors) -> np.ndarray:
    return _nearest(batch.query, F.normalize(batch.text, dim=-1))


def prototype(batch: EpisodeTensors) -> np.ndarray:
    return _nearest(batch.query, _photo_means(batch))


def prototype_blend(batch: EpisodeTensors, prior_strength: float = PRIOR_STRENGTH) -> np.ndarray:
    shots = batch.support.shape[1] / batch.text.shape[1]
    photo_share = shots / (shots + prior_strength)
    blended = (1 - photo_share) * F.normalize(batch.text, dim=-1) + photo_share * _photo_means(batch)
    return _nearest(batch.query, F.normalize(blended, dim=-1))


@dataclass(frozen=True)
class LinearProbeConfig:
    """L2-regularised logistic regression on unit vectors, as scikit-learn's default (C = 1, summed loss)."""

    steps: int = 300
    lr: float = 0.05
    inverse_regularisation: float = 1.0  # C


def linear_probe(batch: EpisodeTensors, config: LinearProbeConfig = LinearProbeConfig()) -> np.ndarray:
    """Fit every episode's own classifier (weights from zero) with full-batch Adam; predict its queries."""
    episodes, ways, dim = batch.text.shape
    weights = torch.zeros(episodes, ways, dim, requires_grad=True)
    bias = torch.zeros(episodes, ways, requires_grad=True)
    optimizer = torch.optim.Adam([weights, bias], lr=config.lr)
    support, labels = batch.support, batch.support_labels
    with torch.enable_grad():
        for _ in range(config.steps):
            logits = support @ weights.transpose(1, 2) + bias[:, None, :]
            data_loss = F.cross_entropy(logits.reshape(-1, ways), labels.reshape(-1), reduction="sum")
            loss = data_loss + 0.5 / config.inverse_regularisation * weights.pow(2).sum()
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
    with torch.no_grad():
        return (batch.query @ weights.transpose(1, 2) + bias[:, None, :]).argmax(-1).numpy()
