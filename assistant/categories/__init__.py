"""Zero-shot and few-shot jewelry categories: registry, prototypes in FAISS, MAML, evaluation, preview.

Engine API for the app (no Streamlit here):

- ``CategoryRegistry.load(catalog_root)`` / ``.save()`` / ``.add`` / ``.update`` / ``.remove``;
- ``CatalogCategories(catalog, embedder)``: ``classify(vectors)``, ``product_labels()``, ``counts()``,
  ``low_confidence()``, ``add/update/remove`` (saved, then re-classified incrementally), ``translator()``;
- ``preview_category(catalog, embedder, name, description, photos=None) -> Preview`` with ``apply()``/``discard()``;
- ``translate_query("珍珠耳环") -> "pearl earring"``.
"""

from assistant.categories.catalog_labels import CATEGORY, CatalogCategories, ProductLabel, RefreshReport
from assistant.categories.classifier import Classification, Classifier, LabelSet
from assistant.categories.preview import Preview, TakenProduct, preview_category, preview_draft
from assistant.categories.registry import UNKNOWN, Category, CategoryRegistry, RegistryError
from assistant.categories.translate import QueryTranslator, translate_query

__all__ = [
    "CATEGORY",
    "UNKNOWN",
    "CatalogCategories",
    "Category",
    "CategoryRegistry",
    "Classification",
    "Classifier",
    "LabelSet",
    "Preview",
    "ProductLabel",
    "QueryTranslator",
    "RefreshReport",
    "RegistryError",
    "TakenProduct",
    "preview_category",
    "preview_draft",
    "translate_query",
]
