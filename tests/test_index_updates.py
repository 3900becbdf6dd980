"""Edits and deletes on the approximate indexes: applied in place (dead positions masked), never a rebuild per
change, the same answers as a fresh build, compacted aside without holding up searches."""

from __future__ import annotations

import threading

import numpy as np
import pytest
from postgres_server import both_stores

from assistant.catalog import Catalog, ProductRecord, index_sync
from assistant.catalog.catalog import INDEX_NAME
from assistant.catalog.index_sync import read_index_file
from assistant.catalog.vector_index import VectorIndex
from bench import index_updates
from bench.search import exact_top_k, recall
from bench.vectors import clustered_unit_vectors

N, DIM, QUERIES, K = 6_000, 32, 40, 10
APPROXIMATE_KINDS = ("ivf", "hnsw")


class Products:
    """The vectors an index should hold: id i's current vector at row i - 1, and which ids exist."""

    def __init__(self, vectors: np.ndarray):
        self.vectors = vectors.copy()
        self.live = np.ones(len(vectors), dtype=bool)

    def ids(self) -> np.ndarray:
        return np.flatnonzero(self.live).astype(np.int64) + 1

    def exact_vectors(self, ids):
        """What ``Catalog.vectors`` serves: the current vectors of the ids that exist."""
        ids = np.asarray(ids, dtype=np.int64)
        ids = ids[self.live[ids - 1]]
        return ids, self.vectors[ids - 1]

    def fresh_build(self, kind: str) -> VectorIndex:
        ids = self.ids()
        return VectorIndex.build(DIM, kind, ids, self.vectors[ids - 1])


def edit(index: VectorIndex, products: Products, ids: np.ndarray, vectors: np.ndarray) -> None:
    """What IndexSync does for a changed vector: remove the stale one, add the new one."""
    index.remove(ids)
    index.add(ids, vectors)
    products.vectors[ids - 1] = vectors
    products.live[ids - 1] = True


def delete(index: VectorIndex, products: Products, ids: np.ndarray) -> None:
    index.remove(ids)
    products.live[ids - 1] = False


@pytest.fixture(scope="module")
def data():
    vectors, queries = clustered_unit_vectors(np.random.default_rng(11), N, DIM, QUERIES)
    return vectors, queries


@pytest.fixture(scope="module", params=APPROXIMATE_KINDS)
def updated(request, data):
    """(index after edits, deletes, re-adds and edits again; the products it should hold)."""
    vectors, _ = data
    rng = np.random.default_rng(3)
    products = Products(vectors)
    index = products.fresh_build(request.param)
    order = rng.permutation(N).astype(np.int64) + 1
    edited, deleted, re_added = order[:300], order[300:500], order[300:350]
    edit(index, products, edited, vectors[rng.integers(N, size=300)])  # another product's look
    delete(index, products, deleted)
    edit(index, products, re_added, vectors[rng.integers(N, size=50)])
    edit(index, products, edited[:100], vectors[rng.integers(N, size=100)])
    return index, products


def _filter(products: Products, share: float, seed: int) -> np.ndarray:
    """Allowed ids: a share of all ids ever made, deleted ones included (a filter may name them)."""
    rng = np.random.default_rng(seed)
    return np.sort(rng.choice(N, max(1, round(N * share)), replace=False)).astype(np.int64) + 1


def test_updates_are_masked_not_rebuilt(updated):
    index, products = updated
    assert index.ntotal == products.live.sum() == N - 150
    assert sorted(index.ids().tolist()) == products.ids().tolist()
    assert index.dead_count == 300 + 200 + 100  # each edit and delete leaves one dead position
    assert index.stored_count == N + 300 + 50 + 100


@pytest.mark.parametrize("share", (0.001, 0.01, 0.1))
def test_small_filters_give_the_same_top_k_as_a_fresh_build(updated, data, share):
    index, products = updated
    fresh = products.fresh_build(index.kind)
    allowed = _filter(products, share, seed=int(share * 1e4))
    for query in data[1]:
        got = index.search(query, K, allowed, products.exact_vectors)[1][0]
        want = fresh.search(query, K, allowed, products.exact_vectors)[1][0]
        assert got.tolist() == want.tolist()


@pytest.mark.parametrize("share", (None, 0.01, 0.1, 0.5))
@pytest.mark.parametrize("exact_filtered_max", (0, 20_000))
def test_recall_after_updates(updated, data, share, exact_filtered_max):
    """Unfiltered recall@10 >= 0.95 as for a fresh index; filtered >= 0.99, the filter guarantee, on either path."""
    index, products = updated
    ids, queries = products.ids(), data[1]
    allowed = ids if share is None else np.intersect1d(_filter(products, share, seed=5), ids)
    truth = allowed[exact_top_k(products.vectors[allowed - 1], queries, K)]
    index.exact_filtered_max = exact_filtered_max
    try:
        filtered = None if share is None else allowed
        found = np.stack([index.search(q, K, filtered, products.exact_vectors)[1][0] for q in queries])
    finally:
        index.exact_filtered_max = 20_000
    assert recall(found, truth) >= (0.95 if share is None else 0.99)


