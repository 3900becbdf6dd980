"""Staff accounts travel with ``copy --from SRC --to DST`` (folder <-> database), as argon2id hashes only.

Invariant: after a copy the destination holds exactly the source's accounts, each with the same hash and password
date (so every open session and every password stays valid); failed sign-in counts stay behind (they are about
the source's visitors). A destination holding an account the source lacks is refused before anything is copied,
as for products; copying again is a no-op, and ``verify_accounts`` compares both sides' counts and hashes.
"""

from __future__ import annotations

from assistant.catalog.catalog import Catalog
from assistant.catalog.records import CatalogError
from assistant.staff.accounts import AccountHash, StaffAccounts


def _by_name(catalog: Catalog) -> dict[str, AccountHash]:
    return {account.name: account for account in StaffAccounts.of_catalog(catalog).hashes()}


def _same(a: AccountHash, b: AccountHash) -> bool:
    """Two copies of one account: everything but the last sign-in, which a sign-in during the copy may move."""
    return (a.password_hash, a.created_at, a.password_changed) == (b.password_hash, b.created_at, b.password_changed)


def check_accounts_copyable(source: Catalog, destination: Catalog) -> None:
    """Refuse a destination with accounts the source lacks (a copy would leave someone able to sign in there)."""
    extra = sorted(set(_by_name(destination)) - set(_by_name(source)))
    if extra:
        raise CatalogError(
            f"{destination.location} holds {len(extra)} staff accounts that {source.location} lacks "
            f"({', '.join(extra[:5])}); remove them there (python -m assistant --catalog DST staff remove NAME) or "
            "copy into a catalog without accounts"
        )


def copy_accounts(source: Catalog, destination: Catalog) -> int:
    """Copy the accounts the destination lacks or holds differently, in one transaction; returns how many."""
    have = _by_name(destination)
    todo = [a for a in _by_name(source).values() if a.name not in have or not _same(a, have[a.name])]
    if todo:
        StaffAccounts.of_catalog(destination).put_hashes(todo)
    return len(todo)


def verify_accounts(source: Catalog, destination: Catalog) -> list[str]:
    """What differs between the two catalogs' accounts (empty when the destination's are the source's)."""
    want, have = _by_name(source), _by_name(destination)
    problems = []
    if len(want) != len(have):
        problems.append(f"{len(want)} staff accounts in the source, {len(have)} in the destination")
    differing = sorted(name for name in want if name not in have or not _same(want[name], have[name]))
    if differing:
        problems.append(f"{len(differing)} staff accounts differ or are missing (e.g. {differing[0]})")
    return problems
