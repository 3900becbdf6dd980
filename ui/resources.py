"""The model, the catalog and the engines over it, loaded once per server process with st.cache_resource.

Each page asks for ``current_shop()``; the first call of a server loads the model (seconds to a minute),
later calls are free. The catalog object notices writes by other processes itself (its generation);
the category registry and the personaliser checkpoint are re-read when their files change, so a
category added on the Merchandiser page (or from the CLI) or a newly trained personaliser is used on
the next click.

Once a shop is loaded, every object alive is moved out of the garbage collector's sight (``gc.freeze``):
Streamlit collects garbage after every script run, and a full pass over the ~430,000 objects of torch,
open_clip and the model took 0.3-1 s per tap with the interpreter lock held, so the server answered nothing
meanwhile. Later collections see only what later runs create.
"""

from __future__ import annotations

import gc
import logging
from dataclasses import dataclass
from pathlib import Path

import streamlit as st

from assistant.catalog import Catalog
from assistant.categories import CatalogCategories, CategoryRegistry, QueryTranslator, RegistryError
from assistant.categories.attributes import load_attributes
from assistant.categories.catalog_labels import head_path
from assistant.categories.registry import CATEGORIES_DIR, REGISTRY_NAME
from assistant.clip.embedder import Embedder
from assistant.personalization.checkpoint import CheckpointError, default_checkpoint_path
from assistant.personalization.serving import Personalizer
from assistant.search import SearchEngine
from assistant.services import load_embedder, open_catalog
from assistant.settings import Settings
from assistant.shop.display import chinese_facet_names
from assistant.shop.results import NonsenseQueries, match_threshold

log = logging.getLogger(__name__)


#: Errors that stop the app from starting and that a shop owner can fix; shown as a message, not a traceback.
def _registry_stamp(catalog: Catalog) -> int:
    """Changes whenever the catalog's category registry file is written (0 while it has none)."""
    return _file_stamp(catalog.root / CATEGORIES_DIR / REGISTRY_NAME)


@st.cache_resource(max_entries=8, show_spinner=False)
def _translator(catalog_root: str, registry_stamp: int) -> QueryTranslator | None:
    """Chinese -> English for search; None (English only) while the registry file is broken, which the
    Merchandiser page reports."""
    try:
        return QueryTranslator.from_vocabularies(CategoryRegistry.load(catalog_root))
    except RegistryError as exc:
        log.warning("searching without Chinese translation: %s", exc)
        return None


@st.cache_resource(max_entries=8, show_spinner=False)
def _chinese_facet_names(catalog_root: str, registry_stamp: int) -> dict[str, str]:
    """Chinese names of facet values; the built-in vocabulary alone while the registry file is broken."""
    try:
        categories = list(CategoryRegistry.load(catalog_root))
    except RegistryError:
        categories = []
    return chinese_facet_names(categories, load_attributes())


@st.cache_resource(max_entries=4, show_spinner=False)  # the Merchandiser page says "labelling"
def _categories(
    _catalog: Catalog, _embedder: Embedder, catalog_root: str, registry_stamp: int, head_stamp: int
) -> CatalogCategories:
    return CatalogCategories(_catalog, _embedder)


def _file_stamp(path: Path) -> int:
    """Changes whenever the file is (re)written; 0 while it does not exist."""
    return path.stat().st_mtime_ns if path.exists() else 0


@st.cache_resource(max_entries=4, show_spinner=False)
def _personalizer(_catalog: Catalog, catalog_root: str, checkpoint_stamp: int) -> tuple[Personalizer, str | None]:
    """The catalog's trained personaliser, or the centroid fallback and why the checkpoint was not used."""
    try:
        return Personalizer.for_catalog(_catalog), None
    except CheckpointError as exc:
        return Personalizer.prior(_catalog.model_spec), str(exc)


@st.cache_resource(max_entries=4, show_spinner=False)
def _nonsense(_embedder: Embedder, model_spec: str) -> NonsenseQueries:
    return NonsenseQueries.embed(_embedder)


@st.cache_resource(max_entries=64, show_spinner=False)
def _match_threshold(
    _catalog: Catalog, _nonsense: NonsenseQueries, root: str, generation: int, words: bool, photo: bool, weight: float
) -> float:
    return match_threshold(_catalog, _nonsense.like(words, photo, weight))