@pytest.mark.parametrize("kind", APPROXIMATE_KINDS)
def test_an_edited_product_is_found_by_its_new_vector_and_not_its_old_one(data, kind):
    vectors, queries = data
    products = Products(vectors)
    index = products.fresh_build(kind)
    old = vectors[1233].copy()
    new = queries[np.argmin(queries @ old)]  # a fresh look from the same mixture, the least like the old one
    edit(index, products, np.array([1234], dtype=np.int64), new[None, :])
    for allowed in (None, products.ids()[1::2], np.array([1234, 7, 8, 9], dtype=np.int64)):  # even ids
        assert index.search(new, K, allowed, products.exact_vectors)[1][0][0] == 1234
        assert index.search(new, K, allowed)[1][0][0] == 1234  # without the exact re-rank too
        for scores, found in (index.search(old, K, allowed, products.exact_vectors), index.search(old, K, allowed)):
            if allowed is None or len(allowed) > K:
                assert 1234 not in found[0]
            else:  # a filter of fewer than k products returns each, 1234 scored by its new vector
                assert scores[0][found[0] == 1234] == pytest.approx(old @ new, abs=0.02)


@pytest.mark.parametrize("kind", APPROXIMATE_KINDS)
def test_a_deleted_product_never_appears(data, kind):
    vectors, _ = data
    products = Products(vectors)
    index = products.fresh_build(kind)
    gone = np.arange(1, N + 1, 60, dtype=np.int64)
    delete(index, products, gone)
    everyone = np.arange(1, N + 1, dtype=np.int64)
    for exact_filtered_max in (0, 20_000):
        index.exact_filtered_max = exact_filtered_max
        for allowed in (None, everyone, everyone[::3], gone[:5]):
            for query in vectors[gone[:20] - 1]:  # each deleted product's own vector
                found = index.search(query, K, allowed)[1][0]
                assert not set(found.tolist()) & set(gone.tolist())
    assert (index.search(vectors[0], K, gone)[1] == -1).all()  # a filter of deleted products finds nothing


def test_the_dead_mask_travels_with_the_bytes(updated, data):
    index, _ = updated
    loaded = VectorIndex.from_bytes(index.to_bytes())
    assert loaded.kind == index.kind and loaded.ntotal == index.ntotal and loaded.dead_count == index.dead_count
    queries = data[1][:5]
    assert np.array_equal(loaded.search(queries, K)[1], index.search(queries, K)[1])
    with pytest.raises(RuntimeError):
        VectorIndex.from_bytes(index.to_bytes()[:20])  # cut inside the mask


def test_an_index_with_nothing_dead_serialises_as_plain_faiss(data):
    import faiss

    vectors, _ = data
    index = Products(vectors).fresh_build("ivf")
    assert faiss.deserialize_index(np.frombuffer(index.to_bytes(), dtype=np.uint8)).ntotal == N


# ----------------------------------------------------------------- the catalog: IndexSync


@pytest.fixture
def builds(monkeypatch):
    """Counts VectorIndex.build calls (a rebuild of the whole index); ``gate`` holds a compaction's build."""
    calls = []
    gate = threading.Event()
    gate.set()
    original = VectorIndex.build.__func__

    def counted(cls, *args, **kwargs):
        calls.append(threading.current_thread().name)
        if threading.current_thread().name == "index compaction":
            assert gate.wait(timeout=60), "the test never let the compaction finish"
        return original(cls, *args, **kwargs)

    monkeypatch.setattr(VectorIndex, "build", classmethod(counted))
    counted.calls, counted.gate = calls, gate
    return counted


def _catalog(location, vectors, kind: str = "ivf") -> Catalog:
    catalog = Catalog.open(location, "tiny-test", DIM, index_kind=kind)
    catalog.upsert(
        [ProductRecord(sku=f"P{i}", title=f"product {i}", vector=vectors[i], content_hash=str(i)) for i in range(1500)]
    )
    return catalog


