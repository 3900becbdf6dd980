"""A product's vector: its photo and its text (title, attributes, description) blended in CLIP space."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence

import numpy as np

from assistant.catalog.catalog import DEFAULT_IMAGE_WEIGHT
from assistant.clip.embedder import Embedder, ImageSource, ProgressCallback, blend
from assistant.reasons import Reason


def product_text(fields: Mapping[str, object]) -> str:
    """The text CLIP reads for a product: title and attributes first, since the tokenizer truncates the tail."""
    facts = [str(fields.get(k) or "").strip() for k in ("category", "metal", "stone")]
    facts = [f for f in facts if f and f != "none"]
    extra = fields.get("attributes") or {}
    facts += [f"{k} {v}" for k, v in sorted(dict(extra).items()) if str(v).strip()]
    head = str(fields.get("title") or "").strip()
    text = ", ".join([head, *facts]) if facts else head
    description = str(fields.get("description") or "").strip()
    return f"{text}. {description}" if description else text


def content_hash(fields: Mapping[str, object], image_sha256: str | None, image_weight: float, model_spec: str) -> str:
    """Hash of everything that goes into a product's vector: equal hashes need no re-embedding."""
    payload = {
        "text": product_text(fields),
        "image": image_sha256,
        "image_weight": round(float(image_weight), 4),
        "model": model_spec,
    }
    return hashlib.sha256(json.dumps(payload, sort_keys=True, ensure_ascii=False).encode()).hexdigest()


def _photo_name(name: str | Reason | None) -> str | Reason:
    return name if isinstance(name, Reason) else str(name)


def embed_products(
    embedder: Embedder,
    texts: Sequence[str],
    images: Sequence[ImageSource | None],
    image_weight: float = DEFAULT_IMAGE_WEIGHT,
    progress: ProgressCallback | None = None,
    num_workers: int | None = None,
    names: Sequence[str | Reason | None] | None = None,
) -> tuple[np.ndarray, dict[int, Reason | str]]:
    """Vectors for products (rows whose photo failed are zero) and {row: why its photo failed}.

    ``names[i]`` is what a failure message calls product i's photo (e.g. the CSV's file name).
    """
    if not 0.0 <= image_weight <= 1.0:
        raise ValueError(f"image weight must be within [0, 1], got {image_weight}")
    text_vectors = embedder.embed_texts(list(texts))
    with_image = [i for i, img in enumerate(images) if img is not None]
    result = embedder.embed_images(
        [images[i] for i in with_image],
        num_workers=num_workers,
        progress=progress,
        names=[_photo_name(names[i]) for i in with_image] if names is not None else None,
    )
    vectors = np.zeros_like(text_vectors)
    failures = {with_image[j]: msg for j, msg in result.failures.items()}
    image_vectors = {with_image[j]: v for j, v in zip(result.ok, result.vectors)}
    for i in range(len(texts)):
        if i in failures:
            continue
        image_vector = image_vectors.get(i)
        text_weight = 1.0 - image_weight if image_vector is not None else 1.0
        vectors[i] = blend([(image_vector, image_weight), (text_vectors[i], text_weight)])
    return vectors, failures
