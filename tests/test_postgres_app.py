"""The Streamlit app on a catalog in PostgreSQL: an app server searches the shared catalog and shows, on its
next run, a product another process just deleted as gone; staff sign in with the accounts the database holds."""

from __future__ import annotations

import pytest
from app_support import STAFF_NAME, STAFF_PASSWORD, card_titles, password_fields, rerun, run_app

from assistant.catalog import Catalog
from assistant.catalog.transfer import copy_catalog
from assistant.clip.factory import TEST_MODEL_SPEC
from assistant.search import SearchEngine
from assistant.shop.results import NonsenseQueries, match_threshold, search_results
from assistant.staff.accounts import StaffAccounts

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


def test_staff_sign_in_on_one_server_uses_the_accounts_in_the_database(
    monkeypatch, tmp_path, catalog_template, postgres_url, tiny_embedder
):
    folder = Catalog.open(catalog_template, TEST_MODEL_SPEC, create=False)
    shared = Catalog.open(postgres_url, TEST_MODEL_SPEC, tiny_embedder.dim)
    assert copy_catalog(folder, shared).verified
    StaffAccounts(postgres_url).add(STAFF_NAME, STAFF_PASSWORD)  # as the CLI on another machine would
    monkeypatch.setenv("ASSISTANT_CACHE_DIR", str(tmp_path / "server-cache"))  # this server's own cache folder
    at = run_app(monkeypatch, postgres_url, page="app_pages/catalog.py", signed_in=True)
    assert not password_fields(at), "signed in with the account the database holds"
    assert not list((tmp_path / "server-cache").rglob("staff.db")), "no per-server accounts file"
    assert StaffAccounts(postgres_url).accounts()[0].last_sign_in is not None
