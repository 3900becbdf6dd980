"""The ProductStore contract, run against every implementation (a server database adds itself to STORES)."""

from __future__ import annotations

import numpy as np
import pytest

from assistant.catalog.records import Filters, ProductRecord
from assistant.catalog.sqlite_store import SQLiteProductStore
from assistant.catalog.store import ProductStore

DIM = 8


def _sqlite(tmp_path) -> ProductStore:
    return SQLiteProductStore(tmp_path / "catalog.db", DIM)


STORES = {"sqlite": _sqlite}


@pytest.fixture(params=sorted(STORES))
def store(request, tmp_path) -> ProductStore:
    made = STORES[request.param](tmp_path)
    yield made
    made.close()


def record(sku: str, seed: int, **fields) -> ProductRecord:
    vector = np.random.default_rng(seed).standard_normal(DIM).astype(np.float32)
    fields = {"title": f"Product {sku}", "category": "ring", "price": 10.0 + seed} | fields
    return ProductRecord(sku=sku, vector=vector / np.linalg.norm(vector), content_hash=f"h{seed}", **fields)


def test_a_write_that_changes_something_commits_exactly_the_next_generation(store):
    assert store.generation() == 0
    with store.write() as writer:
        assert writer.generation == 0
        ids = writer.upsert([record("A", 1), record("B", 2, image="b.jpg", image_sha256="ab" * 32)], "m", "t")
    assert store.generation() == 1 and len(set(ids)) == 2
    with store.write() as writer:  # nothing changed: no new generation
        assert writer.delete(["NOPE"]) == [] and writer.update("NOPE", {"title": "x"}, "t") is None
    assert store.generation() == 1


def test_a_write_that_raises_changes_nothing(store):
    with pytest.raises(RuntimeError), store.write() as writer:
        writer.upsert([record("A", 1)], "m", "t")
        raise RuntimeError("interrupted")
    assert store.generation() == 0 and store.count() == 0


def test_changes_since_names_exactly_what_moved(store):
    with store.write() as writer:
        a, b, c = writer.upsert([record("A", 1), record("B", 2), record("C", 3)], "m", "t")
    with store.write() as writer:
        writer.update("A", {"price": 99.0}, "t")  # no vector change
    with store.write() as writer:
        new_b = record("B", 20)
        writer.update("B", {"title": "B2"}, "t", embedding=(new_b.vector, "h20", "m"))
        removed = writer.delete(["C"])
    assert [(p.id, p.sku) for p in removed] == [(c, "C")]
    changes = store.changes_since(2)
    assert changes.generation == 3 and changes.count == 2
    assert changes.ids.tolist() == [b] and changes.removed.tolist() == [c]
    assert np.allclose(changes.vectors[0], new_b.vector)
    everything = store.changes_since(-1)
    assert everything.ids.tolist() == [a, b] and everything.removed.tolist() == []
    assert store.changes_since(3).ids.tolist() == []


def test_upsert_by_sku_keeps_the_id_and_reads_back_what_was_written(store):
    with store.write() as writer:
        (first,) = writer.upsert([record("A", 1, attributes={"carat": "1"})], "m", "t1")
    with store.write() as writer:
        (again,) = writer.upsert([record("A", 2, metal="gold")], "m2", "t2")
    product = store.get_by_sku("A")
    assert first == again == product.id and product.metal == "gold" and product.attributes == {}
    assert store.content_hashes() == {"A": ("h2", "m2")}
    assert [p.sku for p in store.products_to_reembed("m")] == ["A"]
    assert store.get([again, 12345]) == [product]


def test_reads_filter_and_facet(store):
    with store.write() as writer:
        writer.upsert(
            [record("A", 1, metal="gold"), record("B", 2, metal="silver", category="earring"), record("C", 3)],
            "m",
            "t",
        )
    assert store.count(Filters(category="RING ")) == 2
    assert [p.sku for p in store.products(Filters(metal=["gold", "silver"]), limit=1, offset=1)] == ["B"]
    assert store.facet_values("category") == ["earring", "ring"]
    assert store.price_range() == (11.0, 13.0)
    ids = store.ids_matching(Filters(max_price=12.0))
    got_ids, vectors = store.vectors(ids[::-1].tolist())
    assert got_ids.tolist() == ids[::-1].tolist() and vectors.shape == (2, DIM) and vectors.dtype == np.float32


def test_photo_in_use_sees_the_transactions_own_changes(store):
    sha = "cd" * 32
    with store.write() as writer:
        writer.upsert([record("A", 1, image="a.jpg", image_sha256=sha), record("B", 2, image_sha256=sha)], "m", "t")
    with store.write() as writer:
        writer.delete(["A"])
        assert writer.photo_in_use(sha)
        writer.delete(["B"])
        assert not writer.photo_in_use(sha)
