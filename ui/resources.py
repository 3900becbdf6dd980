"""The model, the catalog and the search engine, loaded once per server process with st.cache_resource.

Each page asks for ``current_shop()``; the first call of a server loads the model (seconds to a minute),
later calls are free. The catalog object notices writes by other processes itself (its generation),
so a CLI ingest while the app runs shows up on the next click.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import streamlit as st

from assistant.catalog import Catalog, CatalogError
from assistant.catalog_commands import load_embedder, open_catalog
from assistant.embedder import Embedder
from assistant.models import ModelSpecError, ModelWeightsMissing
from assistant.search import SearchEngine
from assistant.settings import Settings

#: Errors that stop the app from starting and that a shop owner can fix; shown as a message, not a traceback.
STARTUP_ERRORS = (ModelWeightsMissing, ModelSpecError, CatalogError)


@dataclass(frozen=True)
class Shop:
    """Everything a page needs: the settings, the embedder, the catalog and search over it."""

    settings: Settings
    embedder: Embedder
    catalog: Catalog
    search: SearchEngine


@st.cache_resource(show_spinner="Loading the image model (once per server)…")
def _embedder(model_spec: str, model_cache: str | None) -> Embedder:
    return load_embedder(Settings(catalog_dir=Path("."), model_spec=model_spec, model_cache=model_cache))


@st.cache_resource(show_spinner="Opening the catalog…")
def _shop(catalog_dir: str, model_spec: str, model_cache: str | None) -> Shop:
    settings = Settings(catalog_dir=Path(catalog_dir), model_spec=model_spec, model_cache=model_cache)
    embedder = _embedder(model_spec, model_cache)
    catalog = open_catalog(settings, embedder)
    return Shop(settings=settings, embedder=embedder, catalog=catalog, search=SearchEngine(catalog, embedder))


def current_settings() -> Settings:
    """ASSISTANT_CATALOG / ASSISTANT_MODEL / ASSISTANT_MODEL_CACHE, read on every run like the CLI does."""
    return Settings.resolve()


def current_shop() -> Shop:
    """The loaded shop for the current settings; raises one of STARTUP_ERRORS when it cannot load."""
    settings = current_settings()
    return _shop(str(settings.catalog_dir.resolve()), settings.model_spec, settings.model_cache)
