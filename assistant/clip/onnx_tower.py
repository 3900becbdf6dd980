"""The CLIP image and text towers on ONNX Runtime: exported once per model, int8-quantised, cached on disk.

Chosen by measurement (bench/embed.py, bench/text_query.py, README Performance): ONNX Runtime with dynamic
int8 quantisation of the weights is the fastest CPU path we measured for the ViT image towers (torch fp32 <
ORT fp32 < torch int8 < ORT int8) and for single text queries, at cosine >= 0.99 to the fp32 embeddings.
The text tower takes tokens already cut to the batch's longest prompt (``text_tower.prompt_tokens``): its
sequence length is a dynamic axis. Invariant: a cached file is only ever used for the exact model and tower
it was exported from: the file name carries the tower and a digest of the spec, the checkpoint file's size
and time, and the torch/open_clip/onnxruntime versions; files are written to a temporary name and renamed,
so a crash never leaves half a model under the real name.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import tempfile
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import open_clip
import torch

from assistant.clip.factory import LoadedModel
from assistant.clip.text_tower import encode_tokens, prompt_tokens
from assistant.errors import AssistantError

log = logging.getLogger(__name__)

#: runtime name -> whether its weights are int8-quantised. "torch" is open_clip's own fp32 forward pass.
RUNTIMES = {"torch": None, "onnx": True, "onnx-fp32": False}
DEFAULT_RUNTIME = "torch"
ONNX_OPSET = 17
DEFAULT_CACHE_DIR = Path("~/.cache/jewelry-assistant/onnx")
#: The ops whose weights int8 quantisation covers: the matrix products, where a ViT spends its time.
#: Convolutions stay fp32: dynamic int8 convolutions (ConvInteger) made real EfficientNet-Lite0 features
#: drift (min cosine 0.71 to fp32 on jc5 photos) and ran 8x slower than fp32 (README, Performance).
QUANTIZED_OPS = ("MatMul", "Gemm")


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


class _TextTower(_ImageTower):
    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        return encode_tokens(self.model, tokens)


def _traceable_attention(attn: torch.nn.MultiheadAttention) -> Callable[..., torch.Tensor]:
    """Batch-first self-attention with attn's weights, as open_clip's ``ResidualAttentionBlock.attention``
    computes it, written so that the traced graph keeps the sequence length dynamic (the exporter bakes the
    length that nn.MultiheadAttention saw into its reshapes)."""

    def attention(q_x, k_x=None, v_x=None, attn_mask=None):
        q, k, v = torch.nn.functional.linear(q_x, attn.in_proj_weight, attn.in_proj_bias).chunk(3, dim=-1)

        def heads(t: torch.Tensor) -> torch.Tensor:
            return t.unflatten(-1, (attn.num_heads, attn.head_dim)).transpose(1, 2)

        mask = attn_mask.to(q.dtype) if attn_mask is not None else None
        out = torch.nn.functional.scaled_dot_product_attention(heads(q), heads(k), heads(v), attn_mask=mask)
        return attn.out_proj(out.transpose(1, 2).flatten(2))

    return attention


@contextmanager
def _dynamic_length_attention(model: torch.nn.Module, tower: str) -> Iterator[None]:
    """For the text tower's export, each open_clip block's attention in a form that keeps the length dynamic."""
    blocks = getattr(getattr(model, "transformer", None), "resblocks", []) if tower == "text" else []
    swapped = [
        block
        for block in blocks
        if isinstance(getattr(block, "attn", None), torch.nn.MultiheadAttention) and block.attn.batch_first
    ]
    for block in swapped:
        block.attention = _traceable_attention(block.attn)
    try:
        yield
    finally:
        for block in swapped:
            del block.attention  # the class's own method again


#: tower -> (its torch module, the ONNX input name, its dynamic axes)
TOWERS = {
    "image": (_ImageTower, "pixels", {0: "batch"}),
    "text": (_TextTower, "tokens", {0: "batch", 1: "length"}),
}


def cache_key(loaded: LoadedModel, quantized: bool, tower: str = "image") -> str:
    """A digest of everything that decides the exported graph's weights and ops."""
    import onnxruntime

    facts = {
        "spec": loaded.spec.name,
        "quantized": quantized,
        "tower": tower,
        "quantized_ops": QUANTIZED_OPS if quantized else None,
        "versions": [torch.__version__, open_clip.__version__, onnxruntime.__version__, ONNX_OPSET],
    }
    if loaded.spec.is_checkpoint_file:
        stat = Path(loaded.spec.pretrained).stat()
        facts["checkpoint"] = [stat.st_size, stat.st_mtime_ns]
    return hashlib.sha256(json.dumps(facts, sort_keys=True).encode()).hexdigest()[:16]


