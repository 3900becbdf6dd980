"""One checkpoint format for every meta-learned head (the few-shot category head and the personaliser).

Invariant: a checkpoint is a torch file, loaded with ``weights_only`` (so reading one runs no code), holding
a dict with a header -- ``format`` (which head), ``format_version``, ``model_spec`` (the CLIP model whose
vectors the head was trained on) -- beside the head's own fields. Loading checks the header before the
head sees the rest, and every way a file can be unusable (missing, unreadable, another kind of file, a
newer format, another model's vectors, a damaged body) is a ``CheckpointError`` whose message names the
file and the command that trains it again. Writes are atomic (temp file + rename).
"""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import torch

from assistant.atomic import atomic_write_bytes
from assistant.errors import AssistantError
from assistant.reasons import Reason

T = TypeVar("T")

HEADER_KEYS = ("format", "format_version", "model_spec")


class CheckpointError(AssistantError):
    """A checkpoint that cannot be used; the message says why and what to do."""


class CheckpointModelMismatch(CheckpointError):
    """The checkpoint was trained on another model's vectors."""


@dataclass(frozen=True)
class CheckpointFormat:
    """One kind of checkpoint: its tag, the version this program writes, and words for messages."""

    tag: str  # the header's "format", e.g. "assistant.personalizer"
    version: int  # written now; a file of a newer version is refused (this program cannot know its fields)
    noun: Reason  # what the file is, in messages: Reason("checkpoint.noun.personalizer")
    train_command: str  # the command that writes one: "train personalizer"
    #: Keys of a file written before headers existed; such a file is read as version 0 of this format.
    unversioned_keys: frozenset[str] = frozenset()

    def train_hint(self, model_spec: str | None = None) -> str:
        model = f" --model {model_spec}" if model_spec else ""
        return f"python -m assistant{model} {self.train_command}"


def write_checkpoint(path: str | Path, fmt: CheckpointFormat, model_spec: str, body: dict) -> Path:
    """Write ``body`` (tensors, numbers, strings, lists and dicts of them) under ``fmt``'s header, atomically."""
    clash = set(HEADER_KEYS) & set(body)
    if clash:
        raise ValueError(f"checkpoint body fields {sorted(clash)} would overwrite the header")
    buffer = io.BytesIO()
    torch.save({"format": fmt.tag, "format_version": fmt.version, "model_spec": model_spec, **body}, buffer)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(path, buffer.getvalue())
    return path


def read_checkpoint(path: str | Path, fmt: CheckpointFormat, model_spec: str, build: Callable[[dict], T]) -> T:
    """``build(payload)`` for a checkpoint of ``fmt`` trained on ``model_spec`` vectors; CheckpointError if unusable.

    ``build`` turns the payload into the head; a KeyError, TypeError or RuntimeError it raises (a missing field,
    an unknown config field, tensors of the wrong shape) means a damaged file and becomes a CheckpointError.
    """
    path = Path(path)
    payload = _read(path, fmt)
    version = _version(path, fmt, payload)
    if version > fmt.version:
        values = {"path": str(path), "noun": fmt.noun, "version": version, "supported": fmt.version}
        raise CheckpointError(Reason("checkpoint.newer", values | {"hint": fmt.train_hint(model_spec)}))
    if payload.get("model_spec") != model_spec:
        found, hint = repr(payload.get("model_spec")), fmt.train_hint(model_spec)
        values = {"noun": fmt.noun, "path": str(path), "found": found, "model": repr(model_spec), "hint": hint}
        raise CheckpointModelMismatch(Reason("checkpoint.other_model", values))
    try:
        return build(payload)
    except (KeyError, TypeError, RuntimeError) as exc:
        error = f"{type(exc).__name__}: {_one_line(exc)}"
        values = {"path": str(path), "noun": fmt.noun, "error": error, "hint": fmt.train_hint(model_spec)}
        raise CheckpointError(Reason("checkpoint.damaged", values)) from exc


def _read(path: Path, fmt: CheckpointFormat) -> dict:
    if not path.exists():
        raise CheckpointError(Reason("checkpoint.missing", _where(path, fmt)))
    try:
        payload = torch.load(io.BytesIO(path.read_bytes()), map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises several unrelated types for a damaged or foreign file
        raise CheckpointError(Reason("checkpoint.unreadable", _where(path, fmt) | {"error": _one_line(exc)})) from exc
    if not isinstance(payload, dict):
        raise CheckpointError(Reason("checkpoint.not_a_checkpoint", _where(path, fmt)))
    return payload


def _version(path: Path, fmt: CheckpointFormat, payload: dict) -> int:
    """The file's format version: its header's, or 0 for a file of this format written before headers."""
    if "format" not in payload and fmt.unversioned_keys and fmt.unversioned_keys <= payload.keys():
        return 0
    version = payload.get("format_version")
    if payload.get("format") != fmt.tag or not isinstance(version, int):
        tag = payload.get("format")
        found = Reason("checkpoint.format_file", {"format": repr(tag)})
        if not isinstance(tag, str):
            found = Reason("checkpoint.other_kind")
        raise CheckpointError(Reason("checkpoint.other_format", _where(path, fmt) | {"found": found}))
    return version


def _where(path: Path, fmt: CheckpointFormat) -> dict[str, object]:
    """The values every "retrain it" message names: the file, what it should be, the command that writes one."""
    return {"path": str(path), "noun": fmt.noun, "hint": fmt.train_hint()}


def _one_line(exc: Exception) -> str:
    """An exception's text on one line (torch's state-dict errors span several), for a one-sentence message."""
    return " ".join(str(exc).split())
