"""The catalog: products, their photos and vectors, and the pipeline that fills it.

``Catalog`` (``catalog.py``) is the facade the rest of the engine uses, over a ``ProductStore``
(``store.py``, the interface; ``sqlite_store.py``, the folder's SQLite implementation), a ``PhotoStore``
(``photos.py``) and an ``IndexSync`` (``index_sync.py``, keeps the FAISS index in step). ``ingest.py`` and
``upload.py`` validate and embed a products CSV, ``reindex.py`` and ``reembed.py`` re-embed after a model
change or an edit, ``vector_index.py`` wraps FAISS. The public names are re-exported here.
"""

from assistant.catalog.catalog import MANIFEST_NAME, Catalog, CatalogError, Filters, Hit, Manifest, Product, now_iso
from assistant.catalog.records import ProductRecord
from assistant.catalog.store import ProductStore, ProductWriter

__all__ = [
    "MANIFEST_NAME",
    "Catalog",
    "CatalogError",
    "Filters",
    "Hit",
    "Manifest",
    "Product",
    "ProductRecord",
    "ProductStore",
    "ProductWriter",
    "now_iso",
]
