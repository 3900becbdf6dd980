"""Category and attribute prototypes: prompt-ensemble text vectors, blended with example photos.

A text prototype is the normalised mean of CLIP text vectors over prompt templates x (name and
synonyms), plus the description. With K example photos the prototype is the prototype blend
(``assistant.categories.blend``), or what a meta-trained head adapts to them (any ``AdaptingHead``).
Vectors are cached by content fingerprint (per model), so only what changed is embedded again.
"""

from __future__ import annotations

import hashlib
import io
import json
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path
from typing import Protocol

import numpy as np

from assistant.atomic import atomic_write_bytes
from assistant.categories.attributes import Attribute
from assistant.categories.blend import PRIOR_STRENGTH, blend_prototype, mean_prototype
from assistant.categories.classifier import LabelSet, clip_logit_scale
from assistant.categories.registry import CATEGORIES_DIR, DATA_DIR, Category, CategoryRegistry, RegistryError
from assistant.clip.embedder import Embedder, ImageSource
from assistant.images import ImageError

#: The prompt templates of every category (each with one ``{}`` for a name), beside the default categories.
DEFAULT_PROMPTS_FILE = DATA_DIR / "prompts.json"
VECTOR_CACHE_NAME = "vectors.npz"


class AdaptingHead(Protocol):
    """What the labeller needs from a few-shot head (``fewshot.Maml`` is one): class prototypes adapted to
    text priors and support photos, in a space reached by ``normalize(x * feature_gain)``."""

    @property
    def logit_scale(self) -> float: ...

    @property
    def feature_gain(self) -> np.ndarray: ...

    def class_prototypes(
        self, text: np.ndarray, support: np.ndarray, labels: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]: ...


@lru_cache(maxsize=4)
def category_templates(path: Path = DEFAULT_PROMPTS_FILE) -> tuple[str, ...]:
    """The category prompt templates of a prompts file (read once); RegistryError naming the file when unusable."""
    try:
        templates = json.loads(Path(path).read_text(encoding="utf-8"))["category_templates"]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise RegistryError(f"{path} has no readable 'category_templates' list: {exc}") from exc
    if not isinstance(templates, list) or not templates:
        raise RegistryError(f"{path}: 'category_templates' must be a non-empty list of prompts")
    for n, template in enumerate(templates, 1):
        if not isinstance(template, str) or template.count("{}") != 1 or template.count("{") != 1:
            raise RegistryError(f"{path}: category template #{n} ({template!r}) needs exactly one {{}} for the name")
    return tuple(templates)


def category_prompts(category: Category, templates: Sequence[str] | None = None) -> list[str]:
    """Every template (default: ``category_templates()``) over the category's English names, and its
    description as one more prompt."""
    templates = category_templates() if templates is None else templates
    prompts = [t.format(name) for name in category.names for t in templates]
    return prompts + ([category.description] if category.description else [])


def fingerprint(*parts: object) -> str:
    return hashlib.sha256(json.dumps(parts, ensure_ascii=False, sort_keys=True).encode("utf-8")).hexdigest()[:32]


class VectorCache:
    """Vectors by key for one model, in ``<catalog>/categories/vectors.npz`` (or only in memory)."""

    def __init__(self, model_spec: str, path: Path | None = None):
        self.model_spec = model_spec
        self.path = path
        self._vectors: dict[str, np.ndarray] = {}
        self._dirty = False
        if path is not None and path.exists():
            try:
                with np.load(path, allow_pickle=False) as data:
                    if str(data["model"]) == model_spec:
                        self._vectors = dict(zip(data["keys"].tolist(), data["vectors"]))
            except (OSError, ValueError, KeyError):
                self._vectors = {}  # a damaged cache only costs re-embedding

    @classmethod
    def for_catalog(cls, catalog_root: Path, model_spec: str) -> VectorCache:
        return cls(model_spec, Path(catalog_root) / CATEGORIES_DIR / VECTOR_CACHE_NAME)

    def get(self, key: str) -> np.ndarray | None:
        return self._vectors.get(key)

    def put(self, key: str, vector: np.ndarray) -> None:
        self._vectors[key] = np.asarray(vector, dtype=np.float32)
        self._dirty = True

    def save(self) -> None:
        if self.path is None or not self._dirty:
            return
        keys = sorted(self._vectors)
        buffer = io.BytesIO()
        np.savez(
            buffer,
            model=np.array(self.model_spec),
            keys=np.array(keys),
            vectors=np.stack([self._vectors[k] for k in keys]),
        )
        self.path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_bytes(self.path, buffer.getvalue())
        self._dirty = False


