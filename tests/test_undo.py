"""Undo from the audit trail: each kind of write, undone by someone else, leaves the catalog exactly as before
(rows, ids, vectors, photo files, checkpoints); an undo is refused, changing nothing, when a newer change
touched the same thing; replaced photos stay until the undo window has passed and ``purge`` runs."""

from __future__ import annotations

import hashlib
import os
import shutil
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from postgres_server import both_stores

from assistant.catalog import audit, history
from assistant.catalog.catalog import UndoRefused
from assistant.catalog.ingest import ingest_csv
from assistant.catalog.records import AuditQuery, CatalogError
from assistant.catalog.reembed import edit_product
from assistant.catalog.reindex import reindex
from assistant.catalog.trash import delete_products, purge, purge_expired, restore_product, trashed
from assistant.categories import CatalogCategories, Category
from assistant.categories.registry import RegistryError
from assistant.cli.main import main
from assistant.clip.embedder import Embedder
from assistant.undo import not_undoable, undo

HEADER = "sku,title,description,category,metal,stone,price,currency,image\n"


def state(catalog) -> dict:
    """Everything an undo must put back: every product row exactly as stored, with its vector."""
    with catalog.store.write() as reader:  # changes nothing: no generation is committed
        rows = reader.rows([p.sku for p in catalog.products()])
    return {sku: (row.fields, row.vector.tobytes()) for sku, row in rows.items()}


def has_photo(catalog, product) -> bool:
    return catalog.photos.has(product.image_sha256, product.image)


def new_photo(folder: Path, name: str, colour: tuple[int, int, int]) -> str:
    folder.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (64, 64), colour).save(folder / name)
    return name


def last(catalog, action: str):
    return audit.entries(catalog, AuditQuery(action=action))[0]


@both_stores
def test_an_import_that_replaced_rows_and_photos_is_undone_exactly_then_redone(catalog, tiny_embedder, tmp_path):
    before = state(catalog)
    one, two = catalog.get_by_sku("SYN-00001"), catalog.get_by_sku("SYN-00002")
    images = tmp_path / "images"
    red = new_photo(images, "a.png", (200, 10, 10))
    (tmp_path / "spring.csv").write_text(
        HEADER
        + f"SYN-00001,Spring ring,,{one.category},{one.metal},{one.stone},1.00,USD,{red}\n"
        + f"SYN-00002,{two.title},{two.description},{two.category},{two.metal},{two.stone},2.00,USD,\n"
        + f"NEW-1,Spring hoop,,earring,gold,none,120,USD,{new_photo(images, 'b.png', (10, 200, 10))}\n"
    )
    with audit.acting_as("anna"):
        ingest_csv(catalog, tiny_embedder, tmp_path / "spring.csv", images)
    entry = last(catalog, "import")
    assert catalog.get_by_sku("SYN-00001").image_sha256 != one.image_sha256
    assert has_photo(catalog, one), "the replaced photo stays for the undo"

    with audit.acting_as("ben"):
        done = undo(catalog, entry.id)
    assert state(catalog) == before, "every row, id and vector exactly as before the import"
    assert catalog.indexed_count() == catalog.count() == 60
    assert [p.sku for p in trashed(catalog)] == ["NEW-1"], "the product it added waits in the trash"
    assert catalog.image_path(catalog.get_by_sku("SYN-00001")).read_bytes(), "the old photo is shown again"
    assert catalog.search_vector(np.frombuffer(before["SYN-00001"][1], np.float32), k=1)[0].product.sku == "SYN-00001"
    assert (done.actor, done.action, done.details["undoes"]) == ("ben", "undo", entry.id)
    assert done.target.startswith(f"#{entry.id} import") and done.details["undone by"] == "anna"

    with pytest.raises(UndoRefused, match="undone already, by ben"):
        undo(catalog, entry.id)
    undo(catalog, done.id)  # undoing the undo redoes the import, exactly
    assert catalog.get_by_sku("SYN-00001").title == "Spring ring" and catalog.get_by_sku("NEW-1") is not None
    assert trashed(catalog) == [] and catalog.indexed_count() == catalog.count() == 61


