"""Re-embed a catalog with another model from its stored photos and texts; resumable batch by batch."""

from __future__ import annotations

from .catalog import Catalog
from .embedder import Embedder, ProgressCallback
from .product_vectors import embed_products, product_text


def reindex(catalog: Catalog, embedder: Embedder, progress: ProgressCallback | None = None, batch_size: int = 128) -> int:
    """Move every product's vector into ``embedder``'s space; returns how many were re-embedded.

    Rows already embedded with the target model (by an interrupted earlier run) are skipped.
    """
    target = embedder.spec.name
    catalog.begin_reindex(target)
    todo = catalog.products_to_reembed(target)
    for start in range(0, len(todo), batch_size):
        batch = todo[start : start + batch_size]
        photos = []
        for product in batch:
            path = catalog.image_path(product)
            photos.append(path.read_bytes() if path is not None and path.exists() else None)
        vectors, failures = embed_products(
            embedder, [product_text(p.__dict__) for p in batch], photos, catalog.manifest.image_weight
        )
        if failures:  # stored photos were readable when ingested; fall back to the text alone
            text_only = [n for n in failures]
            vectors[text_only], _ = embed_products(embedder, [product_text(batch[n].__dict__) for n in text_only], [None] * len(text_only))
        catalog.store_reembedded([p.id for p in batch], vectors, target)
        if progress:
            progress(min(start + batch_size, len(todo)), len(todo))
    catalog.finish_reindex(target, embedder.dim)
    return len(todo)
