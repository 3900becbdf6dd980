"""Personaliser checkpoints: the meta-learned head, tagged with the CLIP model spec its item vectors came from.

A head trained on one model's vectors is meaningless on another's, so loading refuses a checkpoint of
another model spec with a message that says how to retrain. Writes are atomic (temp file + rename).
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import torch

from assistant.atomic import atomic_write_bytes
from assistant.errors import AssistantError
from assistant.personalization.head import HeadConfig, RankingHead
from assistant.personalization.items import AttributeVocab

#: Where ``train personalizer`` writes and the app looks, inside the catalog folder.
CHECKPOINT_NAME = "personalizer.pt"
FORMAT = "assistant.personalizer"
FORMAT_VERSION = 1


class CheckpointError(AssistantError):
    """A checkpoint that cannot be used; the message says why and what to do."""


class CheckpointModelMismatch(CheckpointError):
    """The checkpoint was trained on another model's vectors."""


def default_checkpoint_path(catalog_root: str | Path) -> Path:
    return Path(catalog_root) / CHECKPOINT_NAME


@dataclass
class PersonalizerCheckpoint:
    model_spec: str
    head: RankingHead
    vocab: AttributeVocab
    #: Clicks per sku from a real event log; empty when trained on simulated shoppers (their popularity
    #: is made up and must not steer real rankings).
    popularity: dict[str, float] = field(default_factory=dict)
    trained_on: dict = field(default_factory=dict)
    created_at: str = field(default_factory=lambda: datetime.now(UTC).isoformat(timespec="seconds"))

    @property
    def dim(self) -> int:
        return self.head.config.in_features - self.head.config.wide_features


def save_checkpoint(path: str | Path, checkpoint: PersonalizerCheckpoint) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "model_spec": checkpoint.model_spec,
        "head_config": checkpoint.head.config.to_dict(),
        "state_dict": {k: v.detach().clone() for k, v in checkpoint.head.state_dict().items()},
        "vocab": checkpoint.vocab.to_dict(),
        "popularity": dict(checkpoint.popularity),
        "trained_on": dict(checkpoint.trained_on),
        "created_at": checkpoint.created_at,
    }
    buffer = io.BytesIO()
    torch.save(payload, buffer)
    atomic_write_bytes(path, buffer.getvalue())
    return path


def load_checkpoint(path: str | Path, model_spec: str) -> PersonalizerCheckpoint:
    """Load a checkpoint for ``model_spec``; CheckpointModelMismatch if it was trained for another model."""
    path = Path(path)
    if not path.exists():
        raise CheckpointError(
            f"no personaliser checkpoint at {path}; train one with: python -m assistant train personalizer"
        )
    try:
        payload = torch.load(io.BytesIO(path.read_bytes()), map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises several unrelated types for a damaged or foreign file
        raise CheckpointError(
            f"{path} is not a readable personaliser checkpoint ({exc}); retrain it with: python -m assistant train personalizer"
        ) from exc
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise CheckpointError(f"{path} is not a personaliser checkpoint")
    if payload["format_version"] > FORMAT_VERSION:
        raise CheckpointError(
            f"{path} was written by a newer version of this program (format {payload['format_version']})"
        )
    if payload["model_spec"] != model_spec:
        raise CheckpointModelMismatch(
            f"personaliser checkpoint {path} was trained on vectors of model {payload['model_spec']!r}, but the catalog uses "
            f"{model_spec!r}: its ranking would be meaningless. Retrain it with: "
            f"python -m assistant --model {model_spec} train personalizer"
        )
    head = RankingHead(HeadConfig.from_dict(payload["head_config"]))
    head.load_state_dict(payload["state_dict"])
    return PersonalizerCheckpoint(
        model_spec=payload["model_spec"],
        head=head.eval(),
        vocab=AttributeVocab.from_dict(payload["vocab"]),
        popularity={str(k): float(v) for k, v in payload["popularity"].items()},
        trained_on=dict(payload["trained_on"]),
        created_at=payload["created_at"],
    )
