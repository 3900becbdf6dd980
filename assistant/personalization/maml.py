"""MAML over shoppers with torch.func: each shopper is a task, adapted by a few gradient steps on its clicks.

The inner loop is the shared ``assistant.metalearning.adapt`` over the shopper's state and the head's
support loss (the only task-specific part), mapped over a batch of shoppers with ``vmap``; the shared
head runs through ``functional_call`` so the outer loss is a function of its parameters. Second-order
MAML differentiates through the inner steps; first-order detaches the inner gradients. With Meta-SGD
the per-weight inner learning rates are learnt too.
A head with ``inner_steps=0`` trained by the same loop is a head trained normally (not meta-learned).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from functools import partial

import numpy as np
import torch
from torch.func import functional_call, vmap

from assistant.errors import TrainingDataError
from assistant.metalearning import adapt
from assistant.personalization.head import RankingHead, item_scores, query_loss, support_loss
from assistant.personalization.items import ItemTable
from assistant.personalization.tasks import Sessions, TaskBatch, training_batch

log = logging.getLogger(__name__)


#: Meta-steps between validation scores when early stopping.
VALIDATE_EVERY = 100


@dataclass(frozen=True)
class MetaTrainConfig:
    meta_steps: int = 1000
    meta_batch: int = 64
    outer_lr: float = 3e-3
    first_order: bool = False
    #: Share of meta-steps trained with the popularity column zeroed, so the head also works where no
    #: popularity is known (a fresh shop, or a prior trained on simulated shoppers).
    popularity_dropout: float = 0.5
    #: Outer gradients are clipped to this global norm: a batch of shoppers whose clicks the prior gets badly
    #: wrong (worst in the first steps, through the second-order inner loop) would otherwise throw the head off.
    max_grad_norm: float = 5.0
    seed: int = 0

    def to_dict(self) -> dict:
        return asdict(self)


_threads_lock = threading.Lock()
_single_threaded_depth = 0
_saved_threads = 1


@contextmanager
def single_threaded() -> Iterator[None]:
    """Run torch on one intra-op thread, then restore the setting (safe when threads overlap).

    The head's tensors are so small that a second intra-op thread only adds synchronisation: measured
    up to 50x slower on a busy 2-core machine. The setting is process-wide, so overlapping callers
    share one switch: the first in sets it, the last out restores it.
    """
    global _single_threaded_depth, _saved_threads
    with _threads_lock:
        if _single_threaded_depth == 0:
            _saved_threads = torch.get_num_threads()
            torch.set_num_threads(1)
        _single_threaded_depth += 1
    try:
        yield
    finally:
        with _threads_lock:
            _single_threaded_depth -= 1
            if _single_threaded_depth == 0:
                torch.set_num_threads(_saved_threads)


def head_state(head: RankingHead) -> dict[str, torch.Tensor]:
    """Parameters and buffers by name, as ``functional_call`` takes them."""
    return {**dict(head.named_parameters()), **dict(head.named_buffers())}


def adapted_users(
    head: RankingHead,
    state: dict[str, torch.Tensor],
    embeddings: torch.Tensor,
    batch: TaskBatch,
    steps: int | None = None,
    inner_lr: torch.Tensor | float | None = None,
    first_order: bool = True,
) -> torch.Tensor:
    """Adapted shopper states [B, width] for a batch of tasks, the inner loop mapped over shoppers."""
    steps = head.config.inner_steps if steps is None else steps
    lr = state["log_inner_lr"].exp() if inner_lr is None else torch.as_tensor(inner_lr, dtype=embeddings.dtype)
    adapt_each = vmap(
        partial(adapt, support_loss, lr=lr, steps=steps, first_order=first_order),
        in_dims=(None, None, 0, None, 0, 0, 0),
    )
    return adapt_each(
        state["user"],
        embeddings,
        batch.query_similarity,
        state["query_weight"],
        batch.positives,
        batch.positive_mask,
        batch.log_weights,
    )


def meta_loss(
    head: RankingHead, state: dict[str, torch.Tensor], features: torch.Tensor, batch: TaskBatch, first_order: bool
) -> torch.Tensor:
    """Mean over shoppers of the held-out-click loss after adapting on the support set."""
    embeddings = functional_call(head, state, (features,))
    users = adapted_users(head, state, embeddings, batch, first_order=first_order)
    per_task = vmap(query_loss, in_dims=(0, None, 0, None, 0, 0, 0))(
        users,
        embeddings,
        batch.query_similarity,
        state["query_weight"],
        batch.query_positives,
        batch.query_mask,
        batch.candidate_mask,
    )
    return per_task.mean()


def batch_scores(
    head: RankingHead, features: torch.Tensor, batch: TaskBatch, adapt: bool = True, **adapt_options
) -> torch.Tensor:
    """Scores [B, n] of every item for every shopper in the batch, adapted (or the prior when not)."""
    with torch.no_grad():
        state = head_state(head)
        embeddings = head(features)
        if adapt:
            users = adapted_users(head, state, embeddings, batch, **adapt_options)
        else:
            users = state["user"].expand(len(batch), -1)
        return vmap(item_scores, in_dims=(0, None, 0, None))(
            users, embeddings, batch.query_similarity, state["query_weight"]
        )


def without_popularity(features: torch.Tensor) -> torch.Tensor:
    """The same head inputs with the popularity column (the last) zeroed."""
    out = features.clone()
    out[:, -1] = 0.0
    return out


def meta_train(
    head: RankingHead,
    items: ItemTable,
    features: torch.Tensor,
    sessions: Sessions,
    config: MetaTrainConfig,
    progress: Callable[[int, int], None] | None = None,
    validate: Callable[[RankingHead], float] | None = None,
    validate_every: int = VALIDATE_EVERY,
) -> list[float]:
    """Train ``head`` in place on the training shoppers; returns the meta-loss per step.

    With ``validate`` (a score on held-out shoppers, higher is better) the head is scored every
    ``validate_every`` steps and at the end, and left in its best-scoring state (early stopping).
    """
    sessions = sessions.with_at_least(2)
    if len(sessions) == 0:
        raise TrainingDataError("meta-training needs shoppers with at least 2 clicks (one to adapt on, one to predict)")
    torch.manual_seed(config.seed)
    rng = np.random.default_rng(config.seed)
    optimizer = torch.optim.Adam(head.parameters(), lr=config.outer_lr)
    plain = without_popularity(features)
    losses = []
    best: tuple[float, dict[str, torch.Tensor]] | None = None
    with single_threaded():
        for step in range(1, config.meta_steps + 1):
            losses.append(_meta_step(head, items, features, plain, sessions, config, rng, optimizer))
            if progress:
                progress(step, config.meta_steps)
            if validate and (step % validate_every == 0 or step == config.meta_steps):
                score = validate(head)
                log.info("meta-step %d: loss %.4f, validation %.4f", step, losses[-1], score)
                if best is None or score > best[0]:
                    best = (score, {k: v.detach().clone() for k, v in head.state_dict().items()})
        if best is not None:
            head.load_state_dict(best[1])
    return losses


def _meta_step(
    head: RankingHead,
    items: ItemTable,
    features: torch.Tensor,
    plain: torch.Tensor,
    sessions: Sessions,
    config: MetaTrainConfig,
    rng: np.random.Generator,
    optimizer: torch.optim.Optimizer,
) -> float:
    """One outer update on a fresh batch of training shoppers (popularity hidden in some batches)."""
    batch = training_batch(items, sessions, rng, config.meta_batch, head.config.skip_weight)
    inputs = plain if rng.random() < config.popularity_dropout else features
    loss = meta_loss(head, head_state(head), inputs, batch, config.first_order)
    optimizer.zero_grad()
    loss.backward()
    torch.nn.utils.clip_grad_norm_(head.parameters(), config.max_grad_norm)
    optimizer.step()
    return loss.item()
