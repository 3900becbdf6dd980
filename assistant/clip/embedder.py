"""Batched CLIP embedding of texts, photos and products into one L2-normalised float32 space.

The image tower runs on torch fp32 or, by choice (``runtime``), on ONNX Runtime (``onnx_tower``); single
text queries are served from an LRU cache, so a repeated query costs a dictionary lookup.
"""

from __future__ import annotations

import os
import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import open_clip
import torch
from open_clip.transformer import text_global_pool
from PIL import Image
from torch.utils.data import DataLoader, Dataset

from assistant.clip.factory import DEFAULT_MODEL_SPEC, LoadedModel, ModelSpec, create_model
from assistant.clip.onnx_tower import DEFAULT_RUNTIME, check_runtime, image_tower
from assistant.images import ImageError, decode_image, load_image, to_rgb
from assistant.reasons import Reason, reason_of

#: progress(done, total): how far a long embedding job has got; the CLI draws a tqdm bar with it.
ProgressCallback = Callable[[int, int], None]
#: A photo: a file, its bytes, a decoded image, or a loader returning its bytes when the photo is decoded
#: (so that a long list of photos is read one at a time); a loader may raise ImageError.
ImageSource = str | Path | bytes | Image.Image | Callable[[], bytes]
#: Single text queries remembered per Embedder (a shop's searches repeat: "gold ring", "pearl earrings").
TEXT_CACHE_SIZE = 1024


def configure_cpu_threads() -> int:
    """Use every core this process may run on for intra-op parallelism (torch defaults can be lower)."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cores = os.cpu_count() or 1
    threads = int(os.environ.get("ASSISTANT_THREADS", cores))
    torch.set_num_threads(max(1, threads))
    return threads


def normalize(vectors: np.ndarray) -> np.ndarray:
    """Row-wise L2 normalisation to float32; zero rows stay zero."""
    vectors = np.asarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(vectors, axis=-1, keepdims=True)
    return vectors / np.maximum(norms, 1e-12)


def blend(parts: Sequence[tuple[np.ndarray | None, float]]) -> np.ndarray:
    """Weighted sum of unit vectors (missing parts skipped), re-normalised: the hybrid of two views."""
    present = [(v, w) for v, w in parts if v is not None and w > 0]
    if not present:
        raise ValueError("nothing to blend: every part is missing or has zero weight")
    return normalize(sum(w * np.asarray(v, dtype=np.float32) for v, w in present))


@dataclass
class ImageEmbeddings:
    """Vectors for the photos that decoded, in input order, and why the others failed."""

    vectors: np.ndarray
    ok: list[int]
    failures: dict[int, Reason | str] = field(default_factory=dict)


class _PreprocessedImages(Dataset):
    def __init__(self, sources: Sequence[ImageSource], preprocess, names: Sequence[str | Reason] | None = None):
        self.sources = sources
        self.preprocess = preprocess
        self.names = names

    def __len__(self) -> int:
        return len(self.sources)

    def _name(self, i: int) -> str | Reason:
        """What error messages call photo ``i``: the caller's name for it, its path, or its position."""
        if self.names is not None:
            return self.names[i]
        source = self.sources[i]
        return str(source) if isinstance(source, str | Path) else f"photo {i + 1}"

    def __getitem__(self, i: int):
        source = self.sources[i]
        try:
            if isinstance(source, Image.Image):
                image = to_rgb(source)
            elif isinstance(source, bytes):
                image = decode_image(source, self._name(i))
            elif callable(source):
                image = decode_image(source(), self._name(i))
            else:
                image = load_image(source, self._name(i))
            return i, self.preprocess(image), None
        except ImageError as exc:
            return i, None, reason_of(exc)


def _collate(items):
    good = [(i, t) for i, t, _ in items if t is not None]
    failures = {i: err for i, _, err in items if err is not None}
    tensor = torch.stack([t for _, t in good]) if good else None
    return [i for i, _ in good], tensor, failures


def _worker_init(_: int) -> None:
    torch.set_num_threads(1)  # decoding workers must not compete with the model's threads


