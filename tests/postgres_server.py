"""A throwaway PostgreSQL 15 server for the tests: ``initdb`` into a temporary folder, ``pg_ctl`` on a Unix socket.

Invariant: the server listens on a socket inside its own temporary folder only (no TCP port), runs as the
``postgres`` user when the tests run as root (PostgreSQL refuses to run as root, and CI runs as root), and the
folder is removed when the server stops. Each test gets a database of its own, so tests never see each other's rows.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import psycopg
import pytest

PG_BIN = Path(os.environ.get("ASSISTANT_TEST_PG_BIN", "/usr/lib/postgresql/15/bin"))
SERVICE_USER = "postgres"


#: Runs a test once on a catalog folder and once on a PostgreSQL database (through the ``store_kind`` fixture).
both_stores = pytest.mark.parametrize(
    "store_kind", ["folder", pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True
)


def missing_reason() -> str | None:
    """Why the tests cannot start a server here, or None when they can."""
    if not (PG_BIN / "initdb").exists() or not (PG_BIN / "pg_ctl").exists():
        return f"PostgreSQL 15 binaries not found in {PG_BIN} (install postgresql-15, or set ASSISTANT_TEST_PG_BIN)"
    if os.geteuid() == 0 and not _user_exists(SERVICE_USER):
        return f"running as root but there is no {SERVICE_USER!r} user to run the PostgreSQL server as"
    return None


def _user_exists(name: str) -> bool:
    import pwd

    try:
        pwd.getpwnam(name)
    except KeyError:
        return False
    return True


class PostgresServer:
    """One server in a temporary folder; ``database()`` hands out fresh, empty databases by URL."""

    def __init__(self) -> None:
        self.base = Path(tempfile.mkdtemp(prefix="assistant-pg-"))  # short: socket paths are limited to ~100 bytes
        self.data_dir = self.base / "data"
        self.socket_dir = self.base
        self.log_file = self.base / "server.log"
        self._names = itertools.count()
        if os.geteuid() == 0:
            shutil.chown(self.base, SERVICE_USER, SERVICE_USER)

    def _run(self, *args: str) -> None:
        command = [str(a) for a in args]
        if os.geteuid() == 0:
            command = ["runuser", "-u", SERVICE_USER, "--", *command]
        result = subprocess.run(command, capture_output=True, text=True, timeout=120)
        if result.returncode != 0:
            log = self.log_file.read_text(errors="replace")[-2000:] if self.log_file.exists() else ""
            raise RuntimeError(f"{' '.join(command)} failed:\n{result.stdout}{result.stderr}\n{log}")

    def init(self) -> None:
        self._run(
            PG_BIN / "initdb", "-D", self.data_dir, "-U", SERVICE_USER, "--auth=trust", "--encoding=UTF8",
            "--locale=C", "--no-sync",
        )  # fmt: skip

    def start(self) -> None:
        # fsync off: the tests kill clients, never the server, so what a client saw committed survives.
        options = f"-k {self.socket_dir} -c listen_addresses='' -c fsync=off -c max_connections=200"
        self._run(PG_BIN / "pg_ctl", "-D", self.data_dir, "-l", self.log_file, "-o", options, "-w", "start")

    def stop(self, mode: str = "fast") -> None:
        self._run(PG_BIN / "pg_ctl", "-D", self.data_dir, "-m", mode, "-w", "stop")

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://{SERVICE_USER}@/{database}?host={self.socket_dir}"

    def database(self, prefix: str = "test") -> str:
        """A new empty database; returns its URL."""
        name = f"{prefix}_{os.getpid()}_{next(self._names)}"
        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}" TEMPLATE template0')
        return self.url(name)

    def drop_database(self, url: str) -> None:
        name = psycopg.conninfo.conninfo_to_dict(url)["dbname"]
        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def remove(self) -> None:
        """Stop the server (if running) and delete its folder."""
        with contextlib.suppress(RuntimeError):  # already stopped, or never started
            self.stop("immediate")
        shutil.rmtree(self.base, ignore_errors=True)
