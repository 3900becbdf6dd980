"""Search a catalog by text, by photo, or both, with facet filters."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from assistant.catalog import Catalog, Filters, Hit
from assistant.clip.embedder import Embedder, ImageSource, blend

#: Share of the text in a hybrid (text + photo) query.
DEFAULT_TEXT_WEIGHT = 0.5


class SearchEngine:
    """Text-to-product, photo-to-product and hybrid search over one catalog, in the embedder's space."""

    def __init__(self, catalog: Catalog, embedder: Embedder, translate: Callable[[str], str] | None = None):
        if embedder.spec.name != catalog.model_spec:
            raise ValueError(f"embedder {embedder.spec.name!r} does not match catalog model {catalog.model_spec!r}")
        self.catalog = catalog
        self.embedder = embedder
        self.translate = translate

    def query_text(self, text: str) -> str:
        """The text CLIP reads for a query: translated when a translator (e.g. Chinese -> English) is set."""
        text = " ".join(text.split())
        return self.translate(text) if self.translate else text

    def query_vector(
        self, text: str | None = None, image: ImageSource | None = None, text_weight: float = DEFAULT_TEXT_WEIGHT
    ) -> np.ndarray:
        """One unit query vector: the weighted sum of the normalised text and photo vectors."""
        text = (text or "").strip() or None
        if text is None and image is None:
            raise ValueError("a search needs text, a photo, or both")
        if not 0.0 <= text_weight <= 1.0:
            raise ValueError(f"text weight must be within [0, 1], got {text_weight}")
        text_vector = self.embedder.embed_text(self.query_text(text)) if text else None
        image_vector = self.embedder.embed_image(image) if image is not None else None
        if text_vector is None or image_vector is None:
            return text_vector if image_vector is None else image_vector
        return blend([(text_vector, text_weight), (image_vector, 1.0 - text_weight)])

    def search(
        self,
        text: str | None = None,
        image: ImageSource | None = None,
        filters: Filters | None = None,
        k: int = 10,
        text_weight: float = DEFAULT_TEXT_WEIGHT,
    ) -> list[Hit]:
        return self.catalog.search_vector(self.query_vector(text, image, text_weight), k=k, filters=filters)
