"""What a meta-training run reports about itself, the same way for every head."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

#: Meta-steps averaged into the "final loss" of a training summary: one step's loss is one noisy batch.
FINAL_LOSS_STEPS = 20


def final_loss(losses: Sequence[float]) -> float:
    """Mean meta-loss of the last FINAL_LOSS_STEPS steps (all of them when fewer), to 4 decimals."""
    if not losses:
        raise ValueError("no meta-steps were taken")
    return round(float(np.mean(losses[-FINAL_LOSS_STEPS:])), 4)
