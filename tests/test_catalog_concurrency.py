"""Every process sees every commit: long-running readers, concurrent writers, photo reuse, killed writers."""

from __future__ import annotations

import fcntl
import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from assistant.catalog import Catalog, ProductRecord
from assistant.catalog.catalog import INDEX_NAME
from assistant.catalog.index_sync import read_index_file
from assistant.catalog.synthetic import prefixed_copy
from assistant.images import sha256_bytes

REPO = Path(__file__).resolve().parents[1]
STRESS = REPO / "tests" / "catalog_stress.py"


def cli_ingest(root: Path, csv_path: Path, images: Path) -> subprocess.Popen:
    args = [sys.executable, "-m", "assistant", "--catalog", str(root), "--model", "tiny-test", "ingest"]
    args += [str(csv_path), "--images", str(images), "--batch-size", "8"]
    return subprocess.Popen(args, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def assert_consistent(root: Path, model_spec: str) -> Catalog:
    """Products == indexed in memory and in the index file, and every product's photo is there."""
    catalog = Catalog.open(root, model_spec)
    db_ids, _ = catalog.vectors()
    assert sorted(catalog.ensure_index().ids().tolist()) == db_ids.tolist()
    on_disk, generation = read_index_file(root / INDEX_NAME)
    assert generation == catalog.generation and sorted(on_disk.ids().tolist()) == db_ids.tolist()
    for product in catalog.products():
        assert product.image_sha256 is None or catalog.image_path(product).is_file(), product.sku
    return catalog


@pytest.mark.slow
def test_a_long_running_process_sees_and_keeps_another_process_commits(catalog, synthetic_source, tmp_path):
    app = catalog  # opened before the CLI ingest, like the app's cached catalog
    assert len(app.search_vector(app.vectors()[1][0], k=3)) == 3
    other = prefixed_copy(synthetic_source, tmp_path / "new.csv", "NEW", n=20)
    ingest = cli_ingest(app.root, other, synthetic_source.parent / "images")
    assert ingest.wait(timeout=300) == 0, ingest.stderr.read()

    new = app.get_by_sku("NEW-SYN-00007")
    hits = app.search_vector(app.vectors([new.id])[1][0], k=2)  # SYN-00007 has the same text and photo
    assert {h.product.sku for h in hits} == {"SYN-00007", "NEW-SYN-00007"}
    assert app.indexed_count() == app.count() == 80
    # this process now writes: the index it saves keeps the other process's rows
    app.delete(["SYN-00001"])
    on_disk, generation = read_index_file(app.root / INDEX_NAME)
    assert generation == app.generation and on_disk.ntotal == 79 and new.id in on_disk.ids()


@pytest.mark.slow
def test_two_concurrent_ingests_and_deletes_of_shared_photos_lose_nothing(catalog, synthetic_source, tmp_path):
    images = synthetic_source.parent / "images"
    ingests = [
        cli_ingest(catalog.root, prefixed_copy(synthetic_source, tmp_path / f"{p}.csv", p, n=30), images) for p in "AB"
    ]
    deleted = [f"SYN-{n:05d}" for n in range(1, 31)]  # their photos are the ones the ingests are storing
    start = catalog.generation
    while catalog.generation == start and all(i.poll() is None for i in ingests):
        time.sleep(0.02)  # delete while the ingests write, from their first commit on
    for sku in deleted:
        catalog.delete([sku])
        time.sleep(0.05)
    for ingest in ingests:
        assert ingest.wait(timeout=300) == 0, ingest.stderr.read()

    reopened = assert_consistent(catalog.root, catalog.model_spec)
    skus = {p.sku for p in reopened.products()}
    assert skus == {f"{p}-SYN-{n:05d}" for p in "AB" for n in range(1, 31)} | {f"SYN-{n:05d}" for n in range(31, 61)}


def _photo_record(catalog: Catalog, sku: str, photo: bytes) -> ProductRecord:
    vector = np.random.default_rng(7).standard_normal(catalog.dim).astype(np.float32)
    return ProductRecord(
        sku=sku,
        title="Reused photo",
        vector=vector / np.linalg.norm(vector),
        content_hash=sku,
        image="same.png",
        image_sha256=sha256_bytes(photo),
        photo=photo,
    )


class _BeforeWrite:
    """A store whose ``nth`` write first lets ``interleave`` run: forces one interleaving of two writers."""

    def __init__(self, store, nth: int, interleave):
        self._store, self._nth, self._interleave, self._writes = store, nth, interleave, 0

    def write(self):
        self._writes += 1
        if self._writes == self._nth:
            self._interleave()
        return self._store.write()

    def __getattr__(self, name):
        return getattr(self._store, name)


@pytest.mark.parametrize("order", ["delete's cleanup before the ingest's write", "ingest commits before cleanup"])
def test_a_delete_racing_an_ingest_that_reuses_its_photo_keeps_the_photo(catalog, order):
    shared = catalog.get_by_sku("SYN-00003")
    photo = catalog.image_path(shared).read_bytes()
    ingest = Catalog.open(catalog.root, catalog.model_spec)  # another writer, with its own connections
    record = _photo_record(catalog, "REUSE-1", photo)
    if order.startswith("delete"):
        # the ingest has stored the photo (already there) and is about to write when the delete runs in full
        ingest.store = _BeforeWrite(ingest.store, 1, lambda: catalog.delete(["SYN-00003"]))
        ingest.upsert([record])
    else:
        # the delete has committed; the ingest commits before the delete's photo cleanup begins
        catalog.store = _BeforeWrite(catalog.store, 2, lambda: ingest.upsert([record]))
        catalog.delete(["SYN-00003"])
    ingest.save_index()  # as ingest_csv does after its batches
    reused = ingest.get_by_sku("REUSE-1")
    assert catalog.get_by_sku("SYN-00003") is None
    assert ingest.image_path(reused).read_bytes() == photo
    assert_consistent(catalog.root, catalog.model_spec)


def test_stale_temp_files_go_when_a_catalog_opens_but_a_live_writers_stay(catalog):
    stale = [catalog.root / ".index.faiss-k1ll3d__.tmp", catalog.root / "images" / "ab" / ".abcd.png-0123abcd.tmp"]
    stale[1].parent.mkdir(exist_ok=True)
    live = catalog.root / ".manifest.json-w0rk1ng_.tmp"
    for path in [*stale, live]:
        path.write_bytes(b"half written")
    unrelated = catalog.root / "notes.tmp"
    unrelated.write_bytes(b"not ours")
    with open(live, "rb") as held:
        fcntl.flock(held, fcntl.LOCK_EX)  # as atomic_write_bytes holds its temp file while writing
        Catalog.open(catalog.root, catalog.model_spec)
        assert live.exists()
    assert not any(p.exists() for p in stale) and unrelated.exists()


@pytest.mark.slow
def test_stress_two_writer_processes_and_a_reader_never_see_a_stale_or_missing_result(tmp_path):
    root = tmp_path / "stress"
    seconds = "12"

    def start(*args: str) -> subprocess.Popen:
        return subprocess.Popen(
            [sys.executable, str(STRESS), *args], cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )

    reader = start("reader", str(root), seconds)
    writers = [start("writer", str(root), prefix, seconds, str(n)) for n, prefix in enumerate(["W1", "W2"], 1)]
    left: set[str] = set()
    for writer in writers:
        out, err = writer.communicate(timeout=45)
        assert writer.returncode == 0, err
        left |= set(json.loads(out))
    out, err = reader.communicate(timeout=45)
    assert reader.returncode == 0, err
    assert json.loads(out)["checked"] >= 20  # each one a search that had to be a brute-force top-k

    catalog = assert_consistent(root, "stress-test")
    assert {p.sku for p in catalog.products()} == left


def test_a_catalog_from_before_generation_stamps_opens_consistent(catalog):
    """A version-1 folder: no vector_generation column, no removed_products table, a bare FAISS file."""
    import sqlite3

    catalog.delete(["SYN-00009"])
    bare_index = read_index_file(catalog.root / INDEX_NAME)[0].to_bytes()
    catalog.close()
    with sqlite3.connect(catalog.root / "catalog.db") as db:
        db.execute("DROP INDEX products_vector_generation")
        db.execute("ALTER TABLE products DROP COLUMN vector_generation")
        db.execute("DROP TABLE removed_products")
        db.execute("DELETE FROM meta WHERE key = 'schema_version'")
    (catalog.root / INDEX_NAME).write_bytes(bare_index)

    old = Catalog.open(catalog.root, catalog.model_spec)
    assert old.count() == old.indexed_count() == 59
    vector = old.vectors([old.get_by_sku("SYN-00010").id])[1][0]
    assert old.search_vector(vector, k=1)[0].product.sku == "SYN-00010"
    old.delete(["SYN-00010"])  # the first write after the upgrade stamps the file
    assert_consistent(catalog.root, catalog.model_spec)
