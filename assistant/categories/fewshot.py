"""MAML few-shot adaptation of a light head over frozen CLIP vectors, with ``torch.func``.

The head scores a vector against class weights: ``scale * <adapt(x), adapt_w(w)> + b``, where both
adapters are residual linear maps that start as the identity. A task's class weights start at its
categories' text prototypes (so with no inner step the head *is* zero-shot CLIP) and are fitted to the
K support photos in a few inner gradient steps. Meta-training learns the adapters, the logit scale and
the inner learning rate so that those few steps generalise to the task's queries. The head supplies only
its task loss; the inner loop is the shared ``assistant.metalearning.adapt`` (a pure ``torch.func``
function), batched over episodes with ``vmap``; second-order gradients flow through it unless
``first_order`` is set.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.func import functional_call, vmap

from assistant.categories.blend import PRIOR_STRENGTH
from assistant.categories.episodes import Episode, EpisodeSampler
from assistant.checkpoints import CheckpointFormat, read_checkpoint, write_checkpoint
from assistant.errors import TrainingDataError
from assistant.metalearning import adapt
from assistant.reasons import Reason

#: ``train categories`` writes the head in this format; version 0 is a head saved before the format had a header.
FEWSHOT_FORMAT = CheckpointFormat(
    tag="assistant.fewshot_head",
    version=1,
    noun=Reason("checkpoint.noun.fewshot"),
    train_command="train categories",
    unversioned_keys=frozenset({"model_spec", "dim", "config", "state", "trained_on"}),
)


@dataclass
class MamlConfig:
    ways: int = 5
    shots: int = 5
    queries: int = 10
    inner_steps: int = 5
    #: Initial inner step size, in units of 1/logit_scale (gradients grow with the scale).
    inner_lr_times_scale: float = 0.5
    meta_steps: int = 300
    meta_batch: int = 8
    meta_lr: float = 1e-3
    weight_decay: float = 1e-4
    first_order: bool = False
    seed: int = 0


class ResidualAdapter(nn.Module):
    """``x -> normalize(x * g)``; g starts at one, so the adapter starts as the identity on unit vectors."""

    def __init__(self, dim: int):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.normalize(x * self.weight, dim=-1)


class FewShotHead(nn.Module):
    """Cosine classifier over adapted vectors; class weights and biases are a task's fast weights."""

    def __init__(self, dim: int, logit_scale: float, inner_lr: float, prior_strength: float):
        super().__init__()
        self.features = ResidualAdapter(dim)
        self.classes = ResidualAdapter(dim)
        self.log_scale = nn.Parameter(torch.tensor(math.log(logit_scale)))
        self.log_inner_lr = nn.Parameter(torch.tensor(math.log(inner_lr)))
        self.log_prior_strength = nn.Parameter(torch.tensor(math.log(prior_strength)))

    def forward(self, adapted_features: torch.Tensor, class_weights: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
        return self.log_scale.exp() * adapted_features @ self.classes(class_weights).T + bias


def initial_weights(
    text: torch.Tensor, support: torch.Tensor, labels: torch.Tensor, prior_strength: torch.Tensor
) -> torch.Tensor:
    """Class weights before adaptation: the text prototypes blended with the support means, with
    photo share K / (K + prior_strength) -- the prototype blend, whose prior strength MAML meta-learns."""
    one_hot = F.one_hot(labels, text.shape[0]).to(support.dtype)
    shots = one_hot.sum(0).unsqueeze(-1)
    photo_mean = F.normalize(one_hot.T @ support, dim=-1)
    photo_share = shots / (shots + prior_strength)
    return F.normalize((1 - photo_share) * text + photo_share * photo_mean, dim=-1)


def _subtree(params: dict[str, torch.Tensor], prefix: str) -> dict[str, torch.Tensor]:
    return {k[len(prefix) :]: v for k, v in params.items() if k.startswith(prefix)}


class Maml:
    """Pure-function MAML over a FewShotHead: ``adapt`` a task, ``predict`` its queries, ``meta_train``."""

    def __init__(self, dim: int, logit_scale: float, config: MamlConfig | None = None):
        self.config = config or MamlConfig()
        self.head = FewShotHead(dim, logit_scale, self.config.inner_lr_times_scale / logit_scale, PRIOR_STRENGTH)
        self.trained_on: dict = {}

    def params(self) -> dict[str, torch.Tensor]:
        return dict(self.head.named_parameters())

    def _features(self, params: dict[str, torch.Tensor], x: torch.Tensor) -> torch.Tensor:
        return functional_call(self.head.features, _subtree(params, "features."), (x,))

    def _loss(
        self, fast: dict[str, torch.Tensor], params, features: torch.Tensor, labels: torch.Tensor
    ) -> torch.Tensor:
        logits = functional_call(self.head, params, (features, fast["weights"], fast["bias"]))
        return F.cross_entropy(logits, labels)

    def adapt(self, params, text: torch.Tensor, support: torch.Tensor, labels: torch.Tensor, steps: int | None = None):
        """Fast weights for one task: start at the text prototypes blended with the support photos, then take
        ``steps`` SGD steps on the support loss."""
        features = self._features(params, support)
        weights = initial_weights(text, support, labels, params["log_prior_strength"].exp())
        fast = {"weights": weights, "bias": text.new_zeros(text.shape[0])}
        steps = (self.config.inner_steps if steps is None else steps) if len(support) else 0  # no photos: no fit
        return adapt(
            self._loss,
            fast,
            params,
            features,
            labels,
            lr=params["log_inner_lr"].exp(),
            steps=steps,
            first_order=self.config.first_order,
        )

    def _query_logits(self, params, text, support, support_labels, query, steps: int | None = None) -> torch.Tensor:
        fast = self.adapt(params, text, support, support_labels, steps)
        return functional_call(self.head, params, (self._features(params, query), fast["weights"], fast["bias"]))

    def _episode_loss(self, params, text, support, support_labels, query, query_labels) -> torch.Tensor:
        return F.cross_entropy(self._query_logits(params, text, support, support_labels, query), query_labels)

    def support_loss(self, text, support, support_labels, steps: int) -> float:
        """Support loss after ``steps`` inner steps (for checking that adaptation fits the support set)."""
        params = self.params()
        fast = self.adapt(params, text, support, support_labels, steps)
        with torch.no_grad():
            return float(self._loss(fast, params, self._features(params, support), support_labels))

    def predict(self, batch: EpisodeTensors, steps: int | None = None) -> np.ndarray:
        """Predicted episode labels [E, N*Q] for a batch of episodes, each adapted on its own support set."""
        params = {k: v.detach() for k, v in self.params().items()}
        logits_fn = vmap(lambda t, s, sl, q: self._query_logits(params, t, s, sl, q, steps))
        with torch.no_grad():  # torch.func.grad still differentiates the inner loop inside no_grad
            logits = logits_fn(batch.text, batch.support, batch.support_labels, batch.query)
        return logits.argmax(-1).numpy()

    @property
    def logit_scale(self) -> float:
        return float(self.head.log_scale.detach().exp())

    @property
    def feature_gain(self) -> np.ndarray:
        """The meta-learned per-dimension gain applied (then re-normalised) to every vector to classify."""
        return self.head.features.weight.detach().numpy().copy()

    def class_prototypes(
        self, text: np.ndarray, support: np.ndarray, labels: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """Adapt to C classes (text prototypes [C, d], support photos [S, d] with class labels [S]): returns
        unit prototypes in the head's space and per-class biases, so that
        ``logits = logit_scale * normalize(x * feature_gain) @ prototypes.T + bias`` -- cosines a FAISS index
        can hold."""
        params = {k: v.detach() for k, v in self.params().items()}
        text_t = torch.as_tensor(np.asarray(text, np.float32))
        support_t = torch.as_tensor(np.asarray(support, np.float32).reshape(-1, text_t.shape[1]))
        fast = self.adapt(params, text_t, support_t, torch.as_tensor(np.asarray(labels), dtype=torch.long))
        with torch.no_grad():
            prototypes = functional_call(self.head.classes, _subtree(params, "classes."), (fast["weights"],))
        return prototypes.numpy(), fast["bias"].detach().numpy()

    def save(self, path: Path, model_spec: str, trained_on: dict) -> None:
        """Store the meta-trained head (atomically) for the catalog of ``model_spec``."""
        body = {
            "dim": int(self.head.features.weight.shape[0]),
            "config": asdict(self.config),
            "state": self.head.state_dict(),
            "trained_on": trained_on,
        }
        write_checkpoint(path, FEWSHOT_FORMAT, model_spec, body)

    @classmethod
    def load(cls, path: Path, model_spec: str) -> Maml:
        """A saved head; CheckpointError when unusable (CheckpointModelMismatch: trained for another model)."""
        return read_checkpoint(path, FEWSHOT_FORMAT, model_spec, cls._from_payload)

    @classmethod
    def _from_payload(cls, payload: dict) -> Maml:
        maml = cls(payload["dim"], 1.0, MamlConfig(**payload["config"]))
        maml.head.load_state_dict(payload["state"])
        maml.trained_on = payload["trained_on"]
        return maml

    def meta_train(
        self,
        vectors: np.ndarray,
        item_classes: np.ndarray,
        class_text: np.ndarray,
        classes: list[int],
        progress: Callable[[int, int], None] | None = None,
    ) -> MetaTrainReport:
        """Meta-train on episodes drawn only from ``classes`` (indices into ``class_text``)."""
        cfg = self.config
        sampler = EpisodeSampler(
            item_classes, classes, min(cfg.ways, len(classes)), cfg.shots, cfg.queries, seed=cfg.seed
        )
        optimizer = torch.optim.AdamW(self.head.parameters(), lr=cfg.meta_lr, weight_decay=cfg.weight_decay)
        batched_loss = vmap(self._episode_loss, in_dims=(None, 0, 0, 0, 0, 0))
        report = MetaTrainReport()
        torch.manual_seed(cfg.seed)
        for step in range(cfg.meta_steps):
            episodes = sampler.batch(cfg.meta_batch)
            report.record(episodes)
            batch = EpisodeTensors.build(episodes, vectors, class_text)
            loss = batched_loss(
                self.params(), batch.text, batch.support, batch.support_labels, batch.query, batch.query_labels
            ).mean()
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            report.losses.append(loss.item())
            if progress:
                progress(step + 1, cfg.meta_steps)
        return report


def meta_train_head(
    vectors: np.ndarray,
    item_classes: np.ndarray,
    class_text: np.ndarray,
    logit_scale: float,
    config: MamlConfig,
    progress: Callable[[int, int], None] | None = None,
) -> tuple[Maml, MetaTrainReport]:
    """Meta-train a head on the items whose class is >= 0 (class c's text prototype is ``class_text[c]``).

    Classes need K + 2 items (K shots, queries); episode ways and queries shrink to what the data allows.
    """
    item_classes = np.asarray(item_classes)
    counts = np.bincount(item_classes[item_classes >= 0], minlength=len(class_text))
    usable = [c for c in range(len(class_text)) if counts[c] >= config.shots + 2]
    if len(usable) < 2:
        raise TrainingDataError(
            f"meta-training needs two categories with at least {config.shots + 2} labelled images each"
        )
    queries = int(min(config.queries, min(counts[c] for c in usable) - config.shots))
    maml = Maml(class_text.shape[1], logit_scale, replace(config, queries=queries, ways=min(config.ways, len(usable))))
    return maml, maml.meta_train(vectors, item_classes, class_text, usable, progress=progress)


@dataclass
class MetaTrainReport:
    """What meta-training saw: every class and item of every episode, and the loss per step."""

    classes_seen: set[int] = field(default_factory=set)
    items_seen: set[int] = field(default_factory=set)
    losses: list[float] = field(default_factory=list)

    def record(self, episodes: list[Episode]) -> None:
        for episode in episodes:
            self.classes_seen.update(int(c) for c in episode.classes)
            self.items_seen.update(int(i) for i in episode.items)


@dataclass
class EpisodeTensors:
    """A batch of same-shaped episodes as tensors: text prototypes, support and query vectors and labels."""

    text: torch.Tensor  # [E, N, d]
    support: torch.Tensor  # [E, N*K, d]
    support_labels: torch.Tensor  # [E, N*K]
    query: torch.Tensor  # [E, N*Q, d]
    query_labels: torch.Tensor  # [E, N*Q]

    @classmethod
    def build(cls, episodes: list[Episode], vectors: np.ndarray, class_text: np.ndarray) -> EpisodeTensors:
        def stack(arrays, dtype=torch.float32):
            return torch.as_tensor(np.stack(arrays), dtype=dtype)

        return cls(
            text=stack([class_text[e.classes] for e in episodes]),
            support=stack([vectors[e.support] for e in episodes]),
            support_labels=stack([e.support_labels for e in episodes], torch.long),
            query=stack([vectors[e.query] for e in episodes]),
            query_labels=stack([e.query_labels for e in episodes], torch.long),
        )