class PrototypeBuilder:
    """Builds prototypes with one embedder, embedding only prompts and photos not yet in the cache."""

    def __init__(self, embedder: Embedder, cache: VectorCache | None = None, prior_strength: float = PRIOR_STRENGTH):
        self.embedder = embedder
        self.cache = cache or VectorCache(embedder.spec.name)
        self.prior_strength = prior_strength
        self.logit_scale = clip_logit_scale(embedder)

    def text_prototype(self, prompts: Sequence[str]) -> np.ndarray:
        key = "text:" + fingerprint(list(prompts))
        vector = self.cache.get(key)
        if vector is None:
            vector = mean_prototype(self.embedder.embed_texts(list(prompts)))
            self.cache.put(key, vector)
        return vector

    def photo_vectors(self, photos: Sequence[ImageSource]) -> np.ndarray:
        """Embed draft photos (paths, bytes or PIL images); a photo that won't decode is an error."""
        if not photos:
            return np.zeros((0, self.embedder.dim), np.float32)
        result = self.embedder.embed_images(list(photos), num_workers=0)
        if result.failures:
            index, message = next(iter(result.failures.items()))
            raise ImageError(f"example photo #{index + 1}: {message}")
        return result.vectors

    def example_vectors(self, registry: CategoryRegistry, category: Category) -> np.ndarray:
        """Vectors of a category's stored example photos, cached by their content-hash file names."""
        rows = {name: self.cache.get("photo:" + name) for name in category.examples}
        missing = [name for name, vector in rows.items() if vector is None]
        if missing:
            for name, vector in zip(missing, self.photo_vectors([registry.example_path(n) for n in missing])):
                self.cache.put("photo:" + name, vector)
                rows[name] = vector
        return (
            np.stack([rows[n] for n in category.examples])
            if category.examples
            else np.zeros((0, self.embedder.dim), np.float32)
        )

    def category_labels(
        self,
        registry: CategoryRegistry,
        head: AdaptingHead | None = None,
        draft_photos: dict[str, np.ndarray] | None = None,
    ) -> LabelSet:
        """Prototypes of every category: text prior and example photos (plus a draft's unsaved photos),
        combined by the prototype blend, or by a meta-trained MAML head adapted to all of them at once."""
        categories = list(registry)
        if not categories:
            return LabelSet([], np.zeros((0, self.embedder.dim), np.float32), logit_scale=self.logit_scale)
        text = np.stack([self.text_prototype(category_prompts(c)) for c in categories])
        photos = [self.example_vectors(registry, c) for c in categories]
        for n, category in enumerate(categories):
            extra = (draft_photos or {}).get(category.name)
            if extra is not None and len(extra):
                photos[n] = np.concatenate([photos[n], extra])
        if head is None:
            vectors = np.stack([blend_prototype(t, p, self.prior_strength) for t, p in zip(text, photos)])
            return LabelSet(registry.names, vectors, registry.parents(), self.logit_scale)
        support = np.concatenate(photos)
        labels = np.concatenate([np.full(len(p), n) for n, p in enumerate(photos)]).astype(int)
        prototypes, bias = head.class_prototypes(text, support, labels)
        return LabelSet(registry.names, prototypes, registry.parents(), head.logit_scale, bias, head.feature_gain)

    def attribute_labels(self, attribute: Attribute) -> LabelSet:
        vectors = np.stack([self.text_prototype(attribute.prompt_texts(v)) for v in attribute.values])
        return LabelSet([v.name for v in attribute.values], vectors, logit_scale=self.logit_scale)
