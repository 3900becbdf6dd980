"""A catalog in PostgreSQL shared by several processes: freshness, crashes, a database that goes away."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import psycopg
import pytest
from ingest_process import INGEST_SCRIPT

from assistant.catalog import Catalog, CatalogError, ProductRecord
from assistant.catalog.postgres import migrations
from assistant.catalog.synthetic import write_synthetic_catalog
from assistant.cli.main import main

pytestmark = pytest.mark.postgres
REPO = Path(__file__).resolve().parents[1]
#: The issue's promise: a write from any process is searchable on every server within this many seconds.
FRESHNESS_SECONDS = 1.0


@pytest.fixture
def pg_location(monkeypatch, tmp_path, postgres_url) -> str:
    monkeypatch.setenv("ASSISTANT_CACHE_DIR", str(tmp_path / "cache"))
    return postgres_url


@pytest.mark.parametrize("store_kind", ["postgres"], indirect=True)
def test_everything_lives_in_the_database(catalog, catalog_location):
    with psycopg.connect(catalog_location) as conn:
        photos = conn.execute("SELECT sha256, data FROM photos").fetchall()
        products, generation = conn.execute(
            "SELECT (SELECT count(*) FROM products), (SELECT generation FROM catalog_state)"
        ).fetchone()
        model = conn.execute("SELECT model_spec FROM catalog_manifest").fetchone()[0]
    assert products == 60 and generation >= 1 and model == "tiny-test"
    assert photos and all(hashlib.sha256(data).hexdigest() == sha for sha, data in photos)
    product = catalog.get_by_sku("SYN-00007")
    cached = catalog.image_path(product)  # served from this server's cache, filled from the database
    assert hashlib.sha256(cached.read_bytes()).hexdigest() == product.image_sha256


@pytest.mark.parametrize("store_kind", ["postgres"], indirect=True)
def test_a_new_server_builds_its_index_from_the_database(catalog, catalog_location, tmp_path, monkeypatch):
    monkeypatch.setenv("ASSISTANT_CACHE_DIR", str(tmp_path / "other-server"))
    fresh = Catalog.open(catalog_location, catalog.model_spec)
    assert fresh.indexed_count() == 60 and fresh.index.generation == catalog.generation
    ids, vectors = catalog.vectors()
    assert fresh.search_vector(vectors[5], k=1)[0].product.id == ids[5]


@pytest.mark.parametrize("store_kind", ["postgres"], indirect=True)
def test_a_missed_notification_never_serves_stale_results(catalog, catalog_location):
    server = Catalog.open(catalog_location, catalog.model_spec)  # no listener: only the generation check
    ids, vectors = catalog.vectors()
    catalog.delete([catalog.get([int(ids[3])])[0].sku])
    hits = server.search_vector(vectors[3], k=3)
    assert int(ids[3]) not in [h.product.id for h in hits] and server.indexed_count() == 59


def _record(sku: str, vector: np.ndarray) -> ProductRecord:
    return ProductRecord(sku=sku, title=f"Probe {sku}", vector=vector, content_hash=f"probe-{sku}")


def _wait_for(condition, seconds: float) -> float | None:
    start = time.monotonic()
    while time.monotonic() - start < seconds:
        if condition():
            return time.monotonic() - start
        time.sleep(0.01)
    return None


def _env(tmp_path: Path) -> dict:
    return {**os.environ, "ASSISTANT_CACHE_DIR": str(tmp_path / "writer-cache"), "ASSISTANT_MODEL": "tiny-test"}


@pytest.mark.slow
@pytest.mark.parametrize("store_kind", ["postgres"], indirect=True)
def test_a_cli_write_reaches_a_listening_server_within_a_second(catalog, catalog_location, tmp_path):
    server = Catalog.open(catalog_location, catalog.model_spec)
    assert server.listen().connected.wait(5)
    before = server.index.generation
    victim = catalog.get_by_sku("SYN-00012")
    deleted = subprocess.run(
        [sys.executable, "-m", "assistant", "--catalog", catalog_location, "delete", victim.sku],
        cwd=REPO, env=_env(tmp_path), capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert deleted.returncode == 0, deleted.stderr
    # The listener, not a search, catches the index up: no search runs while we wait.
    delay = _wait_for(lambda: server.index.generation > before, FRESHNESS_SECONDS)
    assert delay is not None, "the listening server did not catch up within a second of the commit"
    assert victim.id not in server.index.current().ids()
    server.close()


@pytest.mark.slow
@pytest.mark.parametrize("store_kind", ["postgres"], indirect=True)
def test_two_processes_see_each_others_writes(catalog, catalog_location, tmp_path, tiny_embedder):
    info = [sys.executable, "-m", "assistant", "--catalog", catalog_location, "info", "--json"]
    catalog.upsert([_record("PROBE-1", tiny_embedder.embed_texts(["a probe"])[0])])
    other = json.loads(subprocess.run(info, cwd=REPO, env=_env(tmp_path), capture_output=True, text=True,
                                      timeout=120, check=True).stdout)  # fmt: skip
    assert other["products"] == other["indexed"] == 61
    source = write_synthetic_catalog(tmp_path / "more", n=12, seed=9)  # SYN-00001..12 again, other content
    before = catalog.get_by_sku("SYN-00005")
    subprocess.run([sys.executable, "-c", INGEST_SCRIPT, catalog_location, str(source), str(source.parent / "images")],
                   cwd=REPO, env=_env(tmp_path), capture_output=True, text=True, timeout=300, check=True)  # fmt: skip
    after = catalog.get_by_sku("SYN-00005")
    assert after.id == before.id and after.title != before.title
    _, new_vector = catalog.vectors([after.id])
    hit = catalog.search_vector(new_vector[0], k=1)[0]  # found by its new vector: the index holds it
    assert hit.product.id == after.id and hit.score > 0.999
    assert catalog.count() == catalog.indexed_count() == 61


@pytest.mark.slow
@pytest.mark.parametrize("store_kind", ["postgres"], indirect=True)
def test_sigkill_of_a_writer_loses_nothing_it_committed(catalog_location, tmp_path):
    source = write_synthetic_catalog(tmp_path / "src", n=120, seed=3)
    args = [sys.executable, "-c", INGEST_SCRIPT, catalog_location, str(source), str(source.parent / "images")]
    proc = subprocess.Popen(args, cwd=REPO, env=_env(tmp_path), stdout=subprocess.PIPE, text=True)
    committed = 0
    for line in proc.stdout:
        if line.startswith("batch"):
            committed = int(line.split()[1])  # printed after the batch's transaction committed
            if committed >= 24:
                os.kill(proc.pid, signal.SIGKILL)
                break
    proc.wait(timeout=60)
    assert proc.returncode == -signal.SIGKILL
    cat = Catalog.open(catalog_location, "tiny-test")
    assert committed <= cat.count() < 120 and cat.count() == cat.indexed_count()
    resumed = subprocess.run(args, cwd=REPO, env=_env(tmp_path), capture_output=True, text=True, timeout=300)
    assert resumed.returncode == 0, resumed.stderr
    assert cat.count() == cat.indexed_count() == 120
    with psycopg.connect(catalog_location) as conn:
        orphans = conn.execute(
            "SELECT count(*) FROM products p WHERE p.image_sha256 IS NOT NULL "
            "AND NOT EXISTS (SELECT 1 FROM photos f WHERE f.sha256 = p.image_sha256)"
        ).fetchone()[0]
    assert orphans == 0


@pytest.mark.parametrize("store_kind", ["postgres"], indirect=True)
def test_a_dropped_database_is_a_clear_error_and_recovers(catalog, postgres_server_instance, tiny_embedder):
    listener = catalog.listen()
    assert listener.connected.wait(5)
    ids, vectors = catalog.vectors()
    postgres_server_instance.stop("fast")  # every connection drops
    try:
        with pytest.raises(CatalogError, match=r"cannot be reached.*reconnects by itself"):
            catalog.count()
        with pytest.raises(CatalogError, match="cannot be reached"):
            catalog.upsert([_record("WHILE-DOWN", vectors[0])])
    finally:
        postgres_server_instance.start()
    assert catalog.count() == 60  # the same Catalog object, on a new connection
    assert catalog.search_vector(vectors[1], k=1)[0].product.id == ids[1]
    assert catalog.get_by_sku("WHILE-DOWN") is None  # the failed write did not half happen
    assert _wait_for(listener.connected.is_set, 10) is not None  # the listener reconnected too
    before = catalog.index.generation
    writer = Catalog.open(catalog.url, catalog.model_spec)
    writer.upsert([_record("AFTER-RESTART", tiny_embedder.embed_texts(["after"])[0])])
    assert _wait_for(lambda: catalog.index.generation > before, 5) is not None
    catalog.close()


def test_opening_checks_the_schema_version(pg_location, tiny_embedder, tmp_path, monkeypatch, capsys):
    with pytest.raises(CatalogError, match="no catalog in the database"):
        Catalog.open(pg_location, "tiny-test", create=False)
    Catalog.open(pg_location, "tiny-test", tiny_embedder.dim).close()  # a new database is migrated on create
    for m in migrations.available():  # this program now ships a migration the database lacks
        (tmp_path / m.path.name).write_text(m.sql())
    shipped = migrations.latest_version()
    (tmp_path / f"{shipped + 1:04d}_more.sql").write_text("ALTER TABLE products ADD note text;")
    monkeypatch.setattr(migrations, "MIGRATIONS_DIR", tmp_path)
    needs = rf"schema version {shipped}, this program needs {shipped + 1}; run: python -m assistant"
    with pytest.raises(CatalogError, match=needs):
        Catalog.open(pg_location, "tiny-test")
    assert main(["--catalog", pg_location, "migrate"]) == 0
    assert f"applied {shipped + 1:04d}_more.sql" in capsys.readouterr().out
    Catalog.open(pg_location, "tiny-test").close()
    with psycopg.connect(pg_location) as conn:
        conn.execute("INSERT INTO schema_version (version, name) VALUES (99, 'future')")
    with pytest.raises(CatalogError, match="newer than this program"):
        Catalog.open(pg_location, "tiny-test")


def test_a_catalog_of_another_model_is_refused(pg_location, tiny_embedder):
    Catalog.open(pg_location, "tiny-test", tiny_embedder.dim).close()
    with pytest.raises(CatalogError, match=r"built with model 'tiny-test'.*reindex"):
        Catalog.open(pg_location, "ViT-B-32:laion2b_s34b_b79k", 512)


@pytest.mark.parametrize("store_kind", ["postgres"], indirect=True)
def test_category_edits_and_trained_heads_reach_every_server(catalog, catalog_location, tiny_embedder, tmp_path,
                                                             monkeypatch):  # fmt: skip
    from assistant.categories import CatalogCategories, Category, CategoryRegistry
    from assistant.categories.catalog_labels import head_path

    monkeypatch.setenv("ASSISTANT_CACHE_DIR", str(tmp_path / "server-b"))
    server_b = Catalog.open(catalog_location, catalog.model_spec)
    assert server_b.root != catalog.root and server_b.listen().connected.wait(5)
    photo = catalog.image_path(catalog.get_by_sku("SYN-00001"))
    CatalogCategories(catalog, tiny_embedder).add(Category(name="ear cuff", description="an ear cuff"), photos=[photo])
    registry_b = server_b.root / "categories" / "registry.json"
    assert _wait_for(lambda: registry_b.exists() and "ear cuff" in CategoryRegistry.load(server_b.root), 1.0)
    example = CategoryRegistry.load(server_b.root).get("ear cuff").examples[0]
    assert (server_b.root / "categories" / "examples" / example).read_bytes() == photo.read_bytes()
    head_path(server_b).write_bytes(b"a head trained on server b")
    server_b.publish_file("categories/fewshot_head.pt")
    monkeypatch.setenv("ASSISTANT_CACHE_DIR", str(tmp_path / "server-c"))
    fresh = Catalog.open(catalog_location, catalog.model_spec)  # a new server starts with everything
    assert head_path(fresh).read_bytes() == b"a head trained on server b"
    head_path(server_b).unlink()
    server_b.publish_file("categories/fewshot_head.pt")  # removing the head removes it everywhere
    fresh.pull_files()
    assert not head_path(fresh).exists()
    server_b.close()


@pytest.mark.parametrize("store_kind", ["postgres"], indirect=True)
def test_a_statement_the_database_refuses_is_not_called_unreachable(catalog, catalog_location):
    with psycopg.connect(catalog_location, autocommit=True) as locker, locker.transaction():
        locker.execute("SELECT generation FROM catalog_state FOR UPDATE")  # another writer holds the write lock
        catalog.store.execute("SET lock_timeout = '100ms'")
        with pytest.raises(CatalogError, match=r"refused the operation .*lock timeout.*try again"):
            catalog.delete(["SYN-00001"])
    assert catalog.get_by_sku("SYN-00001") is not None and catalog.count() == 60  # same connection, still usable


@pytest.mark.parametrize("store_kind", ["postgres"], indirect=True)
def test_a_command_that_only_writes_builds_no_index(catalog, catalog_location, tiny_embedder):
    writer = Catalog.open(catalog_location, catalog.model_spec)
    writer.upsert([_record("W-1", tiny_embedder.embed_texts(["written"])[0])])
    writer.delete(["SYN-00002"])
    assert writer.index.generation == -1  # nothing built: at 100k products an HNSW build takes minutes
    ids, vectors = writer.vectors()
    assert writer.search_vector(vectors[0], k=1)[0].product.id == ids[0]  # the first search builds it
    assert writer.index.generation == writer.generation
