"""Soft delete: a deleted product leaves search at once but waits in the trash, vector and photo kept, for
``ASSISTANT_TRASH_DAYS`` (default 30), restorable by any staff member; ``purge`` empties the trash.

Invariants: the app and the CLI delete only through ``delete_products`` (never ``Catalog.delete``, which
is final); a trashed product is in no search, count or listing, and its photo stays on disk until it is
purged; a restored product comes back with its id, so likes and labels that name it still apply. Every
delete, restore and purge leaves one audit entry. Entries older than the trash time are purged whenever
the trash is touched.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta

from assistant.catalog import audit
from assistant.catalog.catalog import Catalog
from assistant.catalog.records import Product, TrashedProduct
from assistant.settings import number_from_env

ENV_TRASH_DAYS = "ASSISTANT_TRASH_DAYS"
DEFAULT_TRASH_DAYS = 30.0


def trash_days_from_env(environ: Mapping[str, str] = os.environ) -> float:
    return number_from_env(ENV_TRASH_DAYS, DEFAULT_TRASH_DAYS, 0, "days", environ)


def _cutoff(days: float) -> str:
    return (datetime.now(UTC) - timedelta(days=days)).isoformat(timespec="seconds")


def delete_products(catalog: Catalog, skus: Sequence[str]) -> list[str]:
    """Move products to the trash; returns the skus that were not in the catalog."""
    skus = list(dict.fromkeys(skus))
    moved = catalog.trash(skus, audit.current_actor())
    if moved:
        found = [p.sku for p in moved]
        audit.record(catalog, audit.DELETE, found[0] if len(found) == 1 else f"{len(found)} products", {"skus": found})
    purge_expired(catalog)
    found = {p.sku for p in moved}
    return [s for s in skus if s not in found]


def restore_product(catalog: Catalog, sku: str) -> Product:
    """Bring the latest trashed product with this sku back into the catalog and search."""
    product = catalog.restore(sku)
    audit.record(catalog, audit.RESTORE, sku, {"id": product.id})
    return product


def purge(catalog: Catalog, older_than_days: float | None = None) -> list[TrashedProduct]:
    """Delete trashed products for good (all, or those trashed more than ``older_than_days`` ago)."""
    before = None if older_than_days is None else _cutoff(older_than_days)
    gone = catalog.purge_trash(before)
    if gone:
        details = {"products": len(gone), "skus": [p.sku for p in gone][: audit.LISTED_SKUS]}
        if older_than_days is not None:
            details["older than days"] = older_than_days
        audit.record(catalog, audit.PURGE, f"{len(gone)} products", details)
    return gone


def purge_expired(catalog: Catalog, days: float | None = None) -> list[TrashedProduct]:
    return purge(catalog, trash_days_from_env() if days is None else days)


def trashed(catalog: Catalog) -> list[TrashedProduct]:
    """What the trash holds, newest first (after dropping what has expired)."""
    purge_expired(catalog)
    return catalog.store.trashed()

