"""Catalog page: import with row-level problems, zip photos, whole-file errors, edit and delete, catalog facts."""

from __future__ import annotations

import io
import zipfile

from app_support import rerun, run_app, shown

from assistant.catalog import Catalog, CatalogError, audit
from assistant.catalog.records import AuditQuery
from assistant.categories import CategoryRegistry
from assistant.clip.factory import TEST_MODEL_SPEC

HEADER = "sku,title,description,category,metal,stone,price,currency,image\n"


def open_catalog(folder) -> Catalog:
    return Catalog.open(folder, TEST_MODEL_SPEC, create=False)


def import_files(at, csv_text: str, photos: list[tuple[str, bytes, str]]):
    at.file_uploader(key="import-csv").set_value(("products.csv", csv_text.encode(), "text/csv"))
    if photos:
        at.file_uploader(key="import-photos").set_value(photos)
    rerun(at)
    at.button(key="import-run").click()
    return rerun(at)


def rejected_table(at):
    tables = [d.value for d in at.dataframe if "problem" in d.value.columns]
    assert len(tables) == 1, "the page shows one table of rejected rows"
    return tables[0]


def test_bad_upload_lists_each_rejected_row_and_imports_the_good_ones(monkeypatch, app_catalog, synthetic_source):
    photo = (synthetic_source.parent / "images" / "SYN-00001.png").read_bytes()
    csv_text = HEADER + (
        "NEW-1,Hammered gold cuff,Wide cuff,bracelet,yellow gold,none,310,USD,cuff.png\n"
        "NEW-2,,No title here,ring,silver,none,80,USD,\n"
        "NEW-3,Pearl studs,Round studs,earring,silver,pearl,lots,USD,\n"
        "NEW-4,Emerald drop,Drop pendant,pendant,platinum,emerald,900,USD,missing.png\n"
    )
    at = run_app(monkeypatch, app_catalog, "app_pages/catalog.py", signed_in=True)
    before = open_catalog(app_catalog).count()

    import_files(at, csv_text, [("cuff.png", photo, "image/png")])

    table = rejected_table(at)
    assert table[["row", "sku", "column"]].values.tolist() == [
        [3, "NEW-2", "title"],
        [4, "NEW-3", "price"],
        [5, "NEW-4", "image"],
    ]
    assert "lots" in table.loc[1, "problem"] and "missing.png" in table.loc[2, "problem"]
    assert not table["problem"].str.contains("assistant-upload-").any(), (
        "messages name the user's files, not temp paths"
    )
    assert any("3 rows were rejected" in w.value for w in at.warning)
    catalog = open_catalog(app_catalog)
    assert catalog.count() == before + 1
    assert catalog.get_by_sku("NEW-1").title == "Hammered gold cuff"
    assert catalog.image_path(catalog.get_by_sku("NEW-1")).read_bytes() == photo


def test_photos_in_a_zip_with_folders(monkeypatch, app_catalog, synthetic_source):
    photo = (synthetic_source.parent / "images" / "SYN-00002.png").read_bytes()
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("shoot/rings/band.png", photo)
    csv_text = HEADER + "NEW-9,Plain band,,ring,platinum,none,640,EUR,rings/band.png\n"
    at = run_app(monkeypatch, app_catalog, "app_pages/catalog.py", signed_in=True)

    import_files(at, csv_text, [("photos.zip", archive.getvalue(), "application/zip")])

    assert any("Added 1" in shown(s.value) and "Every row went in" in shown(s.value) for s in at.success)
    assert open_catalog(app_catalog).get_by_sku("NEW-9").currency == "EUR"


def test_a_damaged_zip_member_and_a_kept_photo_are_shown_per_row(monkeypatch, app_catalog, synthetic_source):
    photo = (synthetic_source.parent / "images" / "SYN-00002.png").read_bytes()
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_STORED) as z:
        z.writestr("band.png", photo)
    damaged = bytearray(archive.getvalue())
    damaged[14:18] = b"\x01\x00\x00\x00"  # the first member's CRC in its local header
    damaged[damaged.find(b"PK\x01\x02") + 16 : damaged.find(b"PK\x01\x02") + 20] = b"\x01\x00\x00\x00"
    kept = open_catalog(app_catalog).get_by_sku("SYN-00001")
    csv_text = HEADER + (
        "NEW-8,Plain band,,ring,platinum,none,640,EUR,band.png\n"
        f"SYN-00001,{kept.title} (new season),,ring,silver,none,99,USD,\n"
    )
    at = run_app(monkeypatch, app_catalog, "app_pages/catalog.py", signed_in=True)

    import_files(at, csv_text, [("photos.zip", bytes(damaged), "application/zip")])

    table = rejected_table(at)
    assert table[["file", "row", "sku", "column"]].values.tolist() == [["products.csv", 2, "NEW-8", "image"]]
    assert "band.png" in table.loc[0, "problem"] and "damaged" in table.loc[0, "problem"]
    [notes] = [d.value for d in at.dataframe if "note" in d.value.columns]
    assert notes[["row", "sku", "column"]].values.tolist() == [[3, "SYN-00001", "image"]]
    assert open_catalog(app_catalog).get_by_sku("SYN-00001").image_sha256 == kept.image_sha256


