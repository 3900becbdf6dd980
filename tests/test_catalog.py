"""Catalog store: edits, deletes, model-spec guard, reindex, and consistency after crashes."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from ingest_process import INGEST_SCRIPT
from postgres_server import both_stores

from assistant.catalog.catalog import INDEX_NAME, Catalog, CatalogError
from assistant.catalog.reindex import reindex
from assistant.catalog.synthetic import write_synthetic_catalog
from assistant.clip.embedder import Embedder

REPO = Path(__file__).resolve().parents[1]


@both_stores
def test_delete_removes_rows_vectors_and_unused_photos(catalog, catalog_location):
    victim = catalog.get_by_sku("SYN-00010")
    photo = catalog.image_path(victim)
    assert photo.exists()
    assert catalog.delete(["SYN-00010", "NOPE"]) == ["NOPE"]
    assert catalog.get_by_sku("SYN-00010") is None and not photo.exists()
    assert catalog.count() == catalog.indexed_count() == 59
    assert victim.id not in catalog.ensure_index().ids()
    reopened = Catalog.open(catalog_location, catalog.model_spec)
    assert reopened.count() == reopened.indexed_count() == 59


@both_stores
def test_update_fields_edits_shop_data(catalog):
    updated = catalog.update_fields("SYN-00001", title="Renamed", price=42.5, metal="Rose Gold")
    assert (updated.title, updated.price, updated.metal) == ("Renamed", 42.5, "rose gold")
    with pytest.raises(CatalogError, match="cannot edit vector"):
        catalog.update_fields("SYN-00001", vector=b"")
    with pytest.raises(CatalogError, match="no product with sku"):
        catalog.update_fields("NOPE", title="x")


@both_stores
def test_other_model_spec_is_refused_with_the_reindex_command(catalog, catalog_location):
    with pytest.raises(CatalogError) as err:
        Catalog.open(catalog_location, "ViT-B-32:laion2b_s34b_b79k")
    assert "built with model 'tiny-test'" in str(err.value) and "reindex" in str(err.value)


@both_stores
def test_reindex_moves_every_vector_to_the_new_model(catalog, catalog_location, tmp_path, tiny_embedder):
    import torch

    state = {k: v + 0.05 * torch.randn_like(v) for k, v in tiny_embedder.model.state_dict().items()}
    torch.save(state, tmp_path / "other.pt")
    other = Embedder.from_spec(f"tiny-test:{tmp_path / 'other.pt'}")
    cat = Catalog.open(catalog_location, other.spec.name, allow_reindex=True)
    assert reindex(cat, other) == 60
    reopened = Catalog.open(catalog_location, other.spec.name)
    assert reopened.count() == reopened.indexed_count() == 60
    ids, vectors = reopened.vectors()
    product = reopened.get([int(ids[0])])[0]
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1, atol=1e-5)
    assert reopened.search_vector(vectors[0], k=1)[0].product.sku == product.sku
    with pytest.raises(CatalogError, match="built with model"):
        Catalog.open(catalog_location, "tiny-test")


def test_stale_or_corrupt_index_is_repaired_on_open(catalog):
    index_file = catalog.root / INDEX_NAME
    catalog.delete(["SYN-00002"])
    stale = index_file.read_bytes()
    catalog.delete(["SYN-00003"])
    index_file.write_bytes(stale)  # as if the process died after the database commit
    reopened = Catalog.open(catalog.root, catalog.model_spec)
    assert reopened.count() == reopened.indexed_count() == 58
    index_file.write_bytes(b"garbage")
    reopened = Catalog.open(catalog.root, catalog.model_spec)
    assert reopened.count() == reopened.indexed_count() == 58


@both_stores
def test_other_process_writes_are_seen(catalog, catalog_location):
    reader = Catalog.open(catalog_location, catalog.model_spec)
    assert reader.indexed_count() == 60
    catalog.delete(["SYN-00004"])
    assert reader.indexed_count() == 59 and reader.count() == 59


@pytest.mark.slow
def test_sigkill_during_ingest_leaves_a_consistent_resumable_catalog(tmp_path):
    source = write_synthetic_catalog(tmp_path / "src", n=400, seed=3)
    root = tmp_path / "cat"
    args = [sys.executable, "-c", INGEST_SCRIPT, str(root), str(source), str(source.parent / "images")]
    proc = subprocess.Popen(args, cwd=REPO, stdout=subprocess.PIPE, text=True)
    batches = 0
    for line in proc.stdout:
        batches += line.startswith("batch")
        if batches == 3:
            os.kill(proc.pid, signal.SIGKILL)
            break
    proc.wait(timeout=60)
    assert proc.returncode == -signal.SIGKILL

    cat = Catalog.open(root, "tiny-test")
    assert 24 <= cat.count() < 400
    assert cat.count() == cat.indexed_count()
    done_before = cat.count()

    resumed = subprocess.run(args, cwd=REPO, capture_output=True, text=True, timeout=300)
    assert resumed.returncode == 0, resumed.stderr
    info = json.loads(
        subprocess.run(
            [sys.executable, "-m", "assistant", "--catalog", str(root), "info", "--json"],
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=120,
            check=True,
        ).stdout
    )
    assert info["products"] == info["indexed"] == 400
    first_added = int(resumed.stdout.split("batch ")[1].split()[0])
    assert (
        first_added <= 8
        and done_before + sum(1 for line in resumed.stdout.splitlines() if line.startswith("batch")) * 8 >= 400
    )


@both_stores
def test_editing_what_clip_reads_moves_the_vector_with_it(catalog, tiny_embedder, synthetic_source):
    from assistant.catalog.ingest import ingest_csv
    from assistant.catalog.reembed import edit_product

    before_ids, before = catalog.vectors()
    product = catalog.get_by_sku("SYN-00005")
    row = list(before_ids).index(product.id)

    priced = edit_product(catalog, tiny_embedder, "SYN-00005", price=1.0)
    assert priced.price == 1.0
    assert np.array_equal(catalog.vectors([product.id])[1][0], before[row])  # price is not embedded

    edited = edit_product(
        catalog, tiny_embedder, "SYN-00005", title="Nose pin with a tiny diamond", category="Nose Pin"
    )
    assert (edited.title, edited.category) == ("Nose pin with a tiny diamond", "nose pin")
    after = catalog.vectors([product.id])[1][0]
    assert not np.allclose(after, before[row]) and np.isclose(np.linalg.norm(after), 1, atol=1e-5)
    query = catalog.search_vector(after, k=1)
    assert query[0].product.sku == "SYN-00005" and query[0].score == pytest.approx(1.0, abs=1e-5)
    assert catalog.count() == catalog.indexed_count() == 60

    # re-ingesting the original CSV restores the row (its content differs from the edit), and only that row
    report = ingest_csv(catalog, tiny_embedder, synthetic_source, synthetic_source.parent / "images")
    assert (report.updated, report.unchanged) == (1, 59)
    assert np.allclose(catalog.vectors([product.id])[1][0], before[row], atol=1e-6)


@both_stores
def test_reindex_keeps_ingest_idempotent(catalog, catalog_location, tmp_path, tiny_embedder, synthetic_source):
    import torch

    from assistant.catalog.ingest import ingest_csv

    state = {k: v + 0.05 * torch.randn_like(v) for k, v in tiny_embedder.model.state_dict().items()}
    torch.save(state, tmp_path / "other.pt")
    other = Embedder.from_spec(f"tiny-test:{tmp_path / 'other.pt'}")
    reindex(Catalog.open(catalog_location, other.spec.name, allow_reindex=True), other)
    report = ingest_csv(
        Catalog.open(catalog_location, other.spec.name), other, synthetic_source, synthetic_source.parent / "images"
    )
    assert (report.added, report.updated, report.unchanged) == (0, 0, 60)
