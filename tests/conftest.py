"""Shared fixtures: the tiny random-weight CLIP model and generated catalogs, so every path runs in seconds."""

from __future__ import annotations

import os
from pathlib import Path

import postgres_server
import pytest
from app_support import build_catalog, copy_catalog

from assistant.catalog import Catalog
from assistant.catalog.ingest import ingest_csv
from assistant.catalog.synthetic import write_synthetic_catalog
from assistant.clip.embedder import Embedder
from assistant.clip.factory import TEST_MODEL_SPEC

#: Real jewelry photos for development checks (ASSISTANT_DEV_DATA overrides, e.g. for a worktree elsewhere);
#: absent on a user's fresh clone, so tests using them skip.
SHARED_DATA = Path(os.environ.get("ASSISTANT_DEV_DATA") or Path(__file__).resolve().parents[2] / "shared" / "data")


@pytest.fixture(scope="session")
def tiny_embedder() -> Embedder:
    return Embedder.from_spec(TEST_MODEL_SPEC)


@pytest.fixture(scope="session")
def synthetic_source(tmp_path_factory) -> Path:
    """A generated 60-product CSV with photos in ``images/`` beside it (read-only for tests)."""
    return write_synthetic_catalog(tmp_path_factory.mktemp("synthetic"), n=60, seed=0)


@pytest.fixture
def store_kind(request) -> str:
    """Where ``catalog_location`` keeps the catalog: "folder" unless a test is parametrised with ``both_stores``."""
    return getattr(request, "param", "folder")


@pytest.fixture
def catalog_location(store_kind, tmp_path, request, monkeypatch) -> str:
    """Where a test's catalog lives: a new folder, or a new PostgreSQL database (its photo cache in tmp_path)."""
    if store_kind == "postgres":
        monkeypatch.setenv("ASSISTANT_CACHE_DIR", str(tmp_path / "cache"))
        return request.getfixturevalue("postgres_url")
    return str(tmp_path / "catalog")


@pytest.fixture
def catalog(catalog_location, tiny_embedder, synthetic_source) -> Catalog:
    """A fresh catalog (a folder, or a database under ``both_stores``) holding the 60 synthetic products."""
    cat = Catalog.open(catalog_location, tiny_embedder.spec.name, tiny_embedder.dim)
    report = ingest_csv(cat, tiny_embedder, synthetic_source, synthetic_source.parent / "images")
    assert report.added == 60 and not report.rejected
    yield cat
    cat.close()


@pytest.fixture
def jc5() -> Path:
    root = SHARED_DATA / "jc5"
    if not (root / "labels.csv").exists():
        pytest.skip("../shared/data/jc5 is not present (development data, not redistributable)")
    return root


def pytest_collection_modifyitems(items) -> None:
    """Tests that read the real photos are marked ``devdata``, so ``-m "not devdata"`` leaves them out."""
    for item in items:
        if "jc5" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.devdata)


@pytest.fixture(scope="session")
def postgres_server_instance():
    """A throwaway PostgreSQL 15 for the whole run (see tests/postgres_server.py); skipped where it cannot start."""
    reason = postgres_server.missing_reason()
    if reason:
        pytest.skip(f"PostgreSQL tests skipped: {reason}")
    server = postgres_server.PostgresServer()
    try:
        server.init()
        server.start()
        yield server
    finally:
        server.remove()


@pytest.fixture
def postgres_url(postgres_server_instance) -> str:
    """The URL of a new, empty database of its own for one test, dropped afterwards."""
    url = postgres_server_instance.database()
    yield url
    postgres_server_instance.drop_database(url)


# The app tests' catalogs (the helpers that build them are in app_support.py).
@pytest.fixture(scope="module")
def catalog_template(tmp_path_factory, tiny_embedder, synthetic_source) -> Path:
    """The 60 synthetic products, ingested once per test module; tests copy it before writing."""
    return build_catalog(tmp_path_factory.mktemp("app-catalog") / "catalog", tiny_embedder, synthetic_source)


@pytest.fixture
def app_catalog(catalog_template, tmp_path) -> Path:
    """A private copy of the template catalog for one test."""
    return copy_catalog(catalog_template, tmp_path / "catalog")
