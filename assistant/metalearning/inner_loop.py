"""The MAML inner loop as one pure ``torch.func`` function, shared by every head that adapts per task.

Invariant: ``adapt`` knows nothing of the task; a head hands it only its task loss. Each step is
``fast - lr * grad(task_loss)(fast, *task)``, so the result is a pure function of its inputs that
``vmap`` can batch over tasks. Second-order MAML (the default) lets outer gradients flow through every
step, into the initial fast weights, the learning rates and every tensor in ``task``; ``first_order``
detaches the inner gradients (FOMAML), so the outer gradient treats them as constants. Learning rates
may be one scalar, a tensor broadcast against a fast weight (Meta-SGD: one rate per weight), or a dict
of those per named fast weight.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeAlias

import torch
from torch.func import grad

#: What a task adapts: one tensor, or named tensors (a dict pytree, as ``torch.func.grad`` takes it).
FastWeights: TypeAlias = torch.Tensor | dict[str, torch.Tensor]
#: One step size for all, one per weight (Meta-SGD), or either per named fast weight.
LearningRate: TypeAlias = torch.Tensor | float | dict[str, torch.Tensor | float]


def adapt(
    task_loss: Callable[..., torch.Tensor],
    fast: FastWeights,
    *task: object,
    lr: LearningRate,
    steps: int,
    first_order: bool = False,
) -> FastWeights:
    """``fast`` after ``steps`` gradient steps on ``task_loss(fast, *task)`` (a scalar), with step size ``lr``."""
    step_gradient = grad(task_loss)
    for _ in range(steps):
        gradient = step_gradient(fast, *task)
        if isinstance(fast, dict):
            fast = {name: _step(fast[name], gradient[name], _rate(lr, name), first_order) for name in fast}
        else:
            fast = _step(fast, gradient, lr, first_order)
    return fast


def _rate(lr: LearningRate, name: str) -> torch.Tensor | float:
    return lr[name] if isinstance(lr, dict) else lr


def _step(weight: torch.Tensor, gradient: torch.Tensor, lr: torch.Tensor | float, first_order: bool) -> torch.Tensor:
    if first_order:
        gradient = gradient.detach()
    return weight - lr * gradient
