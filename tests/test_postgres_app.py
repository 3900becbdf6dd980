"""The Streamlit app on a catalog in PostgreSQL: an app server searches the shared catalog and shows, on its
next run, a product another process just deleted as gone."""

from __future__ import annotations

import pytest
from app_support import card_titles, catalog_template, rerun, run_app  # noqa: F401  (fixtures)

from assistant.catalog import Catalog
from assistant.catalog.transfer import copy_catalog
from assistant.clip.factory import TEST_MODEL_SPEC
from assistant.search import SearchEngine

pytestmark = pytest.mark.postgres
RESULTS = 24


def test_the_shop_searches_a_shared_catalog_and_sees_other_writers(
    monkeypatch,
    tmp_path,
    catalog_template,  # noqa: F811  (the fixture imported above)
    postgres_url,
    tiny_embedder,
):
    monkeypatch.setenv("ASSISTANT_CACHE_DIR", str(tmp_path / "cache"))
    folder = Catalog.open(catalog_template, TEST_MODEL_SPEC, create=False)
    shared = Catalog.open(postgres_url, TEST_MODEL_SPEC, tiny_embedder.dim)
    assert copy_catalog(folder, shared).verified
    at = run_app(monkeypatch, postgres_url)
    at.text_input(key="shop-query").input("vintage rose gold ring")
    rerun(at)
    expected = SearchEngine(shared, tiny_embedder).search("vintage rose gold ring", k=RESULTS)
    shown = card_titles(at)  # the close matches, or the nearest few when nothing matches closely (honest counts)
    assert shown and shown == [h.product.title for h in expected][: len(shown)] and len(at.image) == len(shown)

    shared.delete([expected[0].product.sku])  # another process (here: another connection) deletes the top hit
    rerun(at)
    assert expected[0].product.title not in card_titles(at)