def cached_model_path(loaded: LoadedModel, quantized: bool, cache_dir: str | Path | None, tower: str = "image") -> Path:
    folder = Path(cache_dir) / "onnx" if cache_dir else DEFAULT_CACHE_DIR
    arch = re.sub(r"[^A-Za-z0-9_.-]+", "_", Path(loaded.spec.arch).name)[:60]
    precision = "int8" if quantized else "fp32"
    return folder.expanduser() / f"{arch}-{tower}-{precision}-{cache_key(loaded, quantized, tower)}.onnx"


def image_size(loaded: LoadedModel) -> int:
    size = loaded.model.visual.image_size
    return int(size[0] if isinstance(size, (tuple, list)) else size)


def example_input(loaded: LoadedModel, tower: str) -> torch.Tensor:
    if tower == "image":
        return torch.zeros(1, 3, image_size(loaded), image_size(loaded))
    return prompt_tokens(loaded.model, loaded.tokenizer(["a rose gold ring with a small diamond"]))


def export_tower(loaded: LoadedModel, path: Path, quantized: bool, tower: str = "image") -> None:
    """Export the tower to ONNX (dynamic batch; text: dynamic length), optionally int8-quantise its weights,
    publish atomically."""
    module, input_name, axes = TOWERS[tower]
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=path.parent, prefix=".export-") as tmp:
        fp32 = Path(tmp) / "fp32.onnx"
        # Gradients stay on: without them nn.MultiheadAttention takes a fused fast path the exporter cannot
        # translate. The TorchScript exporter is the one that handles open_clip's towers.
        with torch.enable_grad(), warnings.catch_warnings(), _dynamic_length_attention(loaded.model, tower):
            warnings.simplefilter("ignore")  # the tracer and exporter warn about their own internals
            torch.onnx.export(
                module(loaded.model),
                (example_input(loaded, tower),),
                str(fp32),
                input_names=[input_name],
                output_names=["embedding"],
                dynamic_axes={input_name: axes, "embedding": {0: "batch"}},
                opset_version=ONNX_OPSET,
                dynamo=False,
            )
        final = fp32
        if quantized:
            from onnxruntime.quantization import QuantType, quantize_dynamic

            final = Path(tmp) / "int8.onnx"
            quantize_dynamic(
                str(fp32), str(final), weight_type=QuantType.QInt8, op_types_to_quantize=list(QUANTIZED_OPS)
            )
        os.replace(final, path)


class OnnxTower:
    """Callable like ``model.encode_image`` (or the text tower on prompt tokens) but on ONNX Runtime: a batch
    tensor in, float32 rows out."""

    def __init__(self, path: Path, threads: int, input_name: str = "pixels"):
        import onnxruntime

        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = max(1, threads)
        options.inter_op_num_threads = 1
        # Idle pool threads sleep instead of spinning: on a shared server spinning threads take cores from the
        # very threads they wait for (ViT-B-32 image tower at load 7: 1.4 s against 2.2 s median per 16 photos).
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self.path = path
        self.input_name = input_name
        self.session = onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])

    @classmethod
    def load_or_export(
        cls, loaded: LoadedModel, quantized: bool, cache_dir: str | Path | None, threads: int, tower: str = "image"
    ) -> OnnxTower:
        path = cached_model_path(loaded, quantized, cache_dir, tower)
        if not path.is_file():
            log.info("exporting the %s %s tower to %s (once per model)", loaded.spec.name, tower, path)
            export_tower(loaded, path, quantized, tower)
        return cls(path, threads, TOWERS[tower][1])

    def __call__(self, batch: torch.Tensor) -> np.ndarray:
        return self.session.run(None, {self.input_name: batch.numpy()})[0].astype(np.float32, copy=False)


def onnx_tower(loaded: LoadedModel, runtime: str, cache_dir: str | Path | None, threads: int, tower: str = "image"):
    """The ONNX tower for runtime, or None for torch, or when ONNX Runtime fails here (logged: fp32 fallback)."""
    quantized = RUNTIMES[check_runtime(runtime)]
    if quantized is None:
        return None
    try:
        return OnnxTower.load_or_export(loaded, quantized, cache_dir, threads, tower)
    except Exception as exc:  # a missing package, an op the exporter lacks, a full disk: all mean "use torch"
        log.warning(
            "runtime %s unavailable for the %s %s tower (%s); using torch fp32", runtime, loaded.spec.name, tower, exc
        )
        return None
