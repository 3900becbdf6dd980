"""``copy --from --to`` between a catalog folder and a PostgreSQL database: complete, resumable, verified."""

from __future__ import annotations

import psycopg
import pytest

from assistant.catalog import Catalog, CatalogError, transfer
from assistant.catalog.transfer import catalog_digests, copy_catalog, verify
from assistant.cli.database import open_copy_ends, shared_file_names
from assistant.cli.main import main

pytestmark = pytest.mark.postgres


@pytest.fixture
def folder_with_extras(catalog):
    """The 60-product folder catalog plus a registry, a trained head, a personaliser and an example photo."""
    (catalog.root / "categories" / "examples").mkdir(parents=True)
    (catalog.root / "categories" / "registry.json").write_text('{"format_version": 1, "categories": []}')
    (catalog.root / "categories" / "fewshot_head.pt").write_bytes(b"head bytes")
    (catalog.root / "personalizer.pt").write_bytes(b"personaliser bytes")
    (catalog.root / "categories" / "examples" / "ab12.png").write_bytes(b"\x89PNG example")
    return catalog


def test_folder_to_database_and_back_keeps_everything(folder_with_extras, postgres_url, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("ASSISTANT_CACHE_DIR", str(tmp_path / "cache"))
    folder = folder_with_extras
    assert main(["copy", "--from", str(folder.root), "--to", postgres_url]) == 0
    out = capsys.readouterr().out
    assert "copied 60 products" in out and "verified: 60 products" in out and "4 shared files" in out
    back = tmp_path / "back"
    assert main(["copy", "--from", postgres_url, "--to", str(back)]) == 0
    assert "verified" in capsys.readouterr().out
    restored = Catalog.open(back, folder.model_spec)
    assert catalog_digests(restored) == catalog_digests(folder)
    assert (back / "personalizer.pt").read_bytes() == b"personaliser bytes"
    assert (back / "categories" / "examples" / "ab12.png").read_bytes() == b"\x89PNG example"
    ids, vectors = restored.vectors()
    assert restored.search_vector(vectors[0], k=1)[0].product.id == ids[0]
    assert main(["copy", "--from", str(folder.root), "--to", postgres_url]) == 0  # again: nothing to do
    assert "copied 0 products, 60 already there" in capsys.readouterr().out


def test_an_interrupted_copy_resumes_where_it_stopped(catalog, postgres_url, tmp_path, monkeypatch):
    monkeypatch.setenv("ASSISTANT_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setattr(transfer, "BATCH", 16)
    source, destination = open_copy_ends(str(catalog.root), postgres_url)
    real_upsert, calls = destination.upsert, []

    def failing_upsert(records):
        calls.append(len(records))
        if len(calls) == 2:
            raise KeyboardInterrupt  # as if the operator pressed Ctrl-C during the second batch
        return real_upsert(records)

    monkeypatch.setattr(destination, "upsert", failing_upsert)
    with pytest.raises(KeyboardInterrupt):
        copy_catalog(source, destination)
    assert destination.count() == 16  # the first batch committed, the second did not half happen
    monkeypatch.setattr(destination, "upsert", real_upsert)
    report = copy_catalog(source, destination, *shared_file_names())
    assert (report.copied, report.unchanged, report.problems) == (44, 16, [])


def test_verification_catches_a_changed_product_and_copy_refuses_foreign_rows(catalog, postgres_url, tmp_path,
                                                                              monkeypatch):  # fmt: skip
    monkeypatch.setenv("ASSISTANT_CACHE_DIR", str(tmp_path / "cache"))
    source, destination = open_copy_ends(str(catalog.root), postgres_url)
    assert copy_catalog(source, destination).verified
    with psycopg.connect(postgres_url) as conn:
        conn.execute("UPDATE products SET price = price + 1 WHERE sku = 'SYN-00009'")
    assert any("1 products differ" in p for p in verify(source, destination))
    catalog.delete(["SYN-00010"])
    with pytest.raises(CatalogError, match=r"1 products that .* lacks"):
        copy_catalog(source, destination)
