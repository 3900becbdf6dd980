"""Shared fixtures: the tiny random-weight CLIP model and generated catalogs, so every path runs in seconds."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

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
def catalog(tmp_path, tiny_embedder, synthetic_source) -> Catalog:
    """A fresh catalog folder holding the 60 synthetic products."""
    cat = Catalog.open(tmp_path / "catalog", tiny_embedder.spec.name, tiny_embedder.dim)
    report = ingest_csv(cat, tiny_embedder, synthetic_source, synthetic_source.parent / "images")
    assert report.added == 60 and not report.rejected
    return cat


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
