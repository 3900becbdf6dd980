"""Search by text, photo and both, with filters that stay exact when selective."""

from __future__ import annotations

import numpy as np
import pytest
from postgres_server import both_stores

from assistant.catalog import Catalog, Filters
from assistant.catalog.ingest import ingest_csv
from assistant.search import SearchEngine


@pytest.fixture
def engine(catalog, tiny_embedder) -> SearchEngine:
    return SearchEngine(catalog, tiny_embedder)


@both_stores
def test_text_search_ranks_by_cosine(engine, catalog, tiny_embedder):
    hits = engine.search("vintage pearl drop earrings", k=10)
    assert len(hits) == 10
    scores = [h.score for h in hits]
    assert scores == sorted(scores, reverse=True)
    ids, vectors = catalog.vectors()
    exact = vectors @ tiny_embedder.embed_text("vintage pearl drop earrings")
    assert [h.product.id for h in hits] == [int(ids[i]) for i in np.argsort(-exact)[:10]]
    assert np.allclose(scores, np.sort(exact)[::-1][:10], atol=1e-5)


@both_stores
def test_photo_search_finds_the_product_itself(catalog_location, tiny_embedder, synthetic_source):
    """With photo-only product vectors, a product's own photo is its exact match."""
    cat = Catalog.open(catalog_location, tiny_embedder.spec.name, tiny_embedder.dim)
    cat.manifest.image_weight = 1.0
    ingest_csv(cat, tiny_embedder, synthetic_source, synthetic_source.parent / "images")
    photo = synthetic_source.parent / "images" / "SYN-00007.png"
    top = SearchEngine(cat, tiny_embedder).search(image=photo, k=3)
    assert top[0].product.sku == "SYN-00007" and top[0].score == pytest.approx(1.0, abs=1e-4)


@both_stores
def test_hybrid_query_is_the_normalised_weighted_sum(engine, tiny_embedder, synthetic_source):
    photo = synthetic_source.parent / "images" / "SYN-00003.png"
    t, i = tiny_embedder.embed_text("ruby necklace"), tiny_embedder.embed_image(photo)
    q = engine.query_vector("ruby necklace", photo, text_weight=0.3)
    expected = 0.3 * t + 0.7 * i
    assert np.allclose(q, expected / np.linalg.norm(expected), atol=1e-6)
    assert engine.query_vector("ruby necklace", photo, text_weight=1.0) == pytest.approx(t, abs=1e-6)
    assert len(engine.search("ruby necklace", photo, k=5)) == 5


@both_stores
def test_selective_filters_still_return_k_results(engine, catalog):
    rose = Filters(metal="Rose Gold")
    matching = catalog.count(rose)
    assert 5 <= matching < catalog.count()
    hits = engine.search("ring", filters=rose, k=5)
    assert len(hits) == 5 and all(h.product.metal == "rose gold" for h in hits)

    narrow = Filters(category="ring", min_price=500, max_price=1500)
    hits = engine.search("ring", filters=narrow, k=50)
    assert len(hits) == catalog.count(narrow) > 0
    assert all(h.product.category == "ring" and 500 <= h.product.price <= 1500 for h in hits)
    assert engine.search("ring", filters=Filters(stone="no such stone"), k=5) == []


@both_stores
def test_filters_on_hnsw_index_fall_back_to_exact(catalog_location, tiny_embedder, synthetic_source):
    cat = Catalog.open(catalog_location, tiny_embedder.spec.name, tiny_embedder.dim, index_kind="hnsw")
    ingest_csv(cat, tiny_embedder, synthetic_source, synthetic_source.parent / "images")
    assert cat.index_kind == "hnsw"
    engine = SearchEngine(cat, tiny_embedder)
    only = Filters(category="pendant", stone="pearl")
    hits = engine.search("pearl pendant", filters=only, k=10)
    assert len(hits) == min(10, cat.count(only)) and all(h.product.category == "pendant" for h in hits)


def test_search_needs_a_query(engine):
    with pytest.raises(ValueError, match="needs text, a photo"):
        engine.search("   ")