class Embedder:
    """One CLIP model and its preprocessing; every output row is a unit float32 vector."""

    def __init__(
        self,
        loaded: LoadedModel,
        image_tower: Callable[[torch.Tensor], np.ndarray] | None = None,
        runtime: str = DEFAULT_RUNTIME,
    ):
        self.loaded = loaded
        self.spec: ModelSpec = loaded.spec
        self.dim: int = loaded.dim
        self.model = loaded.model
        self.preprocess = loaded.preprocess
        self.tokenizer = loaded.tokenizer
        self.image_tower = image_tower
        self.runtime = runtime if image_tower is not None else DEFAULT_RUNTIME
        self._text_cache: OrderedDict[str, np.ndarray] = OrderedDict()
        self._text_cache_lock = threading.Lock()

    @classmethod
    def from_spec(
        cls, spec: str | ModelSpec = DEFAULT_MODEL_SPEC, cache_dir: str | None = None, runtime: str = DEFAULT_RUNTIME
    ) -> Embedder:
        """Load the model; with runtime "onnx" the image tower runs int8 on ONNX Runtime (fp32 torch if it can't)."""
        threads = configure_cpu_threads()
        check_runtime(runtime)
        loaded = create_model(spec, cache_dir=cache_dir)
        return cls(loaded, image_tower(loaded, runtime, cache_dir, threads), runtime)

    def encode_pixels(self, pixels: torch.Tensor) -> np.ndarray:
        """Raw image-tower outputs (not normalised) for a preprocessed batch, on the chosen runtime."""
        if self.image_tower is not None:
            return self.image_tower(pixels)
        with torch.inference_mode():
            return self.model.encode_image(pixels).float().numpy()

    @torch.inference_mode()
    def embed_texts(self, texts: Sequence[str], batch_size: int = 128) -> np.ndarray:
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for start in range(0, len(texts), batch_size):
            tokens = self.tokenizer(list(texts[start : start + batch_size]))
            out[start : start + len(tokens)] = self._encode_text(tokens).float().numpy()
        return normalize(out)

    def _encode_text(self, tokens: torch.Tensor) -> torch.Tensor:
        """open_clip's CLIP.encode_text, run only up to the batch's longest prompt.

        The text tower is causal and pools at the end-of-text token, so the padding after it changes
        nothing; short prompts (queries, category prompts) then cost a fraction of the full context.
        Other model classes use their own encode_text unchanged.
        """
        model = self.model
        if type(model) is not open_clip.CLIP or model.text_pool_type != "argmax" or model.attn_mask is None:
            return model.encode_text(tokens)
        length = int((tokens != 0).sum(dim=1).max())
        tokens = tokens[:, :length]
        cast_dtype = model.transformer.get_cast_dtype()
        x = model.token_embedding(tokens).to(cast_dtype) + model.positional_embedding[:length].to(cast_dtype)
        x = model.transformer(x, attn_mask=model.attn_mask[:length, :length])
        x = text_global_pool(model.ln_final(x), tokens, "argmax")
        return (
            x @ model.text_projection
            if not isinstance(model.text_projection, torch.nn.Linear)
            else model.text_projection(x)
        )

    def embed_text(self, text: str) -> np.ndarray:
        """One text's vector; the last TEXT_CACHE_SIZE distinct texts are answered from memory."""
        with self._text_cache_lock:
            cached = self._text_cache.get(text)
            if cached is not None:
                self._text_cache.move_to_end(text)
                return cached.copy()
        vector = self.embed_texts([text])[0]
        with self._text_cache_lock:
            self._text_cache[text] = vector.copy()
            while len(self._text_cache) > TEXT_CACHE_SIZE:
                self._text_cache.popitem(last=False)
        return vector

    @torch.inference_mode()
    def embed_images(
        self,
        sources: Sequence[ImageSource],
        batch_size: int = 32,
        num_workers: int | None = None,
        progress: ProgressCallback | None = None,
        names: Sequence[str | Reason] | None = None,
    ) -> ImageEmbeddings:
        """Embed photos; decoding and preprocessing run in DataLoader workers, overlapped with the model.

        ``names`` (one per source) are what failure messages call the photos, e.g. the file names a CSV gave.
        """
        if num_workers is None:
            num_workers = 1 if len(sources) > 2 * batch_size else 0
        loader = DataLoader(
            _PreprocessedImages(sources, self.preprocess, names),
            batch_size=batch_size,
            num_workers=num_workers,
            collate_fn=_collate,
            worker_init_fn=_worker_init if num_workers else None,
            prefetch_factor=4 if num_workers else None,
        )
        vectors = np.zeros((len(sources), self.dim), dtype=np.float32)
        ok: list[int] = []
        failures: dict[int, Reason | str] = {}
        done = 0
        for indices, tensor, batch_failures in loader:
            failures.update(batch_failures)
            if tensor is not None:
                vectors[indices] = self.encode_pixels(tensor)
                ok.extend(indices)
            done += len(indices) + len(batch_failures)
            if progress:
                progress(done, len(sources))
        ok.sort()
        return ImageEmbeddings(vectors=normalize(vectors[ok]), ok=ok, failures=failures)

    def embed_image(self, source: ImageSource) -> np.ndarray:
        result = self.embed_images([source], num_workers=0)
        if result.failures:
            raise ImageError(result.failures[0])
        return result.vectors[0]