def test_an_import_the_catalog_stops_part_way_is_a_sentence_not_a_traceback(monkeypatch, app_catalog):
    def refuse(self, records, change=None):
        raise CatalogError("the catalog folder is read-only")

    monkeypatch.setattr(Catalog, "upsert", refuse)
    at = run_app(monkeypatch, app_catalog, "app_pages/catalog.py", signed_in=True)

    import_files(at, HEADER + "NEW-7,Plain band,,ring,platinum,none,640,EUR,\n", [])

    assert not at.exception
    assert any("stopped part way" in shown(e.value) and "read-only" in shown(e.value) for e in at.error)
    [entry] = audit.entries(open_catalog(app_catalog), AuditQuery(action="import", actor="tester"))
    assert "read-only" in entry.details["stopped part way"], "the audit trail records the stopped import too"


def test_a_file_that_is_no_catalog_csv_is_refused_as_a_whole(monkeypatch, app_catalog):
    at = run_app(monkeypatch, app_catalog, "app_pages/catalog.py", signed_in=True)
    before = open_catalog(app_catalog).count()

    import_files(at, "name,cost\nring,10\n", [])

    assert any(
        "Nothing was imported" in shown(e.value) and "missing column(s) sku, title" in shown(e.value) for e in at.error
    )
    assert open_catalog(app_catalog).count() == before


def test_edit_then_delete_a_product(monkeypatch, app_catalog):
    before = open_catalog(app_catalog).vectors()[1]
    at = run_app(monkeypatch, app_catalog, "app_pages/catalog.py", signed_in=True)
    at.selectbox(key="edit-sku").set_value("SYN-00002")
    rerun(at)
    metal = next(s for s in at.selectbox if s.label == "Metal")
    assert set(metal.options) >= {"Platinum", "Silver", "Rose gold"}, "facets come from the catalog's values"
    metal.set_value("silver")  # (a value the catalog does not use yet can be typed in: accept_new_options)
    next(t for t in at.text_input if t.label == "Title").input("Renamed earring")
    next(n for n in at.number_input if n.label == "Price").set_value(99.5)
    next(b for b in at.button if b.label == "Save changes").click()
    rerun(at)

    product = open_catalog(app_catalog).get_by_sku("SYN-00002")
    assert (product.title, product.price, product.metal) == ("Renamed earring", 99.5, "silver")
    assert [shown(s.value) for s in at.success] == ["Saved SYN-00002."]
    changed = ~(open_catalog(app_catalog).vectors()[1] == before).all(axis=1)
    assert changed.sum() == 1, "the renamed product, and only it, is embedded again"

    at.selectbox(key="edit-sku").set_value("SYN-00002")
    rerun(at)
    assert at.button(key="delete-SYN-00002").disabled, "deleting needs the confirmation box ticked"
    at.checkbox(key="delete-confirm-SYN-00002").check()
    rerun(at)
    at.button(key="delete-SYN-00002").click()
    rerun(at)

    catalog = open_catalog(app_catalog)
    assert catalog.get_by_sku("SYN-00002") is None and catalog.indexed_count() == catalog.count() == 59
    assert [shown(s.value) for s in at.success] == ["Deleted SYN-00002; restore it from the Trash tab."]


def test_catalog_facts_and_browse_table(monkeypatch, app_catalog):
    at = run_app(monkeypatch, app_catalog, "app_pages/catalog.py", signed_in=True)
    metrics = {m.label: m.value for m in at.metric}
    registry = len(list(CategoryRegistry.load(app_catalog)))
    assert metrics == {"Products": "60", "In the search index": "60", "Index": "flat", "Categories": str(registry)}
    assert "5" in next(m.help for m in at.metric if m.label == "Categories"), "the CSV's categories, in the help"
    assert any(TEST_MODEL_SPEC in c.value for c in at.caption)
    browse = next(d.value for d in at.dataframe if "sku" in d.value.columns)
    assert len(browse) == 50 and browse["photo"].str.startswith("data:image/jpeg;base64,").all()
    assert browse["updated"].str.match(r"^[A-Z][a-z]{2} \d{1,2}, \d{4}, \d{1,2}:\d{2}\s?[AP]M$").all(), "human dates"

    at.selectbox(key="browse-category").set_value("ring")
    rerun(at)
    browse = next(d.value for d in at.dataframe if "sku" in d.value.columns)
    assert len(browse) == 12 and set(browse["category"]) == {"ring"}
