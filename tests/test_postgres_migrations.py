"""Versioned migrations of a catalog database, against a real PostgreSQL the tests start."""

from __future__ import annotations

import psycopg
import pytest

from assistant.catalog import CatalogError
from assistant.catalog.postgres import migrations
from assistant.catalog.postgres.connection import redacted
from assistant.cli.main import main

pytestmark = pytest.mark.postgres


def tables(url: str) -> set[str]:
    with psycopg.connect(url) as conn:
        rows = conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'").fetchall()
    return {r[0] for r in rows}


def test_migrate_creates_every_table_once_and_repeats_as_a_no_op(postgres_url):
    applied = migrations.migrate(postgres_url)
    assert [m.version for m in applied] == list(range(1, migrations.latest_version() + 1))
    expected = {"schema_version", "catalog_manifest", "catalog_state", "photos", "products", "product_tombstones",
                "catalog_files"}  # fmt: skip
    assert expected <= tables(postgres_url)
    assert migrations.migrate(postgres_url) == []
    with psycopg.connect(postgres_url) as conn:
        assert migrations.current_version(conn) == migrations.latest_version()
        assert conn.execute("SELECT generation FROM catalog_state").fetchone()[0] == 0


def test_a_failing_migration_leaves_nothing_behind(postgres_url, tmp_path, monkeypatch):
    for m in migrations.available():
        (tmp_path / m.path.name).write_text(m.sql())
    (tmp_path / f"{migrations.latest_version() + 1:04d}_broken.sql").write_text(
        "CREATE TABLE half_done (x int);\nALTER TABLE no_such_table ADD COLUMN y int;\n"
    )
    monkeypatch.setattr(migrations, "MIGRATIONS_DIR", tmp_path)
    with pytest.raises(CatalogError, match=r"_broken\.sql failed .* rolled back"):
        migrations.migrate(postgres_url)
    assert tables(postgres_url) == set()  # the whole run was one transaction, 0001 included


def test_a_database_newer_than_the_program_is_refused(postgres_url):
    migrations.migrate(postgres_url)
    with psycopg.connect(postgres_url) as conn:
        conn.execute("INSERT INTO schema_version (version, name) VALUES (999, 'future')")
    with pytest.raises(CatalogError, match="version 999, newer than this program"):
        migrations.migrate(postgres_url)


def test_migrate_command_reports_what_it_did(postgres_url, capsys):
    assert main(["--catalog", postgres_url, "migrate"]) == 0
    assert "applied 0001_init.sql" in capsys.readouterr().out
    assert main(["--catalog", postgres_url, "migrate"]) == 0
    assert "is current; nothing to do" in capsys.readouterr().out


def test_unreachable_database_is_a_clear_error_without_the_password(postgres_server_instance, capsys):
    url = f"postgresql://shop:s3cret@/nodb?host={postgres_server_instance.base}/nowhere"
    assert main(["--catalog", url, "migrate"]) == 2
    err = capsys.readouterr().err
    assert "cannot be reached" in err and "s3cret" not in err and "nodb" in err
    assert "s3cret" not in redacted("postgresql://shop:s3cret@db.example:5433/shop")
