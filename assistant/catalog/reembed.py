"""Embedding products already in a catalog, from their stored photos and texts: for reindex and edits."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import numpy as np

from assistant.catalog import audit
from assistant.catalog.catalog import Catalog, CatalogError, Product
from assistant.catalog.product_vectors import content_hash, embed_products, product_text
from assistant.catalog.records import AuditEntry
from assistant.catalog.trash import delete_products
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
    before and after (``undo_edit`` puts them back)."""
    changes = catalog.normalise_edit(fields)
    product = catalog.get_by_sku(sku)
    if product is None:
        raise CatalogError(f"no product with sku {sku!r}")
    saved = _save_edit(catalog, embedder, product, changes)
    editable = catalog.EDITABLE_FIELDS
    details = audit.edit_details({k: getattr(product, k) for k in editable}, {k: getattr(saved, k) for k in editable})
    if details["after"]:
        audit.record(catalog, audit.EDIT, sku, details)
    return saved


def undo_edit(catalog: Catalog, embedder: Embedder, entry: AuditEntry) -> Product:
    """Put back the fields an audited edit changed (itself an edit, audited like any other)."""
    if entry.action != audit.EDIT:
        raise CatalogError(f"only edits can be undone here; restore deleted products from the trash ({entry.action})")
    before = {k: v for k, v in entry.details.get("before", {}).items() if k in catalog.EDITABLE_FIELDS}
    return edit_product(catalog, embedder, entry.target, **before)


def undo_import(catalog: Catalog, embedder: Embedder, entry: AuditEntry) -> tuple[list[str], list[str]]:
    """Reverse an audited import: the products it added go to the trash (restorable), the products it
    updated get their shop fields back (a photo it replaced stays). Returns (trashed skus, restored skus)."""
    if entry.action != audit.IMPORT:
        raise CatalogError(f"{entry.action!r} is not an import")
    before = entry.details.get("before", {})
    added = [sku for sku in entry.details.get("skus", []) if sku not in before]
    missing = set(delete_products(catalog, added)) if added else set()
    for sku, fields in before.items():
        edit_product(catalog, embedder, sku, **fields)
    return [s for s in added if s not in missing], list(before)


def _save_edit(catalog: Catalog, embedder: Embedder, product: Product, changes: dict) -> Product:
    sku = product.sku
    edited = dataclasses.replace(product, **changes)
    text_unchanged = product_text(dataclasses.asdict(edited)) == product_text(dataclasses.asdict(product))
    if not catalog.TEXT_FIELDS & changes.keys() or text_unchanged:
        return catalog.update_fields(sku, **changes)
    vector = embed_stored_products(catalog, embedder, [edited])[0]
    return catalog.update_fields(sku, embedding=(vector, stored_content_hash(catalog, edited)), **changes)
