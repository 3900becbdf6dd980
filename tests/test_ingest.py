"""Ingest: row validation with row-numbered problems, bad photos, zips, idempotent and resumable re-runs."""

from __future__ import annotations

import csv
import shutil
import zipfile
from pathlib import Path

import pytest
from postgres_server import both_stores

from assistant.catalog import Catalog
from assistant.catalog.ingest import IngestError, ingest_csv
from assistant.images import MAX_IMAGE_BYTES

HEADER = ["sku", "title", "description", "category", "metal", "stone", "price", "currency", "image", "collection"]


def write_csv(path: Path, rows: list[list[str]], header: list[str] = HEADER) -> Path:
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(header)
        writer.writerows(rows)
    return path


@pytest.fixture
def mixed_source(tmp_path, synthetic_source) -> Path:
    """Good rows plus one of every kind of bad row, with a corrupt and an oversized photo."""
    images = tmp_path / "photos"
    shutil.copytree(synthetic_source.parent / "images", images)
    (images / "corrupt.jpg").write_bytes(b"\xff\xd8 this is not really a jpeg")
    with open(images / "huge.png", "wb") as f:
        f.truncate(MAX_IMAGE_BYTES + 1)
    good = [
        [
            "R1",
            "Rose gold hoop earrings",
            "Hoops",
            "Earring",
            "Rose Gold",
            "none",
            "1,250.00",
            "usd",
            "SYN-00001.png",
            "Aurora",
        ],
        ["R2", "Pearl drop earrings", "", "earring", "silver", "pearl", "$320", "USD", "SYN-00002.png", ""],
        ["R3", "Text-only chain", "No photo yet", "chain", "yellow gold", "none", "99", "USD", "", ""],
    ]
    bad = [
        ["", "No sku", "", "ring", "", "", "10", "USD", "SYN-00003.png", ""],  # row 5
        ["R1", "Duplicate sku", "", "ring", "", "", "10", "USD", "SYN-00003.png", ""],  # row 6
        ["B3", "", "", "ring", "", "", "10", "USD", "SYN-00003.png", ""],  # row 7: no title
        ["B4", "Bad price", "", "ring", "", "", "ten dollars", "USD", "SYN-00003.png", ""],  # row 8
        ["B5", "Negative price", "", "ring", "", "", "-5", "USD", "SYN-00003.png", ""],  # row 9
        ["B6", "Bad currency", "", "ring", "", "", "5", "dollars", "SYN-00003.png", ""],  # row 10
        ["B7", "Missing photo", "", "ring", "", "", "5", "USD", "nowhere.png", ""],  # row 11
        ["B8", "Escaping path", "", "ring", "", "", "5", "USD", "../etc/passwd.png", ""],  # row 12
        ["B9", "Corrupt photo", "", "ring", "", "", "5", "USD", "corrupt.jpg", ""],  # row 13
        ["B10", "Huge photo", "", "ring", "", "", "5", "USD", "huge.png", ""],  # row 14
    ]
    write_csv(tmp_path / "products.csv", good + bad)
    return tmp_path


def new_catalog(path: Path | str, embedder) -> Catalog:
    return Catalog.open(path, embedder.spec.name, embedder.dim)


@both_stores
def test_good_rows_go_in_bad_rows_are_reported_by_row(catalog_location, tiny_embedder, mixed_source):
    cat = new_catalog(catalog_location, tiny_embedder)
    report = ingest_csv(cat, tiny_embedder, mixed_source / "products.csv", mixed_source / "photos")
    assert (report.added, report.updated, report.unchanged) == (3, 0, 0)
    problems = {p.row: p for p in report.rejected}
    assert sorted(problems) == list(range(5, 15))
    assert problems[5].column == "sku" and "empty" in problems[5].message
    assert problems[6].column == "sku" and "duplicate of row 2" in problems[6].message
    assert problems[7].column == "title"
    assert problems[8].column == "price" and "ten dollars" in problems[8].message
    assert problems[9].column == "price"
    assert problems[10].column == "currency"
    assert problems[11].column == "image" and "does not exist" in problems[11].message
    assert problems[12].column == "image" and ".." in problems[12].message
    assert problems[13].sku == "B9" and "not a readable image" in problems[13].message
    assert problems[14].sku == "B10" and "limit" in problems[14].message
    assert cat.count() == cat.indexed_count() == 3

    r1 = cat.get_by_sku("R1")
    assert (r1.category, r1.metal, r1.price, r1.currency) == ("earring", "rose gold", 1250.0, "USD")
    assert r1.attributes == {"collection": "Aurora"}
    assert cat.image_path(r1).read_bytes() == (mixed_source / "photos" / "SYN-00001.png").read_bytes()
    assert cat.get_by_sku("R3").image is None  # text-only products are allowed


