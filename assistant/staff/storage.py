"""Where a catalog's staff accounts are kept: ``staff.db`` (SQLite) in a catalog folder, or the catalog's own
PostgreSQL database (migration ``0003_staff_accounts.sql``), so that every server of a shared catalog knows the
same accounts and counts the same failed sign-ins.

Invariant: both keep the same two tables (``accounts``, ``sign_in_failures``) and run the same SQL, written
with ``?`` placeholders (``accounts.py`` holds all of it); a transaction that names an account is serialised
with every other transaction on that name, in every process (SQLite: ``BEGIN IMMEDIATE`` on the file;
PostgreSQL: a transaction-scoped advisory lock on the name), so two servers never lose a failure count or
create one name twice. A folder's file is created on the first write, readable by its owner only; reads of a
folder or database that holds no accounts create nothing.
"""

from __future__ import annotations

import os
import sqlite3
from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from assistant.catalog.location import is_database_url

if TYPE_CHECKING:
    from assistant.catalog.catalog import Catalog
    from assistant.catalog.postgres.connection import ThreadConnections

STAFF_DB = "staff.db"

SQLITE_SCHEMA = """
CREATE TABLE IF NOT EXISTS accounts (
    name TEXT PRIMARY KEY,
    password_hash TEXT NOT NULL,
    created_at TEXT NOT NULL,
    password_changed REAL NOT NULL,
    last_sign_in TEXT
);
CREATE TABLE IF NOT EXISTS sign_in_failures (
    name TEXT PRIMARY KEY,
    failures INTEGER NOT NULL,
    last_failure REAL NOT NULL
);
"""

#: First key of the PostgreSQL advisory locks on account names (the second is the name's hash); the two-key
#: form never collides with the one-key lock the migrations take.
NAME_LOCK_CLASS = 0x5354  # "ST"


class Cursor(Protocol):
    rowcount: int

    def fetchone(self) -> Sequence[Any] | None: ...

    def fetchall(self) -> list[Sequence[Any]]: ...


class Statements(Protocol):
    """What a transaction offers: one SQL statement at a time, ``?`` placeholders."""

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Cursor: ...


class AccountsStorage(ABC):
    """The two account tables of one catalog, in a folder's ``staff.db`` or in the catalog's database."""

    #: Where the accounts are, as a person may be shown it (never a password).
    where: str

    @abstractmethod
    def has_tables(self) -> bool:
        """False while the tables were never made here (no file, an empty database): reads then create nothing."""

    @abstractmethod
    def transaction(self, name: str | None = None) -> AbstractContextManager[Statements]:
        """One transaction, committed when the block ends and rolled back when it raises; with ``name``, it is
        serialised with every other transaction on that name in every process."""


class FolderAccounts(AccountsStorage):
    """``staff.db`` in a catalog folder."""

    def __init__(self, folder: str | Path):
        self.path = Path(folder) / STAFF_DB
        self.where = str(self.path)

    def has_tables(self) -> bool:
        return self.path.exists()

    @contextmanager
    def transaction(self, name: str | None = None) -> Iterator[Statements]:
        if not self.path.exists():
            self.path.parent.mkdir(parents=True, exist_ok=True)
            os.close(os.open(self.path, os.O_CREAT | os.O_WRONLY, 0o600))
        conn = sqlite3.connect(self.path, timeout=30, isolation_level=None)
        try:
            conn.executescript(SQLITE_SCHEMA)
            conn.execute("BEGIN IMMEDIATE")  # one writer at a time for the whole file: every name is serialised
            yield conn
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        finally:
            conn.close()


class _PostgresStatements:
    """A psycopg connection behind the ``?`` placeholders the account SQL is written with."""

    def __init__(self, conn):
        self.conn = conn

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Cursor:
        return self.conn.execute(sql.replace("?", "%s"), params)


class DatabaseAccounts(AccountsStorage):
    """The ``accounts`` tables of a catalog database, on per-thread connections (a database catalog's own, so the
    app opens none for sign-ins). Its schema is checked before the first use: a brand-new database is migrated
    (as the first command that creates a catalog in it does), one of another schema version is refused."""

    def __init__(self, connections: ThreadConnections, schema_checked: bool = False):
        """``connections``: a database catalog's store, or connections of the CLI's own (``at``)."""
        from assistant.catalog.postgres.connection import redacted

        self.connections = connections
        self.where = redacted(connections.url)
        self._schema_checked = schema_checked

    @classmethod
    def at(cls, url: str) -> DatabaseAccounts:
        from assistant.catalog.postgres.connection import ThreadConnections

        return cls(ThreadConnections(url))

    def has_tables(self) -> bool:
        from assistant.catalog.postgres import migrations

        if self._schema_checked:
            return True
        with self.connections.transaction() as conn:
            return migrations.current_version(conn) > 0

    def _check_schema(self) -> None:
        from assistant.catalog.postgres import migrations

        if self._schema_checked:
            return
        url = self.connections.url
        with self.connections.transaction() as conn:
            fresh = migrations.current_version(conn) == 0
        if fresh:
            migrations.migrate(url)
        with self.connections.transaction() as conn:
            migrations.require_current(conn, url)
        self._schema_checked = True

    @contextmanager
    def transaction(self, name: str | None = None) -> Iterator[Statements]:
        self._check_schema()
        with self.connections.transaction() as conn:
            if name is not None:
                conn.execute("SELECT pg_advisory_xact_lock(%s, hashtext(%s))", (NAME_LOCK_CLASS, name))
            yield _PostgresStatements(conn)


def storage_at(location: str | Path) -> AccountsStorage:
    """The accounts of the catalog at ``location``: a folder, or a ``postgresql://`` URL."""
    if is_database_url(location):
        return DatabaseAccounts.at(str(location))
    return FolderAccounts(location)


def storage_of(catalog: Catalog) -> AccountsStorage:
    """The accounts of an open catalog; a database catalog's use its store's connections (opening it checked the
    schema)."""
    if is_database_url(catalog.location):
        return DatabaseAccounts(catalog.store, schema_checked=True)
    return FolderAccounts(catalog.root)
