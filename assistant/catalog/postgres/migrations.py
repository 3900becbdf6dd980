"""Versioned schema migrations for a catalog database: ``migrations/NNNN_name.sql`` applied in order.

Invariant: a database is at exactly the versions listed in its ``schema_version`` table; each run applies the
missing ones in ascending order inside one transaction (PostgreSQL DDL is transactional) under an advisory lock,
so two servers starting at once, or a migration that fails half way, never leave a half-migrated schema.
Running it again is a no-op. A database newer than this program is refused, not downgraded.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import psycopg

from assistant.catalog.postgres.connection import connect, redacted, translated_errors
from assistant.catalog.records import CatalogError

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
FILE_PATTERN = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")
#: pg_advisory_xact_lock key shared by every program that migrates a catalog database ("ASSIST" in ASCII).
LOCK_KEY = 0x415353495354


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    path: Path

    def sql(self) -> str:
        return self.path.read_text(encoding="utf-8")


def available() -> list[Migration]:
    """The migrations this program ships, in version order."""
    found = []
    for path in sorted(MIGRATIONS_DIR.glob("*.sql")):
        match = FILE_PATTERN.match(path.name)
        if not match:
            raise RuntimeError(f"migration file {path.name} is not named NNNN_name.sql")
        found.append(Migration(int(match[1]), match[2], path))
    versions = [m.version for m in found]
    if versions != list(range(1, len(found) + 1)):
        raise RuntimeError(f"migrations must be numbered 1..n without gaps, found {versions}")
    return found


def latest_version() -> int:
    return len(available())


def current_version(conn: psycopg.Connection) -> int:
    """The highest applied version; 0 for a database never migrated."""
    exists = conn.execute("SELECT to_regclass('schema_version') IS NOT NULL").fetchone()[0]
    if not exists:
        return 0
    return conn.execute("SELECT coalesce(max(version), 0) FROM schema_version").fetchone()[0]


def migrate(url: str) -> list[Migration]:
    """Bring the database at ``url`` to the latest schema; returns the migrations applied (none when current)."""
    with connect(url, autocommit=False) as conn, translated_errors(url):
        with conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (LOCK_KEY,))
            conn.execute(
                """CREATE TABLE IF NOT EXISTS schema_version (
                       version integer PRIMARY KEY,
                       name text NOT NULL,
                       applied_at timestamptz NOT NULL DEFAULT now())"""
            )
            current = current_version(conn)
            known = available()
            if current > len(known):
                raise CatalogError(
                    f"the catalog database {redacted(url)} is at schema version {current}, newer than this program "
                    f"knows ({len(known)}); upgrade the program instead"
                )
            pending = [m for m in known if m.version > current]
            for migration in pending:
                _apply(conn, migration, url)
        return pending


def _apply(conn: psycopg.Connection, migration: Migration, url: str) -> None:
    try:
        conn.execute(migration.sql())
    except psycopg.errors.DatabaseError as exc:
        if isinstance(exc, psycopg.OperationalError):
            raise
        raise CatalogError(
            f"migration {migration.path.name} failed on {redacted(url)} and was rolled back: {exc}"
        ) from exc
    conn.execute("INSERT INTO schema_version (version, name) VALUES (%s, %s)", (migration.version, migration.name))


def require_current(conn: psycopg.Connection, url: str) -> None:
    """Refuse a database whose schema is older or newer than this program's."""
    version = current_version(conn)
    latest = latest_version()
    if version < latest:
        raise CatalogError(
            f"the catalog database {redacted(url)} is at schema version {version}, this program needs {latest}; "
            f"run: python -m assistant --catalog '{redacted(url)}' migrate"
        )
    if version > latest:
        raise CatalogError(
            f"the catalog database {redacted(url)} is at schema version {version}, newer than this program "
            f"knows ({latest}); upgrade the program"
        )