@st.cache_resource(max_entries=64, show_spinner=False)
def _facet_values(_catalog: Catalog, root: str, generation: int, column: str) -> tuple[str, ...]:
    return tuple(_catalog.facet_values(column))


@st.cache_resource(max_entries=16, show_spinner=False)
def _price_range(_catalog: Catalog, root: str, generation: int) -> tuple[float, float] | None:
    return _catalog.price_range()


@dataclass(frozen=True)
class Shop:
    """Everything a page needs: the settings, the embedder, the catalog, and the engines over them."""

    settings: Settings
    embedder: Embedder
    catalog: Catalog

    @property
    def search(self) -> SearchEngine:
        """Search that reads Chinese queries through the catalog's category and attribute vocabularies."""
        translate = _translator(str(self.catalog.root), _registry_stamp(self.catalog))
        return SearchEngine(self.catalog, self.embedder, translate=translate)

    def categories(self) -> CatalogCategories:
        """The catalog's categories and product labels; reloaded when the registry or the trained few-shot head
        (``train categories``) is rewritten, and kept up to date with catalog writes by the engine."""
        return _categories(
            self.catalog,
            self.embedder,
            str(self.catalog.root),
            _registry_stamp(self.catalog),
            _file_stamp(head_path(self.catalog)),
        )

    def chinese_facet_names(self) -> dict[str, str]:
        """'rose gold' -> '玫瑰金' for the Chinese interface, re-read when the category registry changes."""
        return _chinese_facet_names(str(self.catalog.root), _registry_stamp(self.catalog))

    def match_threshold(self, words: bool, photo: bool, text_weight: float) -> float:
        """The score a close match beats for this kind of query (assistant/shop/results.py), per catalog generation."""
        nonsense = _nonsense(self.embedder, self.embedder.spec.name)
        generation = self.catalog.generation
        weight = round(text_weight, 2) if words and photo else 0.0
        return _match_threshold(self.catalog, nonsense, str(self.catalog.root), generation, words, photo, weight)

    def facet_values(self, column: str) -> tuple[str, ...]:
        """A facet's values in the catalog (for the shopper's filters), read again only after a catalog write:
        each read scans every product."""
        return _facet_values(self.catalog, str(self.catalog.root), self.catalog.generation, column)

    def price_range(self) -> tuple[float, float] | None:
        """The catalog's lowest and highest price, read again only after a catalog write."""
        return _price_range(self.catalog, str(self.catalog.root), self.catalog.generation)

    def personalizer(self) -> tuple[Personalizer, str | None]:
        """The ranking for "for you" (re-read when ``train personalizer`` writes a new checkpoint), and any problem."""
        stamp = _file_stamp(default_checkpoint_path(self.catalog.root))
        return _personalizer(self.catalog, str(self.catalog.root), stamp)


@st.cache_resource(show_spinner=False)  # run_app says "loading" in the session's language
def _embedder(model_spec: str, model_cache: str | None) -> Embedder:
    return load_embedder(Settings(catalog_dir=Path("."), model_spec=model_spec, model_cache=model_cache))


@st.cache_resource(show_spinner=False)
def _shop(catalog_location: str, model_spec: str, model_cache: str | None) -> Shop:
    settings = Settings.resolve(catalog_location, model_spec, model_cache)
    embedder = _embedder(model_spec, model_cache)
    catalog = open_catalog(settings, embedder)
    if settings.catalog_url:  # a shared database: hear every other server's and the CLI's commits at once
        catalog.listen()
    shop = Shop(settings=settings, embedder=embedder, catalog=catalog)
    _freeze_long_lived_objects()
    return shop


def _freeze_long_lived_objects() -> None:
    """Collect once, then exempt everything alive (the model, torch, the catalog) from later collections: they
    live as long as the server process, and Streamlit's collection after each run then costs milliseconds."""
    gc.collect()
    gc.freeze()


def current_settings() -> Settings:
    """ASSISTANT_CATALOG / ASSISTANT_MODEL / ASSISTANT_MODEL_CACHE, read on every run like the CLI does."""
    return Settings.resolve()


def current_shop() -> Shop:
    """The loaded shop for the current settings; raises an ``AssistantError`` (missing weights, a bad spec, a
    catalog of another model) when it cannot load."""
    settings = current_settings()
    location = settings.catalog_url or str(settings.catalog_dir.resolve())
    return _shop(location, settings.model_spec, settings.model_cache)
