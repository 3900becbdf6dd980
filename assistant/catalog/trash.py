"""Soft delete: a deleted product leaves search at once but waits in the trash, vector and photo kept, for
``ASSISTANT_TRASH_DAYS`` (default 30), restorable by any staff member; ``purge`` empties the trash.

Invariants: the app and the CLI delete only through ``delete_products`` (never ``Catalog.delete``, which
is final); a trashed product is in no search, count or listing, and its photo stays on disk until it is
purged; a restored product comes back with its id, so likes and labels that name it still apply. Every
delete, restore and purge leaves one audit entry. Trashed products, and what changes kept so that they can be
undone (rows, earlier photos, earlier trained files), older than the trash time are purged whenever the trash
is touched.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta

from assistant.catalog import audit, history
from assistant.catalog.catalog import Catalog, new_change_id
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
    skus, change = list(dict.fromkeys(skus)), new_change_id()
    moved = catalog.trash(skus, audit.current_actor(), change)
    if moved:
        found = [p.sku for p in moved]
        target = found[0] if len(found) == 1 else f"{len(found)} products"
        audit.record(catalog, audit.DELETE, target, {"skus": found} | audit.product_change(change, len(found)))
    purge_expired(catalog)
    found = {p.sku for p in moved}
    return [s for s in skus if s not in found]


def restore_product(catalog: Catalog, sku: str) -> Product:
    """Bring the latest trashed product with this sku back into the catalog and search."""
    change = new_change_id()
    product = catalog.restore(sku, change)
    audit.record(catalog, audit.RESTORE, sku, {"id": product.id} | audit.product_change(change, 1))
    return product


def purge(catalog: Catalog, older_than_days: float | None = None) -> list[TrashedProduct]:
    """Delete trashed products for good (all, or those trashed more than ``older_than_days`` ago); forget what
    changes older than that (or than the trash time) kept for undo, with the earlier photos and trained files
    only they kept."""
    before = None if older_than_days is None else _cutoff(older_than_days)
    gone = catalog.purge_trash(before)
    undo_window = _cutoff(trash_days_from_env() if older_than_days is None else older_than_days)
    catalog.purge_revisions(undo_window)
    history.purge(catalog, undo_window)
    if gone:
        details = {"products": len(gone), "skus": [p.sku for p in gone][: audit.LISTED_SKUS],
                   "undo": audit.NOT_UNDONE[audit.PURGE]}  # fmt: skip
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

