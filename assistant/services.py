"""The engine's front door for the CLI and the app: load the model, open a catalog, build the search.

Invariant: the command line and the pages open models and catalogs only through these functions, so a
catalog is always opened with the model it was built with and both front ends behave the same.
"""

from __future__ import annotations

from assistant.catalog import MANIFEST_NAME, Catalog, CatalogError, Manifest
from assistant.clip.embedder import Embedder
from assistant.search import SearchEngine
from assistant.settings import Settings


def load_embedder(settings: Settings) -> Embedder:
    return Embedder.from_spec(settings.model_spec, cache_dir=settings.model_cache, runtime=settings.runtime)


def open_catalog(
    settings: Settings, embedder: Embedder, index_kind: str | None = None, image_weight: float | None = None
) -> Catalog:
    """Open the catalog (folder or database) for the embedder's model, creating it (with the given settings)
    when absent."""
    catalog = Catalog.open(settings.catalog_location, embedder.spec.name, embedder.dim, index_kind=index_kind)
    if image_weight is not None and image_weight != catalog.manifest.image_weight:
        if catalog.count():
            raise CatalogError(
                f"catalog {catalog.location} blends photos at weight {catalog.manifest.image_weight}; "
                "changing it would mix two kinds of vectors. Use a new --catalog for another weight."
            )
        catalog.manifest.image_weight = image_weight
        catalog.save_manifest()
    return catalog


def stored_manifest(settings: Settings) -> Manifest | None:
    """The manifest of the catalog the settings name, or None when there is no catalog there yet."""
    if settings.catalog_url:
        from assistant.catalog.postgres.catalog import stored_manifest as database_manifest

        return database_manifest(settings.catalog_url)
    manifest_path = settings.catalog_dir / MANIFEST_NAME
    return Manifest.read(manifest_path) if manifest_path.exists() else None


def open_existing_catalog(settings: Settings) -> Catalog:
    """Open a catalog with the model it was built with: for commands that embed nothing."""
    manifest = stored_manifest(settings)
    if manifest is None:
        raise CatalogError(
            f"no catalog at {settings.catalog_location}; "
            "fill one with: python -m assistant ingest PRODUCTS.csv --images DIR"
        )
    return Catalog.open(settings.catalog_location, manifest.model_spec, create=False)


def make_search_engine(catalog: Catalog, embedder: Embedder) -> SearchEngine:
    """Search that reads Chinese queries through the catalog's category and attribute vocabularies, as the app does."""
    from assistant.categories import CategoryRegistry, QueryTranslator  # categories build on the catalog

    return SearchEngine(
        catalog, embedder, translate=QueryTranslator.from_vocabularies(CategoryRegistry.load(catalog.root))
    )
