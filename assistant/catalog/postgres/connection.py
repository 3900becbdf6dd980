"""Connections to a catalog database, and the one place database failures become ``CatalogError``.

Invariant: no psycopg exception that a person can act on (server down, connection dropped, wrong password,
no such database) escapes this package as anything but a ``CatalogError`` that names the database (never its
password) and says what to do; a dropped connection is replaced on the next call, so the catalog recovers by
itself when the database returns.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import TypeVar

import psycopg
from psycopg.conninfo import conninfo_to_dict

from assistant.catalog.records import CatalogError

T = TypeVar("T")
#: Seconds to wait for the server when connecting; a down database fails fast instead of hanging a page.
CONNECT_TIMEOUT = 5


def redacted(url: str) -> str:
    """The URL as it may be shown: user, host and database, never the password."""
    try:
        params = conninfo_to_dict(url)
    except psycopg.ProgrammingError:
        return "postgresql://<unparsable URL>"
    host = params.get("host") or "localhost"
    port = f":{params['port']}" if params.get("port") else ""
    user = f"{params['user']}@" if params.get("user") else ""
    where = f"{host}{port}" if not host.startswith("/") else f"?host={host}"
    if where.startswith("?"):
        return f"postgresql://{user}/{params.get('dbname', '')}{where}"
    return f"postgresql://{user}{where}/{params.get('dbname', '')}"


def connect(url: str, autocommit: bool = True) -> psycopg.Connection:
    try:
        return psycopg.connect(url, autocommit=autocommit, connect_timeout=CONNECT_TIMEOUT)
    except psycopg.ProgrammingError as exc:
        raise CatalogError(f"{redacted(url)} is not a usable PostgreSQL URL: {exc}") from exc
    except psycopg.OperationalError as exc:
        raise unreachable(url, exc) from exc


def unreachable(url: str, exc: BaseException) -> CatalogError:
    reason = " ".join(str(exc).split()) or type(exc).__name__
    return CatalogError(
        f"the catalog database {redacted(url)} cannot be reached ({reason}). Check that PostgreSQL is running and "
        "the URL (host, port, user, database) is right; the catalog reconnects by itself once it is back."
    )


def database_error(url: str, exc: BaseException, conn: psycopg.Connection | None) -> CatalogError:
    """The error for a failed statement: "cannot be reached" when the connection is gone, else what went wrong
    (a statement timeout, a deadlock: the transaction was rolled back and can be retried)."""
    if conn is None or conn.closed or conn.broken:
        return unreachable(url, exc)
    reason = " ".join(str(exc).split()) or type(exc).__name__
    return CatalogError(
        f"the catalog database {redacted(url)} refused the operation ({reason}); nothing was changed, try again"
    )


@contextmanager
def translated_errors(url: str) -> Iterator[None]:
    """Database failures inside the block become a ``CatalogError`` naming the database."""
    try:
        yield
    except (psycopg.OperationalError, psycopg.InterfaceError) as exc:
        raise unreachable(url, exc) from exc


class ThreadConnections:
    """One autocommit connection per thread to the database at ``url``, replaced when it broke: what the product
    store and the staff accounts of a database catalog run their statements on."""

    def __init__(self, url: str):
        self.url = url
        self._local = threading.local()

    def connection(self) -> psycopg.Connection:
        """This thread's autocommit connection, opened (again) when there is none or it broke."""
        conn = getattr(self._local, "conn", None)
        if conn is None or conn.closed or conn.broken:
            conn = connect(self.url)
            self._local.conn = conn
        return conn

    def _forget_connection(self) -> None:
        conn = getattr(self._local, "conn", None)
        self._local.conn = None
        if conn is not None:
            conn.close()

    def _failed(self, conn: psycopg.Connection, exc: Exception) -> CatalogError:
        """The error to raise for ``exc``; a connection that is gone is dropped, so the next call reconnects."""
        error = database_error(self.url, exc, conn)
        if conn.closed or conn.broken:
            self._forget_connection()
        return error

    def _read(self, query: Callable[[psycopg.Connection], T]) -> T:
        """Run a read; when the connection was dropped (a server restart, a failover) retry once on a new one."""
        for attempt in (1, 2):
            conn = self.connection()
            try:
                return query(conn)
            except (psycopg.OperationalError, psycopg.InterfaceError) as exc:
                dropped = conn.broken
                error = self._failed(conn, exc)
                if attempt == 2 or not dropped:
                    raise error from exc
        raise AssertionError("unreachable")

    @contextmanager
    def transaction(self) -> Iterator[psycopg.Connection]:
        """One transaction on this thread's connection; a failure of the connection becomes a ``CatalogError``
        (the transaction did not commit) and the next call reconnects."""
        conn = self.connection()
        try:
            with conn.transaction():
                yield conn
        except (psycopg.OperationalError, psycopg.InterfaceError) as exc:
            raise self._failed(conn, exc) from exc

    def read_one(self, sql: str, params: Sequence = ()) -> tuple | None:
        """The first row of a query on this thread's connection (inside its open transaction, if any)."""
        return self._read(lambda c: c.execute(sql, params).fetchone())

    def execute(self, sql: str, params: Sequence = ()) -> None:
        """One statement on this thread's connection: part of its open transaction, else committed at once."""
        conn = self.connection()
        try:
            conn.execute(sql, params)
        except (psycopg.OperationalError, psycopg.InterfaceError) as exc:
            raise self._failed(conn, exc) from exc

    def close(self) -> None:
        with translated_errors(self.url):
            self._forget_connection()