@both_stores
def test_an_edit_is_undone_exactly_and_a_later_edit_is_never_clobbered(catalog, tiny_embedder):
    before = state(catalog)
    with audit.acting_as("anna"):
        edit_product(catalog, tiny_embedder, "SYN-00003", title="Renamed", price=0.01)
    first = last(catalog, "edit")
    with audit.acting_as("carl"):
        edit_product(catalog, tiny_embedder, "SYN-00003", price=5.0)
    newer = state(catalog)
    with audit.acting_as("ben"), pytest.raises(UndoRefused, match="SYN-00003 changed again after this change"):
        undo(catalog, first.id)
    assert state(catalog) == newer and last(catalog, "edit").actor == "carl", "refused: nothing changed or logged"

    undo(catalog, last(catalog, "edit").id)  # newest first
    undo(catalog, first.id)
    assert state(catalog) == before, "the title's vector too"


@both_stores
def test_an_import_is_not_undone_when_one_of_its_products_changed_since(catalog, tiny_embedder, tmp_path):
    rows = "NEW-1,Hoop,,earring,gold,none,120,USD,\nNEW-2,Band,,ring,gold,none,90,USD,\n"
    (tmp_path / "new.csv").write_text(HEADER + rows)
    ingest_csv(catalog, tiny_embedder, tmp_path / "new.csv")
    delete_products(catalog, ["NEW-2"])
    with pytest.raises(UndoRefused, match="NEW-2 changed again"):
        undo(catalog, last(catalog, "import").id)
    assert catalog.get_by_sku("NEW-1") is not None, "all or nothing: NEW-1 stays too"


@both_stores
def test_a_delete_and_a_restore_are_undone_exactly(catalog):
    before = state(catalog)
    delete_products(catalog, ["SYN-00005", "SYN-00006"])
    undo(catalog, last(catalog, "delete").id)
    assert state(catalog) == before and trashed(catalog) == [] and catalog.indexed_count() == 60

    delete_products(catalog, ["SYN-00007"])
    restore_product(catalog, "SYN-00007")
    undo(catalog, last(catalog, "restore").id)
    assert catalog.get_by_sku("SYN-00007") is None and [p.sku for p in trashed(catalog)] == ["SYN-00007"]


@both_stores
def test_a_delete_is_not_undone_over_a_restore_edit_and_second_delete(catalog, tiny_embedder):
    delete_products(catalog, ["SYN-00008"])
    first_delete = last(catalog, "delete")
    restore_product(catalog, "SYN-00008")
    edit_product(catalog, tiny_embedder, "SYN-00008", price=77.0)
    delete_products(catalog, ["SYN-00008"])
    with pytest.raises(UndoRefused, match="SYN-00008 changed again"):
        undo(catalog, first_delete.id)  # would bring back the row from before the edit
    undo(catalog, last(catalog, "delete").id)
    assert catalog.get_by_sku("SYN-00008").price == 77.0, "the second delete's undo brings back the edited row"


@both_stores
def test_replaced_photos_stay_until_the_undo_window_has_passed_and_purge_runs(
    catalog, tiny_embedder, tmp_path, monkeypatch
):
    four, nine = catalog.get_by_sku("SYN-00004"), catalog.get_by_sku("SYN-00009")
    four_photo = catalog.image_path(four)
    images = tmp_path / "images"
    images.mkdir()
    shutil.copy(four_photo, images / "four.png")  # SYN-00009 now shows SYN-00004's old photo
    (tmp_path / "photos.csv").write_text(
        HEADER
        + f"SYN-00004,{four.title},{four.description},{four.category},{four.metal},{four.stone},{four.price},"
        f"{four.currency},{new_photo(images, 'new.png', (1, 2, 3))}\n"
        + f"SYN-00009,{nine.title},{nine.description},{nine.category},{nine.metal},{nine.stone},{nine.price},"
        f"{nine.currency},four.png\n"
    )
    ingest_csv(catalog, tiny_embedder, tmp_path / "photos.csv", images)
    entry = last(catalog, "import")
    purge(catalog)  # empties the trash; the import is well inside its undo window
    assert has_photo(catalog, four) and has_photo(catalog, nine)

    monkeypatch.setenv("ASSISTANT_TRASH_DAYS", "0")
    purge_expired(catalog)
    assert not has_photo(catalog, nine), "kept only for the undo, which is over"
    assert has_photo(catalog, four), "still shown by SYN-00009: never deleted"
    with pytest.raises(UndoRefused, match="older than the trash time"):
        undo(catalog, entry.id)
    monkeypatch.setenv("ASSISTANT_TRASH_DAYS", "30")
    with pytest.raises(UndoRefused, match="only 0 can still be put back"):
        undo(catalog, entry.id)


