"""The Streamlit app on a catalog in PostgreSQL: an app server searches the shared catalog and shows, on its
next run, a product another process just deleted as gone."""

from __future__ import annotations

import pytest
from app_support import card_titles, rerun, run_app

from assistant.catalog import Catalog
from assistant.catalog.transfer import copy_catalog
from assistant.clip.factory import TEST_MODEL_SPEC
from assistant.search import SearchEngine
from assistant.shop.results import NonsenseQueries, match_threshold, search_results

pytestmark = pytest.mark.postgres
PAGE = 24


def test_the_shop_searches_a_shared_catalog_and_sees_other_writers(
    monkeypatch,
    tmp_path,
    catalog_template,
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
    engine = SearchEngine(shared, tiny_embedder)
    threshold = match_threshold(shared, NonsenseQueries.embed(tiny_embedder).like(True, False, 0.5))
    results = search_results(shared, engine.query_vector("vintage rose gold ring", None, 0.5), threshold, None)
    expected = [h.product for h in (results.matches or results.nearest)][:PAGE]
    assert card_titles(at) == [p.title for p in expected]

    shared.delete([expected[0].sku])  # another process (here: another connection) deletes the top hit
    rerun(at)
    assert expected[0].title not in card_titles(at)
