"""The shared MAML inner loop: plain SGD steps, per-parameter rates, first vs second order, batched by vmap."""

from __future__ import annotations

import torch
from torch.func import vmap

from assistant.metalearning import adapt


def quadratic(w: torch.Tensor, curvature: torch.Tensor) -> torch.Tensor:
    """0.5 * a * w^2, summed: its gradient is a * w, so one SGD step maps w to (1 - lr * a) * w."""
    return 0.5 * (curvature * w**2).sum()


def test_steps_are_plain_sgd_on_the_task_loss():
    w, a = torch.tensor([1.0, -2.0]), torch.tensor([1.0, 3.0])
    got = adapt(quadratic, w, a, lr=0.1, steps=3)
    assert torch.allclose(got, (1 - 0.1 * a) ** 3 * w)
    assert torch.equal(adapt(quadratic, w, a, lr=0.1, steps=0), w)


def test_named_fast_weights_take_their_own_learning_rates():
    def loss(fast, a):
        return quadratic(fast["u"], a) + quadratic(fast["v"], a)

    fast, a = {"u": torch.tensor([1.0]), "v": torch.tensor([1.0])}, torch.tensor([2.0])
    got = adapt(loss, fast, a, lr={"u": 0.1, "v": torch.tensor([0.25])}, steps=2)
    assert torch.allclose(got["u"], torch.tensor([0.8**2])) and torch.allclose(got["v"], torch.tensor([0.5**2]))


def test_meta_sgd_rates_per_weight_broadcast_against_the_weight():
    w, a = torch.ones(3), torch.ones(3)
    got = adapt(quadratic, w, a, lr=torch.tensor([0.0, 0.5, 1.0]), steps=1)
    assert torch.allclose(got, torch.tensor([1.0, 0.5, 0.0]))


def test_second_order_differentiates_through_the_steps_and_first_order_does_not():
    a = torch.tensor([3.0])
    for first_order, expected in ((False, 1 - 0.1 * 3.0), (True, 1.0)):
        w = torch.tensor([2.0], requires_grad=True)
        adapt(quadratic, w, a, lr=0.1, steps=1, first_order=first_order).sum().backward()
        assert torch.allclose(w.grad, torch.tensor([expected])), first_order


def test_learning_rates_are_learnt_in_both_orders():
    a, w = torch.tensor([3.0]), torch.tensor([2.0])
    for first_order in (False, True):
        lr = torch.tensor(0.1, requires_grad=True)
        adapt(quadratic, w, a, lr=lr, steps=1, first_order=first_order).sum().backward()
        assert torch.allclose(lr.grad, -a * w), "d(w - lr * a * w)/d lr = -a * w"


def test_vmap_adapts_each_task_on_its_own_loss():
    w, curvatures = torch.ones(2), torch.tensor([[1.0, 1.0], [2.0, 4.0]])
    got = vmap(lambda a: adapt(quadratic, w, a, lr=0.25, steps=1))(curvatures)
    assert torch.allclose(got, torch.stack([(1 - 0.25 * a) * w for a in curvatures]))
