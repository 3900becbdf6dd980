"""Audit trail and undo: every kind of write leaves one entry naming who; deletes are soft and restorable."""

from __future__ import annotations

import numpy as np
import pytest

from assistant.catalog import audit
from assistant.catalog.ingest import ingest_csv
from assistant.catalog.records import AuditQuery, CatalogError
from assistant.catalog.reembed import edit_product
from assistant.catalog.reindex import reindex
from assistant.catalog.trash import delete_products, purge, restore_product, trashed
from assistant.categories import CatalogCategories, Category
from assistant.cli.main import main
from assistant.clip.embedder import Embedder
from assistant.undo import undo


def actions(catalog) -> list[str]:
    return [e.action for e in reversed(audit.entries(catalog))]


def test_an_import_leaves_one_entry_with_its_counts(catalog, synthetic_source, tiny_embedder):
    [entry] = audit.entries(catalog)  # the fixture's ingest
    assert (entry.action, entry.target) == ("import", synthetic_source.name)
    assert entry.details["added"] == 60 and len(entry.details["skus"]) == 60
    assert entry.actor.endswith("(command line)"), "outside the app, the operating-system user"
    ingest_csv(catalog, tiny_embedder, synthetic_source, synthetic_source.parent / "images")
    details = audit.entries(catalog)[0].details
    assert len(details.pop("change")) == 32, "the change id the store kept its rows under"
    assert details == {"added": 0, "updated": 0, "unchanged": 60, "rejected": 0, "skus": [], "products": 0}


def test_an_edit_keeps_before_and_after_and_can_be_undone_by_someone_else(catalog, tiny_embedder):
    before = catalog.get_by_sku("SYN-00003")
    with audit.acting_as("anna"):
        edit_product(catalog, tiny_embedder, "SYN-00003", title="Renamed", price=0.01)
    entry = audit.entries(catalog, AuditQuery(action="edit"))[0]
    assert (entry.actor, entry.target) == ("anna", "SYN-00003")
    assert entry.details == {
        "before": {"title": before.title, "price": before.price},
        "after": {"title": "Renamed", "price": 0.01},
        "change": entry.details["change"],
        "products": 1,
    }
    with audit.acting_as("ben"):
        undo(catalog, entry.id)
    assert catalog.get_by_sku("SYN-00003") == before, "the row exactly as it was, its timestamps included"
    assert [(e.actor, e.action) for e in audit.entries(catalog)[:2]] == [("ben", "undo"), ("anna", "edit")]


def test_delete_then_restore_keeps_the_vector_and_the_photo(catalog, tiny_embedder):
    product = catalog.get_by_sku("SYN-00005")
    photo = catalog.image_path(product)
    _, [vector] = catalog.vectors([product.id])
    query = vector.copy()

    assert delete_products(catalog, ["SYN-00005", "NOPE"]) == ["NOPE"]
    assert catalog.get_by_sku("SYN-00005") is None and catalog.count() == 59
    assert "SYN-00005" not in [h.product.sku for h in catalog.search_vector(query, k=60)], "gone from search at once"
    assert catalog.indexed_count() == 59 and photo.exists(), "the photo waits in the trash too"
    assert [p.sku for p in trashed(catalog)] == ["SYN-00005"]

    restore_product(catalog, "SYN-00005")
    back = catalog.get_by_sku("SYN-00005")
    assert back.id == product.id and back.title == product.title and catalog.image_path(back) == photo
    assert photo.exists() and np.array_equal(catalog.vectors([back.id])[1][0], vector)
    assert catalog.search_vector(query, k=1)[0].product.sku == "SYN-00005"
    assert catalog.indexed_count() == catalog.count() == 60 and trashed(catalog) == []
    assert actions(catalog)[-2:] == ["delete", "restore"]


def test_purge_empties_the_trash_and_drops_unused_photos(catalog):
    photo = catalog.image_path(catalog.get_by_sku("SYN-00007"))
    delete_products(catalog, ["SYN-00007", "SYN-00008"])
    gone = purge(catalog)
    assert sorted(p.sku for p in gone) == ["SYN-00007", "SYN-00008"] and not photo.exists()
    with pytest.raises(CatalogError, match="in the trash"):
        restore_product(catalog, "SYN-00007")
    assert actions(catalog)[-2:] == ["delete", "purge"]


