"""Personaliser checkpoints: the meta-learned head, tagged with the CLIP model spec its item vectors came from.

A head trained on one model's vectors is meaningless on another's, so loading refuses a checkpoint of
another model spec with a message that says how to retrain. The file format (header, version, typed errors,
atomic writes) is the one of every meta-learned head, ``assistant.checkpoints``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from assistant.checkpoints import (
    CheckpointError,
    CheckpointFormat,
    CheckpointModelMismatch,
    read_checkpoint,
    write_checkpoint,
)
from assistant.personalization.head import HeadConfig, RankingHead
from assistant.personalization.items import AttributeVocab
from assistant.reasons import Reason

#: Where ``train personalizer`` writes and the app looks, inside the catalog folder.
CHECKPOINT_NAME = "personalizer.pt"
PERSONALIZER_FORMAT = CheckpointFormat(
    tag="assistant.personalizer",
    version=1,
    noun=Reason("checkpoint.noun.personalizer"),
    train_command="train personalizer",
)

# The typed errors of a bad checkpoint are named here too: the personaliser's callers catch them.
__all__ = [
    "CHECKPOINT_NAME",
    "PERSONALIZER_FORMAT",
    "CheckpointError",
    "CheckpointModelMismatch",
    "PersonalizerCheckpoint",
    "default_checkpoint_path",
    "load_checkpoint",
    "save_checkpoint",
]


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
    body = {
        "head_config": checkpoint.head.config.to_dict(),
        "state_dict": {k: v.detach().clone() for k, v in checkpoint.head.state_dict().items()},
        "vocab": checkpoint.vocab.to_dict(),
        "popularity": dict(checkpoint.popularity),
        "trained_on": dict(checkpoint.trained_on),
        "created_at": checkpoint.created_at,
    }
    return write_checkpoint(path, PERSONALIZER_FORMAT, checkpoint.model_spec, body)


def load_checkpoint(path: str | Path, model_spec: str) -> PersonalizerCheckpoint:
    """Load a checkpoint for ``model_spec``; CheckpointModelMismatch if it was trained for another model."""
    return read_checkpoint(path, PERSONALIZER_FORMAT, model_spec, _personalizer)


def _personalizer(payload: dict) -> PersonalizerCheckpoint:
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
