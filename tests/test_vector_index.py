"""VectorIndex: every kind finds the exact top 10 under filters of every selectivity (recall, not time)."""

from __future__ import annotations

import numpy as np
import pytest

from assistant.catalog import vector_index
from assistant.catalog.catalog import Catalog, Filters, ProductRecord
from assistant.catalog.vector_index import VectorIndex, resolve_kind
from bench.search import array_source, exact_top_k, recall
from bench.vectors import clustered_unit_vectors

N, DIM, QUERIES, K = 6_000, 32, 40, 10
SELECTIVITIES = (0.001, 0.01, 0.1, 0.5)


@pytest.fixture(scope="module")
def data():
    vectors, queries = clustered_unit_vectors(np.random.default_rng(7), N, DIM, QUERIES)
    return np.arange(1, N + 1, dtype=np.int64), vectors, queries


@pytest.fixture(scope="module", params=list(vector_index.INDEX_FACTORY))
def built(request, data):
    ids, vectors, _ = data
    return VectorIndex.build(DIM, request.param, ids, vectors)


def _filtered_recall(index: VectorIndex, data, share: float, exact_filtered_max: int) -> float:
    ids, vectors, queries = data
    rng = np.random.default_rng(int(share * 1e4))
    mask = np.zeros(N, dtype=bool)
    mask[rng.choice(N, max(1, round(N * share)), replace=False)] = True
    take = min(K, int(mask.sum()))
    truth = ids[exact_top_k(vectors, queries, take, [mask])]
    index.exact_filtered_max = exact_filtered_max
    found = np.stack([index.search(q, K, ids[mask], array_source(vectors))[1][0][:take] for q in queries])
    assert set(found[found >= 0].tolist()) <= set(ids[mask].tolist()), "a result outside the filter"
    return recall(found, truth)


@pytest.mark.parametrize("share", SELECTIVITIES)
def test_filtered_recall_with_the_engine_path_choice(built, data, share):
    assert _filtered_recall(built, data, share, vector_index.EXACT_FILTERED_MAX) >= 0.99


@pytest.mark.parametrize("share", SELECTIVITIES)
def test_filtered_recall_through_the_selector_with_scaled_breadth(built, data, share):
    """exact_filtered_max=0 forces the approximate path (with its exact fallback) even for tiny filters."""
    assert _filtered_recall(built, data, share, exact_filtered_max=0) >= 0.99


def test_unfiltered_recall(built, data):
    ids, vectors, queries = data
    truth = ids[exact_top_k(vectors, queries, K)]
    found = np.stack([built.search(q, K, None, array_source(vectors))[1][0] for q in queries])
    assert recall(found, truth) >= 0.95


def test_filter_smaller_than_k_pads_with_minus_one_and_ignores_unknown_ids(built, data):
    _, vectors, queries = data
    allowed = np.array([5, 17, 4242, N + 99, -3], dtype=np.int64)  # the last two are not in the index
    scores, found = built.search(queries[0], K, allowed, array_source(vectors))
    assert sorted(found[0][:3].tolist()) == [5, 17, 4242]
    assert (found[0][3:] == -1).all()
    expected = vectors[np.array([5, 17, 4242]) - 1] @ queries[0]
    assert np.allclose(sorted(scores[0][:3]), sorted(expected), atol=1e-5)


def test_serialized_index_loads_as_the_same_kind_with_the_same_results(built, data):
    _, vectors, queries = data
    loaded = VectorIndex.from_bytes(built.to_bytes())
    assert loaded.kind == built.kind and loaded.ntotal == N
    source = array_source(vectors)
    assert np.array_equal(loaded.search(queries[:3], K, None, source)[1], built.search(queries[:3], K, None, source)[1])


def test_flat_filters_follow_removals_and_re_adds(data):
    ids, vectors, queries = data
    index = VectorIndex.build(DIM, "flat", ids[:100], vectors[:100])
    index.search(queries[0], K, ids[:50])  # caches id -> position
    index.remove(ids[:10])
    index.add(ids[:5], vectors[:5])
    _, found = index.search(queries[0], K, ids[:12])
    assert sorted(found[0][found[0] >= 0].tolist()) == [1, 2, 3, 4, 5, 11, 12]


def test_auto_kind_is_exact_for_small_catalogs_and_ivf_for_large_ones():
    assert resolve_kind("auto", 10) == "flat"
    assert resolve_kind("auto", vector_index.AUTO_APPROXIMATE_FROM) == "ivf"
    assert resolve_kind("ivf", vector_index.IVF_MIN_TRAIN - 1) == "flat"  # too few vectors to train on
    assert resolve_kind("hnsw", 10) == "hnsw"
    with pytest.raises(ValueError, match="unknown index kind"):
        resolve_kind("annoy", 10)


def test_ivf_index_created_empty_trains_on_its_first_add(data):
    ids, vectors, _ = data
    index = VectorIndex.create(DIM, "ivf")
    index.add(ids, vectors)
    assert index.kind == "ivf" and index.ntotal == N and index.index.is_trained


def test_catalog_on_an_ivf_index_returns_the_exact_filtered_top_k(tmp_path, data):
    _, vectors, queries = data
    n = 1_500
    catalog = Catalog.open(tmp_path / "ivf", "tiny-test", DIM, index_kind="ivf")
    categories = ["ring", "necklace", "earring"]
    records = [
        ProductRecord(
            sku=f"P{i}",
            title=f"product {i}",
            category="brooch" if i % 300 == 0 else categories[i % 3],
            vector=vectors[i],
            content_hash=str(i),
        )
        for i in range(n)
    ]
    catalog.upsert(records)
    catalog.save_index()
    assert catalog.index_kind == "ivf"
    ids, stored = catalog.vectors()
    for category in ("brooch", "ring"):
        mask = np.array([r.category == category for r in records])
        for query in queries[:10]:
            hits = catalog.search_vector(query, k=K, filters=Filters(category=category))
            expected = ids[mask][np.argsort(-(stored[mask] @ query))[:K]]
            assert [h.product.id for h in hits] == expected.tolist()
            assert all(h.product.category == category for h in hits)
    catalog.close()


def test_concurrent_filtered_searches_never_see_a_half_built_id_table(data):
    """Searches share one index; the id -> position table each filtered search reads is built lazily after an
    add or remove. A thread must never read it before it is complete (a search then came back empty)."""
    import threading

    ids, vectors, queries = data
    index = VectorIndex.build(DIM, "flat", ids, vectors)
    allowed = ids[::7]
    expected = index.search(queries[:1], 5, allowed)
    stop, failures = threading.Event(), []

    def invalidate() -> None:
        while not stop.is_set():
            index._position_table = None  # what every add and remove does

    def search() -> None:
        for _ in range(300):
            _, found = index.search(queries[:1], 5, allowed)
            if not np.array_equal(found, expected[1]):
                failures.append(found)

    invalidator = threading.Thread(target=invalidate)
    searchers = [threading.Thread(target=search) for _ in range(8)]
    invalidator.start()
    for t in searchers:
        t.start()
    for t in searchers:
        t.join()
    stop.set()
    invalidator.join()
    assert not failures, f"{len(failures)} filtered searches saw a partial table, e.g. {failures[0]}"
