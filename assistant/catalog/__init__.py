"""The catalog: products, their photos and vectors, and the pipeline that fills it.

``Catalog`` (``catalog.py``) is the facade the rest of the engine uses; ``ingest.py`` and ``upload.py``
validate and embed a products CSV, ``reindex.py`` and ``reembed.py`` re-embed after a model change or an
edit, ``vector_index.py`` wraps FAISS. The public names are re-exported here.
"""

from assistant.catalog.catalog import (
    MANIFEST_NAME,
    Catalog,
    CatalogError,
    Filters,
    Hit,
    Manifest,
    Product,
    ProductRecord,
    now_iso,
)

__all__ = ["MANIFEST_NAME", "Catalog", "CatalogError", "Filters", "Hit", "Manifest", "Product", "ProductRecord", "now_iso"]