def test_the_trash_time_expires_old_deletes(catalog, monkeypatch):
    delete_products(catalog, ["SYN-00009"])
    monkeypatch.setenv("ASSISTANT_TRASH_DAYS", "0")
    assert trashed(catalog) == [], "older than zero days: purged the next time the trash is looked at"


def test_a_sku_imported_again_is_not_overwritten_by_a_restore(catalog, tiny_embedder, synthetic_source):
    delete_products(catalog, ["SYN-00011"])
    ingest_csv(catalog, tiny_embedder, synthetic_source, synthetic_source.parent / "images")
    with pytest.raises(CatalogError, match="in the catalog again"):
        restore_product(catalog, "SYN-00011")


def test_category_add_update_remove_each_leave_one_entry(catalog, tiny_embedder):
    owner = CatalogCategories(catalog, tiny_embedder)
    owner.add(Category(name="cocktail ring", description="a big statement ring"))
    owner.update("cocktail ring", description="a very big statement ring")
    owner.remove("cocktail ring")
    entries = audit.entries(catalog)[:3]
    assert [(e.action, e.target) for e in reversed(entries)] == [
        ("category add", "cocktail ring"),
        ("category update", "cocktail ring"),
        ("category remove", "cocktail ring"),
    ]
    assert entries[1].details["after"] == {"description": "a very big statement ring"}
    assert entries[0].details["description"] == "a very big statement ring", "enough to add it back"


def test_reindex_and_personaliser_training_are_audited(catalog, tiny_embedder):
    assert main(["--model", "tiny-test", "--catalog", str(catalog.root), "train", "personalizer",
                 "--shoppers", "150", "--steps", "5", "--first-order"]) == 0  # fmt: skip
    entry = audit.entries(catalog)[0]
    assert entry.action == "train personalizer" and entry.target.endswith("personalizer.pt")

    reindex(catalog, Embedder.from_spec("tiny-test-wide"))
    entry = audit.entries(catalog)[0]
    assert (entry.action, entry.target) == ("reindex", "tiny-test-wide")
    assert entry.details == {"was": "tiny-test", "products": 60, "undo": audit.NOT_UNDONE["reindex"]}
    assert "changes no product's words, price or photo" in entry.details["undo"], "the entry says why, no fake undo"


def test_cli_delete_restore_trash_purge_and_audit(catalog, capsys):
    def cli(*args: str) -> int:
        return main(["--catalog", str(catalog.root), *args])

    assert cli("delete", "SYN-00020", "SYN-00021") == 0
    assert cli("trash") == 0
    out = capsys.readouterr().out
    assert "moved 2 product(s) to the trash for 30 days" in out and "SYN-00020" in out and "(command line)" in out
    assert cli("restore", "SYN-00020") == 0 and cli("restore", "SYN-00020") == 1
    assert catalog.get_by_sku("SYN-00020") is not None
    assert cli("purge") == 0 and "purged 1 product(s)" in capsys.readouterr().out
    assert cli("audit", "--action", "delete") == 0
    out = capsys.readouterr().out
    assert "2 products" in out and "restore" not in out
    assert cli("audit", "--target", "syn-00020") == 0
    assert "restore" in capsys.readouterr().out


def test_category_changes_can_be_undone_from_their_entries(catalog, tiny_embedder):
    owner = CatalogCategories(catalog, tiny_embedder)

    def undo_last(action: str) -> None:
        undo(catalog, audit.entries(catalog, AuditQuery(action=action))[0].id, lambda: owner)

    owner.add(Category(name="ear cuff", description="a cuff worn on the ear", synonyms=["ear wrap"]))
    owner.remove("ear cuff")
    undo_last("category remove")
    assert owner.registry.get("ear cuff").synonyms == ["ear wrap"], "added back as it was"
    owner.update("ear cuff", description="changed")
    undo_last("category update")
    assert owner.registry.get("ear cuff").description == "a cuff worn on the ear"
    undo_last("category add")
    assert "ear cuff" not in owner.registry
    assert [e.details["as"] for e in audit.entries(catalog, AuditQuery(action="undo"))] == [
        "category remove", "category update", "category add",
    ]  # fmt: skip