@both_stores
def test_reingest_embeds_nothing_twice_and_updates_changed_rows(catalog_location, tiny_embedder, mixed_source, monkeypatch):
    cat = new_catalog(catalog_location, tiny_embedder)
    csv_path = mixed_source / "products.csv"
    ingest_csv(cat, tiny_embedder, csv_path, mixed_source / "photos")

    calls = []
    original = tiny_embedder.embed_texts
    monkeypatch.setattr(
        tiny_embedder, "embed_texts", lambda texts, **kw: calls.append(list(texts)) or original(texts, **kw)
    )
    again = ingest_csv(cat, tiny_embedder, csv_path, mixed_source / "photos")
    assert (again.added, again.updated, again.unchanged) == (0, 0, 3)
    assert calls == [["Corrupt photo, ring"]]  # only the row whose photo still fails is tried again
    calls.clear()

    rows = list(csv.reader(open(csv_path, encoding="utf-8")))
    rows[2][1] = "Pearl drop earrings, longer"
    write_csv(csv_path, rows[1:], rows[0])
    changed = ingest_csv(cat, tiny_embedder, csv_path, mixed_source / "photos")
    assert (changed.added, changed.updated, changed.unchanged) == (0, 1, 2)
    assert len(calls) == 1 and calls[0][0].startswith("Pearl drop earrings, longer")
    assert cat.count() == cat.indexed_count() == 3


@both_stores
def test_ingest_from_zip_with_top_folder(tmp_path, catalog_location, tiny_embedder, synthetic_source):
    archive = tmp_path / "photos.zip"
    with zipfile.ZipFile(archive, "w") as z:
        for photo in sorted((synthetic_source.parent / "images").glob("*.png"))[:10]:
            z.write(photo, f"photos/{photo.name}")
    rows = list(csv.reader(open(synthetic_source, encoding="utf-8")))
    csv_path = write_csv(tmp_path / "ten.csv", rows[1:11], rows[0])
    cat = new_catalog(catalog_location, tiny_embedder)
    report = ingest_csv(cat, tiny_embedder, csv_path, archive)
    assert report.added == 10 and not report.rejected


@pytest.mark.parametrize(
    "content, words",
    [("title,price\nA ring,10\n", r"missing column\(s\) sku"), (b"sku,title\n\xff\xfe,x\n", "not UTF-8")],
)
def test_unusable_files_fail_with_a_clear_message(tmp_path, tiny_embedder, content, words):
    path = tmp_path / "bad.csv"
    path.write_bytes(content.encode() if isinstance(content, str) else content)
    with pytest.raises(IngestError, match=words):
        ingest_csv(new_catalog(tmp_path / "cat", tiny_embedder), tiny_embedder, path, None)


def test_ragged_row_is_rejected_not_misread(tmp_path, tiny_embedder):
    path = tmp_path / "p.csv"
    path.write_text("sku,title,price\nA,Gold ring,10\nB,Silver ring, with comma,20\n", encoding="utf-8")
    report = ingest_csv(new_catalog(tmp_path / "cat", tiny_embedder), tiny_embedder, path, None)
    assert report.added == 1 and report.rejected[0].row == 3 and "quote" in report.rejected[0].message
