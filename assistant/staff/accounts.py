"""Staff accounts of one catalog: names and argon2id password hashes in ``staff.db`` beside the catalog.

Invariants: a password exists only as an argon2id hash (never stored, logged, printed or returned). A name
whose sign-ins failed too often is refused before its password is even checked, for a delay that grows with
every further failure (``throttle.py``); the count lives in the database, so every server process and every
browser shares it. Unknown names cost the same hashing time and are throttled the same as known ones, so
neither timing nor throttling tells a visitor which names exist. There is no default account.
"""

from __future__ import annotations

import functools
import os
import re
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from assistant.errors import AssistantError, UsageError

from .throttle import FORGET_AFTER_SECONDS, Throttle, wait_message

STAFF_DB = "staff.db"
NAME_PATTERN = re.compile(r"[a-z0-9][a-z0-9._@-]{0,63}")
MIN_PASSWORD_LENGTH = 10
MAX_PASSWORD_LENGTH = 1024

SCHEMA = """
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

WRONG_PASSWORD = "Wrong name or password."
_HASHER = PasswordHasher()  # argon2id with the library's current recommended cost


class SignInRefused(AssistantError):
    """A sign-in that did not succeed; the message says why (never which of name or password was wrong).
    ``wrong_password``: the name and password were checked and did not match (else the name had to wait first);
    ``wait_seconds``: how long the next try waits."""

    def __init__(self, message: str, wait_seconds: float = 0.0, wrong_password: bool = False):
        super().__init__(message)
        self.wait_seconds = wait_seconds
        self.wrong_password = wrong_password


@dataclass(frozen=True)
class Account:
    name: str
    created_at: str
    last_sign_in: str | None


@dataclass(frozen=True)
class SignedIn:
    """Who signed in, and when their password was last set (a later change ends this sign-in)."""

    name: str
    password_changed: float


def _iso_now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def canonical_name(name: str) -> str:
    """Names are case-insensitive: 'Anna' and 'anna' are one account."""
    return name.strip().lower()


def check_name(name: str) -> str:
    canonical = canonical_name(name)
    if not NAME_PATTERN.fullmatch(canonical):
        raise UsageError(
            f"{name!r} is not a usable staff name: 1-64 letters, digits, '.', '_', '-' or '@', starting with a letter "
            "or digit"
        )
    return canonical


def check_password(password: str) -> str:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise UsageError(f"the password is too short: use at least {MIN_PASSWORD_LENGTH} characters")
    if len(password) > MAX_PASSWORD_LENGTH:
        raise UsageError(f"the password is too long: at most {MAX_PASSWORD_LENGTH} characters")
    return password


class StaffAccounts:
    """The accounts file of the catalog in ``catalog_root`` (created on first write, readable by its owner only)."""

    def __init__(self, catalog_root: str | Path):
        self.path = Path(catalog_root) / STAFF_DB

    @contextmanager
    def _db(self) -> Iterator[sqlite3.Connection]:
        fresh = not self.path.exists()
        if fresh:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            os.close(os.open(self.path, os.O_CREAT | os.O_WRONLY, 0o600))
        conn = sqlite3.connect(self.path, timeout=30, isolation_level=None)
        try:
            conn.executescript(SCHEMA)
            conn.execute("BEGIN IMMEDIATE")
            yield conn
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        finally:
            conn.close()

    # ------------------------------------------------------------------ managing accounts
    def add(self, name: str, password: str) -> str:
        name, hashed = check_name(name), _HASHER.hash(check_password(password))
        with self._db() as db:
            if db.execute("SELECT 1 FROM accounts WHERE name = ?", (name,)).fetchone():
                raise UsageError(f"staff account {name!r} exists already; set a new password with: staff passwd {name}")
            db.execute(
                "INSERT INTO accounts (name, password_hash, created_at, password_changed) VALUES (?, ?, ?, ?)",
                (name, hashed, _iso_now(), time.time()),
            )
        return name

    def set_password(self, name: str, password: str) -> str:
        """A new password; sessions signed in with the old one end at their next click."""
        name, hashed = canonical_name(name), _HASHER.hash(check_password(password))
        with self._db() as db:
            update = "UPDATE accounts SET password_hash = ?, password_changed = ? WHERE name = ?"
            changed = db.execute(update, (hashed, time.time(), name)).rowcount
            if not changed:
                raise UsageError(f"no staff account {name!r}; see: staff list")
            db.execute("DELETE FROM sign_in_failures WHERE name = ?", (name,))
        return name

    def remove(self, name: str) -> str:
        name = canonical_name(name)
        with self._db() as db:
            if not db.execute("DELETE FROM accounts WHERE name = ?", (name,)).rowcount:
                raise UsageError(f"no staff account {name!r}; see: staff list")
        return name

    def accounts(self) -> list[Account]:
        if not self.path.exists():
            return []
        with self._db() as db:
            rows = db.execute("SELECT name, created_at, last_sign_in FROM accounts ORDER BY name").fetchall()
        return [Account(*row) for row in rows]

    def any(self) -> bool:
        return bool(self.accounts())

    # ------------------------------------------------------------------ signing in
    def sign_in(self, name: str, password: str, now: float | None = None) -> SignedIn:
        """The account when the password is right; raises ``SignInRefused`` otherwise or while the name waits."""
        now = time.time() if now is None else now
        name = canonical_name(name)[:64]
        with self._db() as db:
            throttle = self._throttle(db, name)
            if (wait := throttle.wait_left(now)) > 0:
                raise SignInRefused(wait_message(wait), wait)
            row = db.execute("SELECT password_hash, password_changed FROM accounts WHERE name = ?", (name,)).fetchone()
            if not _verify(row[0] if row else None, password):
                throttle.failed(now)
                db.execute("DELETE FROM sign_in_failures WHERE last_failure < ?", (now - FORGET_AFTER_SECONDS,))
                db.execute(
                    "INSERT OR REPLACE INTO sign_in_failures (name, failures, last_failure) VALUES (?, ?, ?)",
                    (name, throttle.failures, throttle.last_failure),
                )
                row = None
            else:
                db.execute("DELETE FROM sign_in_failures WHERE name = ?", (name,))
                db.execute("UPDATE accounts SET last_sign_in = ? WHERE name = ?", (_iso_now(), name))
                if _HASHER.check_needs_rehash(row[0]):
                    db.execute("UPDATE accounts SET password_hash = ? WHERE name = ?", (_HASHER.hash(password), name))
        if row is None:  # raised after the commit, which keeps the failure counted
            raise SignInRefused(WRONG_PASSWORD, throttle.wait_left(now), wrong_password=True)
        return SignedIn(name, row[1])

    def still_valid(self, signed_in: SignedIn) -> bool:
        """False once the account is removed or its password changed since that sign-in."""
        if not self.path.exists():
            return False
        with self._db() as db:
            row = db.execute("SELECT password_changed FROM accounts WHERE name = ?", (signed_in.name,)).fetchone()
        return row is not None and row[0] == signed_in.password_changed

    @staticmethod
    def _throttle(db: sqlite3.Connection, name: str) -> Throttle:
        row = db.execute("SELECT failures, last_failure FROM sign_in_failures WHERE name = ?", (name,)).fetchone()
        return Throttle(*row) if row else Throttle()


@functools.cache
def _unknown_name_hash() -> str:
    return _HASHER.hash("an account that does not exist")


def _verify(password_hash: str | None, password: str) -> bool:
    """argon2 verification; an unknown name is checked against a dummy hash so that it takes as long."""
    try:
        return _HASHER.verify(password_hash or _unknown_name_hash(), password) and password_hash is not None
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False
