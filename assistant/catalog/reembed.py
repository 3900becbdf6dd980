"""Embedding products already in a catalog, from their stored photos and texts: for reindex and edits."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import numpy as np

from assistant.catalog import audit
from assistant.catalog.catalog import Catalog, CatalogError, Product, new_change_id
from assistant.catalog.product_vectors import content_hash, embed_products, product_text
from assistant.clip.embedder import Embedder


def embed_stored_products(catalog: Catalog, embedder: Embedder, products: Sequence[Product]) -> np.ndarray:
    """Vectors for stored products; a stored photo that no longer decodes falls back to the text alone."""
    photos = []
    for product in products:
        path = catalog.image_path(product)
        photos.append(path.read_bytes() if path is not None and path.exists() else None)
    texts = [product_text(dataclasses.asdict(p)) for p in products]
    vectors, failures = embed_products(embedder, texts, photos, catalog.manifest.image_weight)
    if failures:
        text_only = sorted(failures)
        vectors[text_only], _ = embed_products(embedder, [texts[n] for n in text_only], [None] * len(text_only))
    return vectors


def stored_content_hash(catalog: Catalog, product: Product, model_spec: str | None = None) -> str:
    """The content hash ingest would give this product, so a later ingest of the same row skips it."""
    return content_hash(
        dataclasses.asdict(product),
        product.image_sha256,
        catalog.manifest.image_weight,
        model_spec or catalog.model_spec,
    )


def edit_product(catalog: Catalog, embedder: Embedder, sku: str, **fields) -> Product:
    """Edit a product's shop fields; when a field CLIP reads changes, its vector follows in the same write,
    so search finds the product by its new title or category at once. The audit trail keeps the fields
    before and after, and the store the whole row as it was (``assistant.undo`` puts it back)."""
    changes = catalog.normalise_edit(fields)
    product = catalog.get_by_sku(sku)
    if product is None:
        raise CatalogError(f"no product with sku {sku!r}")
    change = new_change_id()
    saved = _save_edit(catalog, embedder, product, changes, change)
    editable = catalog.EDITABLE_FIELDS
    details = audit.edit_details({k: getattr(product, k) for k in editable}, {k: getattr(saved, k) for k in editable})
    if details["after"]:
        audit.record(catalog, audit.EDIT, sku, details | audit.product_change(change, 1))
    return saved


def _save_edit(catalog: Catalog, embedder: Embedder, product: Product, changes: dict, change: str) -> Product:
    sku = product.sku
    edited = dataclasses.replace(product, **changes)
    text_unchanged = product_text(dataclasses.asdict(edited)) == product_text(dataclasses.asdict(product))
    if not catalog.TEXT_FIELDS & changes.keys() or text_unchanged:
        return catalog.update_fields(sku, change=change, **changes)
    vector = embed_stored_products(catalog, embedder, [edited])[0]
    embedding = (vector, stored_content_hash(catalog, edited))
    return catalog.update_fields(sku, embedding=embedding, change=change, **changes)