def test_one_edit_and_one_delete_at_ivf_do_not_rebuild(tmp_path, data, builds):
    vectors, _ = data
    catalog = _catalog(tmp_path / "c", vectors)
    assert catalog.index_kind == "ivf"
    built = len(builds.calls)  # an empty flat index at open, then the ivf one at 1500 products
    edited = catalog.update_fields("P7", embedding=(-vectors[7], "new look"))
    catalog.delete(["P9"])
    assert len(builds.calls) == built
    assert catalog.search_vector(-vectors[7], k=1)[0].product.id == edited.id
    assert "P9" not in {h.product.sku for h in catalog.search_vector(vectors[9], k=K)}
    assert catalog.indexed_count() == catalog.count() == 1499
    # the file holds the masked index: another process loads it as it is, without a rebuild
    other = Catalog.open(tmp_path / "c", "tiny-test")
    assert other.index_kind == "ivf" and other.ensure_index().dead_count == 2 and len(builds.calls) == built
    assert other.search_vector(-vectors[7], k=1)[0].product.id == edited.id
    other.close()
    catalog.close()


def test_compaction_is_built_aside_while_searches_and_writes_go_on(tmp_path, data, builds, monkeypatch):
    vectors, _ = data
    monkeypatch.setattr(index_sync, "COMPACT_DEAD_SHARE", 0.02)
    catalog = _catalog(tmp_path / "c", vectors)
    built = len(builds.calls)
    builds.gate.clear()  # the compaction's build waits until the end of the test's checks
    for i in range(40):  # 40 / 1540 dead: past 2%
        catalog.update_fields(f"P{i}", embedding=(vectors[1500 + i], f"new {i}"))
    assert catalog.index.compacting
    catalog.update_fields("P100", embedding=(-vectors[100], "during"))  # a write while the build waits
    catalog.delete(["P101"])
    assert catalog.search_vector(-vectors[100], k=1)[0].product.sku == "P100"  # searched without waiting
    builds.gate.set()
    catalog.index.wait_for_compaction(timeout=60)
    assert builds.calls[built:] == ["index compaction"]
    index = catalog.ensure_index()
    assert catalog.index.generation == catalog.generation
    assert index.dead_count <= 11  # at most the 11 changes the snapshot may have missed, applied on top
    ids, _ = catalog.vectors()
    assert sorted(index.ids().tolist()) == ids.tolist()  # the writes made during the build are in
    assert catalog.search_vector(-vectors[100], k=1)[0].product.sku == "P100"
    on_disk, generation = read_index_file(tmp_path / "c" / INDEX_NAME)
    assert generation == catalog.generation and on_disk.dead_count == index.dead_count
    assert on_disk.ntotal == 1499
    catalog.close()


def test_a_process_that_outruns_its_compactions_compacts_before_returning(tmp_path, data, builds, monkeypatch):
    vectors, _ = data
    monkeypatch.setattr(index_sync, "COMPACT_NOW_DEAD_SHARE", 0.1)
    catalog = _catalog(tmp_path / "c", vectors)
    built = len(builds.calls)
    catalog.upsert(
        [ProductRecord(sku=f"P{i}", title="re-shot", vector=vectors[3000 + i], content_hash="b") for i in range(200)]
    )
    assert builds.calls[built:] == ["MainThread"] and catalog.ensure_index().dead_count == 0
    assert catalog.indexed_count() == 1500
    catalog.close()


def test_the_update_benchmark_reports_every_kind_against_flat(capsys):
    results = index_updates.main(["--n", "1500", "--dim", "16", "--repeats", "2"])
    assert [r["kind"] for r in results] == ["flat", "ivf", "hnsw"]
    for r in results:
        assert r["build_s"] >= 0 and r["edit_ms"] > 0 and r["delete_ms"] > 0
        assert min(r["search_before_ms"]) > 0 and min(r["search_after_ms"]) > 0 and r["compaction_s"] > 0
        assert min(r["search_during_ms"], default=1) > 0  # a compaction may end before the first search
    assert "edit / flat" in capsys.readouterr().out


@both_stores
@pytest.mark.parametrize("kind", APPROXIMATE_KINDS)
def test_another_process_edit_reaches_this_index_without_a_rebuild(catalog_location, data, builds, kind):
    """Two catalogs on one store stand for two app servers (or the CLI and a server): the reader catches up
    with the writer's edit and delete in place at its next search."""
    vectors, queries = data
    writer = _catalog(catalog_location, vectors, kind)
    reader = Catalog.open(catalog_location, "tiny-test")
    assert reader.index_kind == kind and reader.search_vector(vectors[3], k=1)[0].product.sku == "P3"
    built = len(builds.calls)
    new = queries[np.argmin(queries @ vectors[7])]
    writer.update_fields("P7", embedding=(new, "new look"))
    writer.delete(["P9"])
    assert reader.search_vector(new, k=1)[0].product.sku == "P7"
    assert "P7" not in {h.product.sku for h in reader.search_vector(vectors[7], k=K)}
    assert "P9" not in {h.product.sku for h in reader.search_vector(vectors[9], k=K)}
    assert reader.indexed_count() == reader.count() == 1499
    assert len(builds.calls) == built
    reader.close()
    writer.close()
