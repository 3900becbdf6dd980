"""Re-embed a catalog with another model from its stored photos and texts; resumable batch by batch."""

from __future__ import annotations

from assistant.catalog import audit
from assistant.catalog.catalog import Catalog
from assistant.catalog.reembed import embed_stored_products, stored_content_hash
from assistant.clip.embedder import Embedder, ProgressCallback


def reindex(
    catalog: Catalog, embedder: Embedder, progress: ProgressCallback | None = None, batch_size: int = 128
) -> int:
    """Move every product's vector into ``embedder``'s space; returns how many were re-embedded.

    Rows already embedded with the target model (by an interrupted earlier run) are skipped.
    """
    target = embedder.spec.name
    catalog.begin_reindex(target)
    todo = catalog.products_to_reembed(target)
    for start in range(0, len(todo), batch_size):
        batch = todo[start : start + batch_size]
        vectors = embed_stored_products(catalog, embedder, batch)
        hashes = [stored_content_hash(catalog, p, target) for p in batch]
        catalog.store_reembedded([p.id for p in batch], vectors, hashes, target)
        if progress:
            progress(min(start + batch_size, len(todo)), len(todo))
    before = catalog.model_spec
    catalog.finish_reindex(target, embedder.dim)
    details = {"was": before, "products": len(todo), "undo": audit.NOT_UNDONE[audit.REINDEX]}
    audit.record(catalog, audit.REINDEX, target, details)
    return len(todo)
