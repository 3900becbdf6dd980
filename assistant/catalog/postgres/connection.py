"""Connections to a catalog database, and the one place database failures become ``CatalogError``.

Invariant: no psycopg exception that a person can act on (server down, connection dropped, wrong password,
no such database) escapes this package as anything but a ``CatalogError`` that names the database (never its
password) and says what to do; a dropped connection is replaced on the next call, so the catalog recovers by
itself when the database returns.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
from psycopg.conninfo import conninfo_to_dict

from assistant.catalog.records import CatalogError

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
