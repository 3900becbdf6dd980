"""The ProductStore contract, run against every implementation (a server database adds itself to STORES)."""

from __future__ import annotations

import numpy as np
import pytest

from assistant.catalog.records import AuditEntry, AuditQuery, CatalogError, Filters, ProductRecord
from assistant.catalog.sqlite_store import SQLiteProductStore
from assistant.catalog.store import ProductStore

DIM = 8


def _sqlite(request) -> ProductStore:
    return SQLiteProductStore(request.getfixturevalue("tmp_path") / "catalog.db", DIM)


def _postgres(request) -> ProductStore:
    from assistant.catalog.postgres.migrations import migrate
    from assistant.catalog.postgres.store import PostgresProductStore

    url = request.getfixturevalue("postgres_url")  # skips where PostgreSQL 15 is not installed
    migrate(url)
    return PostgresProductStore(url, DIM)


STORES = {"sqlite": _sqlite, "postgres": _postgres}


@pytest.fixture(params=[pytest.param(name, marks=[pytest.mark.postgres] * (name == "postgres")) for name in STORES])
def store(request) -> ProductStore:
    made = STORES[request.param](request)
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


def test_trash_hides_a_product_and_restore_brings_it_back_with_its_id_and_vector(store):
    attributes = {"style": "art déco", "size": "7"}
    with store.write() as writer:
        [pid, _] = writer.upsert(
            [record("A", 1, image="a.jpg", image_sha256="aa" * 32, attributes=attributes), record("B", 2)], "m", "t"
        )
    _, [vector] = store.vectors([pid])
    g = store.generation()
    with store.write() as writer:
        [trashed] = writer.trash(["A", "NOPE"], "2026-01-01T00:00:00+00:00", "anna")
    assert (trashed.id, trashed.sku, trashed.deleted_by, trashed.embed_model) == (pid, "A", "anna", "m")
    assert store.get_by_sku("A") is None and store.count() == 1 and store.changes_since(g).removed.tolist() == [pid]
    assert [p.sku for p in store.trashed()] == ["A"]
    with store.write() as writer:
        assert writer.photo_in_use("aa" * 32), "a trashed product's photo is kept"
        with pytest.raises(CatalogError, match="moved to model"):
            writer.restore("A", "other-model", "t2")
    g = store.generation()
    with store.write() as writer:
        assert writer.restore("A", "m", "t2") == pid
    assert store.get_by_sku("A").image == "a.jpg" and np.array_equal(store.vectors([pid])[1][0], vector)
    assert store.get_by_sku("A").attributes == attributes
    changes = store.changes_since(g)
    assert changes.ids.tolist() == [pid] and changes.removed.tolist() == [] and store.trashed() == []


def test_purge_drops_trashed_products_for_good(store):
    with store.write() as writer:
        writer.upsert([record("A", 1, image="a.jpg", image_sha256="aa" * 32), record("B", 2)], "m", "t")
    with store.write() as writer:
        writer.trash(["A"], "2026-01-01T00:00:00+00:00", "anna")
        writer.trash(["B"], "2026-03-01T00:00:00+00:00", "ben")
    with store.write() as writer:
        assert [p.sku for p in writer.purge_trash("2026-02-01T00:00:00+00:00")] == ["A"]
        assert not writer.photo_in_use("aa" * 32)
        with pytest.raises(CatalogError, match="in the trash"):
            writer.restore("A", "m", "t")
    with store.write() as writer:
        assert [p.sku for p in writer.purge_trash(None)] == ["B"]
    assert store.trashed() == []


def test_the_audit_trail_appends_and_filters_newest_first(store):
    with store.write() as writer:
        writer.append_audit(AuditEntry("2026-01-01T10:00:00+00:00", "anna", "edit", "SKU-1", {"after": {"price": 1}}))
        writer.append_audit(AuditEntry("2026-01-02T10:00:00+00:00", "ben", "delete", "SKU-2", {"skus": ["SKU-2"]}))
    everything = store.audit_entries(AuditQuery())
    assert [(e.actor, e.action) for e in everything] == [("ben", "delete"), ("anna", "edit")]
    assert everything[1].details == {"after": {"price": 1}} and everything[1].id is not None
    assert [e.actor for e in store.audit_entries(AuditQuery(action="edit"))] == ["anna"]
    assert [e.actor for e in store.audit_entries(AuditQuery(target="sku-2"))] == ["ben"]
    assert [e.actor for e in store.audit_entries(AuditQuery(since="2026-01-02"))] == ["ben"]
    assert store.generation() == 0, "an audit entry is no change to the products"
