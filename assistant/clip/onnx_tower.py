"""The CLIP image tower on ONNX Runtime: exported once per model, int8-quantised, cached on disk.

Chosen by measurement (bench/embed.py, README Performance): ONNX Runtime with dynamic int8 quantisation
of the weights is the fastest CPU path we measured for the ViT image towers (torch fp32 < ORT fp32 <
torch int8 < ORT int8) at cosine >= 0.99 to the fp32 embeddings. Invariant: a cached file is only ever
used for the exact model it was exported from: the file name carries a digest of the spec, the
checkpoint file's size and time, and the torch/open_clip/onnxruntime versions; files are written to a
temporary name and renamed, so a crash never leaves half a model under the real name.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import tempfile
import warnings
from pathlib import Path

import numpy as np
import open_clip
import torch

from assistant.clip.factory import LoadedModel
from assistant.errors import AssistantError

log = logging.getLogger(__name__)

#: runtime name -> whether its weights are int8-quantised. "torch" is open_clip's own fp32 forward pass.
RUNTIMES = {"torch": None, "onnx": True, "onnx-fp32": False}
DEFAULT_RUNTIME = "torch"
ONNX_OPSET = 17
DEFAULT_CACHE_DIR = Path("~/.cache/jewelry-assistant/onnx")


class RuntimeChoiceError(AssistantError):
    """The runtime setting names no runtime we have."""


def check_runtime(runtime: str) -> str:
    if runtime not in RUNTIMES:
        raise RuntimeChoiceError(
            f"unknown runtime {runtime!r} (ASSISTANT_RUNTIME); choose one of {', '.join(RUNTIMES)}"
        )
    return runtime


class _ImageTower(torch.nn.Module):
    def __init__(self, model: torch.nn.Module):
        super().__init__()
        self.model = model

    def forward(self, pixels: torch.Tensor) -> torch.Tensor:
        return self.model.encode_image(pixels)


def cache_key(loaded: LoadedModel, quantized: bool) -> str:
    """A digest of everything that decides the exported graph's weights and ops."""
    import onnxruntime

    facts = {
        "spec": loaded.spec.name,
        "quantized": quantized,
        "versions": [torch.__version__, open_clip.__version__, onnxruntime.__version__, ONNX_OPSET],
    }
    if loaded.spec.is_checkpoint_file:
        stat = Path(loaded.spec.pretrained).stat()
        facts["checkpoint"] = [stat.st_size, stat.st_mtime_ns]
    return hashlib.sha256(json.dumps(facts, sort_keys=True).encode()).hexdigest()[:16]


def cached_model_path(loaded: LoadedModel, quantized: bool, cache_dir: str | Path | None) -> Path:
    folder = Path(cache_dir) / "onnx" if cache_dir else DEFAULT_CACHE_DIR
    arch = re.sub(r"[^A-Za-z0-9_.-]+", "_", Path(loaded.spec.arch).name)[:60]
    return folder.expanduser() / f"{arch}-{'int8' if quantized else 'fp32'}-{cache_key(loaded, quantized)}.onnx"


def image_size(loaded: LoadedModel) -> int:
    size = loaded.model.visual.image_size
    return int(size[0] if isinstance(size, (tuple, list)) else size)


def export_image_tower(loaded: LoadedModel, path: Path, quantized: bool) -> None:
    """Export encode_image to ONNX (dynamic batch), optionally int8-quantise its weights, publish atomically."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=path.parent, prefix=".export-") as tmp:
        fp32 = Path(tmp) / "fp32.onnx"
        example = torch.zeros(1, 3, image_size(loaded), image_size(loaded))
        # Gradients stay on: without them nn.MultiheadAttention takes a fused fast path the exporter cannot
        # translate. The TorchScript exporter is the one that handles open_clip's towers.
        with torch.enable_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the tracer and exporter warn about their own internals
            torch.onnx.export(
                _ImageTower(loaded.model),
                (example,),
                str(fp32),
                input_names=["pixels"],
                output_names=["embedding"],
                dynamic_axes={"pixels": {0: "batch"}, "embedding": {0: "batch"}},
                opset_version=ONNX_OPSET,
                dynamo=False,
            )
        final = fp32
        if quantized:
            from onnxruntime.quantization import QuantType, quantize_dynamic

            final = Path(tmp) / "int8.onnx"
            quantize_dynamic(str(fp32), str(final), weight_type=QuantType.QInt8)
        os.replace(final, path)


class OnnxImageTower:
    """Callable like ``model.encode_image`` but on ONNX Runtime: (batch, 3, H, W) pixels -> float32 rows."""

    def __init__(self, path: Path, threads: int):
        import onnxruntime

        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = max(1, threads)
        options.inter_op_num_threads = 1
        self.path = path
        self.session = onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])

    @classmethod
    def load_or_export(cls, loaded: LoadedModel, quantized: bool, cache_dir: str | Path | None, threads: int):
        path = cached_model_path(loaded, quantized, cache_dir)
        if not path.is_file():
            log.info("exporting the %s image tower to %s (once per model)", loaded.spec.name, path)
            export_image_tower(loaded, path, quantized)
        return cls(path, threads)

    def __call__(self, pixels: torch.Tensor) -> np.ndarray:
        return self.session.run(None, {"pixels": pixels.numpy()})[0].astype(np.float32, copy=False)


def image_tower(loaded: LoadedModel, runtime: str, cache_dir: str | Path | None, threads: int):
    """The ONNX tower for runtime, or None for torch, or when ONNX Runtime fails here (logged: fp32 fallback)."""
    quantized = RUNTIMES[check_runtime(runtime)]
    if quantized is None:
        return None
    try:
        return OnnxImageTower.load_or_export(loaded, quantized, cache_dir, threads)
    except Exception as exc:  # a missing package, an op the exporter lacks, a full disk: all mean "use torch"
        log.warning("runtime %s unavailable for %s (%s); using torch fp32", runtime, loaded.spec.name, exc)
        return None