def test_category_undo_is_refused_after_a_newer_change_to_that_category(catalog, tiny_embedder):
    owner = CatalogCategories(catalog, tiny_embedder)
    owner.add(Category(name="ear cuff", description="a cuff worn on the ear"))
    added = last(catalog, "category add")
    owner.update("ear cuff", description="a newer description")
    with pytest.raises(RegistryError, match="'ear cuff' changed again"):
        undo(catalog, added.id, lambda: owner)
    assert owner.registry.get("ear cuff").description == "a newer description"
    assert audit.entries(catalog, AuditQuery(action="undo")) == []


def sha(path: Path) -> str | None:
    return hashlib.sha256(path.read_bytes()).hexdigest() if path.exists() else None


def test_trainings_are_undone_by_putting_the_previous_checkpoint_back(catalog, tiny_embedder, capsys):
    def cli(*args: str) -> int:
        return main(["--model", "tiny-test", "--catalog", str(catalog.root), *args])

    checkpoint = catalog.root / "personalizer.pt"
    train = ("train", "personalizer", "--shoppers", "150", "--steps", "3", "--first-order")
    assert cli(*train) == 0
    first = sha(checkpoint)
    assert cli(*train, "--seed", "1") == 0
    second = last(catalog, "train personalizer")
    assert sha(checkpoint) != first and second.details["previous"] == first

    assert cli("undo", str(second.id)) == 0
    assert sha(checkpoint) == first, "the previous checkpoint is back, byte for byte"
    assert f"undid #{second.id} (train personalizer" in capsys.readouterr().out
    first_training = audit.entries(catalog, AuditQuery(action="train personalizer"))[1]
    assert cli("undo", str(first_training.id)) == 0
    assert not checkpoint.exists(), "the first training's undo: no checkpoint, as before it"
    assert cli("undo", str(second.id)) == 2, "undone already: a clear error, exit 2"
    assert "was undone already" in capsys.readouterr().err

    assert cli("train", "categories", "--meta-steps", "2", "--shots", "2", "--inner-steps", "1") == 0
    head = catalog.root / "categories" / "fewshot_head.pt"
    assert head.exists() and cli("undo", str(last(catalog, "train categories").id)) == 0
    assert not head.exists()


def test_kept_checkpoint_versions_go_when_the_undo_window_has_passed(catalog, monkeypatch):
    trained = catalog.root / "personalizer.pt"
    trained.write_bytes(b"first training")
    first = history.keep(catalog, trained)
    trained.write_bytes(b"second training")
    details = history.training_details(catalog, trained, first)
    assert details == {"file": "personalizer.pt", "previous": first, "written": sha(trained)}
    kept = catalog.root / "history" / first
    purge_expired(catalog)
    assert kept.read_bytes() == b"first training", "inside the undo window"
    two_days_ago = time.time() - 2 * 86400
    os.utime(kept, (two_days_ago, two_days_ago))  # kept two days ago, and the trash time is one day
    monkeypatch.setenv("ASSISTANT_TRASH_DAYS", "1")
    purge_expired(catalog)
    assert not kept.exists()
    with pytest.raises(CatalogError, match="no longer kept"):
        history.put_back(catalog, details)
    assert trained.read_bytes() == b"second training" and not kept.exists(), "refused: nothing changed"


def test_reindex_and_purge_say_why_they_cannot_be_undone(catalog, capsys, synthetic_source, tiny_embedder):
    ingest_csv(catalog, tiny_embedder, synthetic_source, synthetic_source.parent / "images")
    assert not_undoable(last(catalog, "import")) == "it changed no product (nothing to put back)"
    delete_products(catalog, ["SYN-00010"])
    purge(catalog)
    reindex(catalog, Embedder.from_spec("tiny-test-wide"))
    assert "reindex with the earlier model" in not_undoable(last(catalog, "reindex"))
    assert last(catalog, "reindex").details["undo"] == not_undoable(last(catalog, "reindex")), "the entry says so"
    assert "deletes for good" in not_undoable(last(catalog, "purge"))
    with pytest.raises(UndoRefused, match="cannot be undone"):
        undo(catalog, last(catalog, "reindex").id)
    assert main(["--catalog", str(catalog.root), "audit", "--action", "reindex"]) == 0
    assert f"{last(catalog, 'reindex').id} " in capsys.readouterr().out, "the audit lists entry numbers"
