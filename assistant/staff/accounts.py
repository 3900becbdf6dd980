"""Staff accounts of one catalog: names and argon2id password hashes kept with the catalog (``staff.db`` in a catalog
folder, the catalog's own database for a ``postgresql://`` catalog: ``storage.py``).

Invariants: a password exists only as an argon2id hash (never stored, logged, printed or returned). A name whose
sign-ins failed too often is refused before its password is even checked, for a delay that grows with every further
failure (``throttle.py``); the count lives with the accounts, so every server process of the catalog (every app
server of a shared database) and every browser shares it. Unknown names cost the same hashing time and are throttled
the same as known ones, so neither timing nor throttling tells a visitor which names exist. There is no default
account.
"""

from __future__ import annotations

import functools
import re
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from assistant.errors import AssistantError, UsageError

from .storage import AccountsStorage, Statements, storage_at, storage_of
from .throttle import FORGET_AFTER_SECONDS, Throttle, wait_message

if TYPE_CHECKING:
    from assistant.catalog.catalog import Catalog

NAME_PATTERN = re.compile(r"[a-z0-9][a-z0-9._@-]{0,63}")
MIN_PASSWORD_LENGTH = 10
MAX_PASSWORD_LENGTH = 1024

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


#: The columns of an ``AccountHash``, in its order.
ACCOUNT_HASH_COLUMNS = "name, password_hash, created_at, password_changed, last_sign_in"


@dataclass(frozen=True)
class AccountHash:
    """An account as a copy of the catalog carries it: the argon2id hash, never a password."""

    name: str
    password_hash: str
    created_at: str
    password_changed: float
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
    """The accounts of the catalog at ``location``: a catalog folder (its ``staff.db``, created on the first write,
    readable by its owner only), a ``postgresql://`` URL, or an ``AccountsStorage`` (``of_catalog``)."""

    def __init__(self, location: str | Path | AccountsStorage):
        self.storage = location if isinstance(location, AccountsStorage) else storage_at(location)

    @classmethod
    def of_catalog(cls, catalog: Catalog) -> StaffAccounts:
        """The accounts of an open catalog (a database catalog's on its own connections)."""
        return cls(storage_of(catalog))

    @property
    def where(self) -> str:
        """Where the accounts are kept, as it may be shown (a file, or a database URL without its password)."""
        return self.storage.where

    # ------------------------------------------------------------------ managing accounts
    def add(self, name: str, password: str) -> str:
        name, hashed = check_name(name), _HASHER.hash(check_password(password))
        with self.storage.transaction(name) as db:
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
        with self.storage.transaction(name) as db:
            update = "UPDATE accounts SET password_hash = ?, password_changed = ? WHERE name = ?"
            changed = db.execute(update, (hashed, time.time(), name)).rowcount
            if not changed:
                raise UsageError(f"no staff account {name!r}; see: staff list")
            db.execute("DELETE FROM sign_in_failures WHERE name = ?", (name,))
        return name

    def remove(self, name: str) -> str:
        name = canonical_name(name)
        with self.storage.transaction(name) as db:
            if not db.execute("DELETE FROM accounts WHERE name = ?", (name,)).rowcount:
                raise UsageError(f"no staff account {name!r}; see: staff list")
        return name

    def accounts(self) -> list[Account]:
        if not self.storage.has_tables():
            return []
        with self.storage.transaction() as db:
            rows = db.execute("SELECT name, created_at, last_sign_in FROM accounts ORDER BY name").fetchall()
        return [Account(*row) for row in rows]

    def any(self) -> bool:
        return bool(self.accounts())

    # ------------------------------------------------------------------ moving accounts (``copy``)
    def hashes(self) -> list[AccountHash]:
        """Every account with its password hash, by name: what a copy of the catalog carries."""
        if not self.storage.has_tables():
            return []
        with self.storage.transaction() as db:
            rows = db.execute(f"SELECT {ACCOUNT_HASH_COLUMNS} FROM accounts ORDER BY name").fetchall()
        return [AccountHash(*row) for row in rows]

    def put_hashes(self, accounts: list[AccountHash]) -> None:
        """Store these accounts as they are (hash, dates), replacing any of the same name; in one transaction."""
        with self.storage.transaction() as db:
            for account in accounts:
                db.execute(
                    f"INSERT INTO accounts ({ACCOUNT_HASH_COLUMNS}) VALUES (?, ?, ?, ?, ?) "
                    "ON CONFLICT (name) DO UPDATE SET password_hash = excluded.password_hash, "
                    "created_at = excluded.created_at, password_changed = excluded.password_changed, "
                    "last_sign_in = excluded.last_sign_in",
                    (account.name, account.password_hash, account.created_at, account.password_changed,
                     account.last_sign_in),
                )  # fmt: skip

    # ------------------------------------------------------------------ signing in
    def sign_in(self, name: str, password: str, now: float | None = None) -> SignedIn:
        """The account when the password is right; raises ``SignInRefused`` otherwise or while the name waits."""
        now = time.time() if now is None else now
        name = canonical_name(name)[:64]
        with self.storage.transaction(name) as db:
            throttle = self._throttle(db, name)
            if (wait := throttle.wait_left(now)) > 0:
                raise SignInRefused(wait_message(wait), wait)
            row = db.execute("SELECT password_hash, password_changed FROM accounts WHERE name = ?", (name,)).fetchone()
            if not _verify(row[0] if row else None, password):
                throttle.failed(now)
                db.execute("DELETE FROM sign_in_failures WHERE last_failure < ?", (now - FORGET_AFTER_SECONDS,))
                db.execute(
                    "INSERT INTO sign_in_failures (name, failures, last_failure) VALUES (?, ?, ?) ON CONFLICT (name) "
                    "DO UPDATE SET failures = excluded.failures, last_failure = excluded.last_failure",
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
        if not self.storage.has_tables():
            return False
        with self.storage.transaction() as db:
            row = db.execute("SELECT password_changed FROM accounts WHERE name = ?", (signed_in.name,)).fetchone()
        return row is not None and row[0] == signed_in.password_changed

    @staticmethod
    def _throttle(db: Statements, name: str) -> Throttle:
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
