"""Undo one audited change by its audit entry (the Catalog page's *Undo* and ``python -m assistant undo ID``).

Invariants: an undo puts back exactly what the entry's change replaced -- products (row, id, vector, photo;
one the change added goes to the trash), a category's definition, a trained file -- or refuses, changing
nothing, when anything it would put back changed again since (a later change is never clobbered), when the
entry is older than the trash time, or when it was undone already. Each undo appends one ``undo`` entry that
names the entry it undid and holds what undoes it in turn (a redo, by the same rules). Purges, reindexes
and entries from before undo was recorded cannot be undone; ``not_undoable`` says why.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from assistant.catalog import audit, history
from assistant.catalog.catalog import Catalog, UndoRefused
from assistant.catalog.records import AuditEntry, AuditQuery
from assistant.catalog.trash import purge_expired, trash_days_from_env

if TYPE_CHECKING:
    from assistant.categories.catalog_labels import CatalogCategories

CATEGORY_CHANGES = (audit.CATEGORY_ADD, audit.CATEGORY_UPDATE, audit.CATEGORY_REMOVE)
TRAININGS = (audit.TRAIN_PERSONALIZER, audit.TRAIN_CATEGORIES)


def kind(entry: AuditEntry) -> str:
    """The kind of change an entry records (an undo is the kind of change it amounts to)."""
    return entry.details.get("as", entry.action)


def not_undoable(entry: AuditEntry) -> str | None:
    """None when the entry's change can be undone (if nothing changed since), else why not."""
    if entry.action in audit.NOT_UNDONE:
        return audit.NOT_UNDONE[entry.action]
    if audit.CHANGE in entry.details:
        return None if entry.details.get("products") else "it changed no product (nothing to put back)"
    if kind(entry) in CATEGORY_CHANGES:
        return None
    if kind(entry) in TRAININGS and "written" in entry.details:
        return None
    return "this entry predates undo records (or its change kept nothing to put back)"


def find_entry(catalog: Catalog, entry_id: int) -> AuditEntry:
    found = audit.entries(catalog, AuditQuery(entry_id=int(entry_id), limit=1))
    if not found:
        raise UndoRefused(f"no audit entry #{entry_id}; the Catalog page's Audit trail tab (or `audit`) lists them")
    return found[0]


def undone_by(catalog: Catalog, entry: AuditEntry) -> AuditEntry | None:
    """The undo entry that undid ``entry``, if any."""
    query = AuditQuery(action=audit.UNDO, target=f"#{entry.id} ", limit=10_000)
    return next((u for u in audit.entries(catalog, query) if u.details.get("undoes") == entry.id), None)


def undone_ids(catalog: Catalog, since: str | None = None) -> set[int]:
    """The ids of the entries (at or after ``since``) that were undone."""
    query = AuditQuery(action=audit.UNDO, since=since, limit=1_000_000)
    return {u.details.get("undoes") for u in audit.entries(catalog, query)}


def undo(
    catalog: Catalog, entry_id: int, categories: Callable[[], CatalogCategories] | None = None
) -> AuditEntry:
    """Undo the change audit entry ``entry_id`` records, as the current actor; returns the ``undo`` entry.
    ``categories`` opens the catalog's categories (needed for category changes and the category head)."""
    entry = find_entry(catalog, entry_id)
    _check_can_undo(catalog, entry)
    what = kind(entry)
    if audit.CHANGE in entry.details:
        expected = int(entry.details["products"])
        change, touched = catalog.undo_change(entry.details[audit.CHANGE], expected, audit.current_actor())
        amounts_to = {"as": _inverse(what), **audit.product_change(change, touched)}
    elif what in CATEGORY_CHANGES:
        name = entry.details.get("category", entry.target)
        inverse, definition = _categories(categories).undo(what, name, entry.details.get("definition", entry.details))
        amounts_to = {"as": inverse, "category": name, "definition": definition}
    else:
        amounts_to = {"as": what, **history.put_back(catalog, entry.details)}
        if what == audit.TRAIN_CATEGORIES:
            _categories(categories).reload_head()
    purge_expired(catalog)
    details = {"undoes": entry.id, "undone action": entry.action, "undone by": entry.actor, **amounts_to}
    return audit.record(catalog, audit.UNDO, f"#{entry.id} {entry.action} {entry.target}", details)


def _check_can_undo(catalog: Catalog, entry: AuditEntry) -> None:
    if reason := not_undoable(entry):
        raise UndoRefused(f"#{entry.id} ({entry.action}) cannot be undone: {reason}")
    days = trash_days_from_env()
    if datetime.fromisoformat(entry.at) < datetime.now(UTC) - timedelta(days=days):
        raise UndoRefused(f"#{entry.id} is older than the trash time ({days:g} days): what it replaced is gone")
    if done := undone_by(catalog, entry):
        raise UndoRefused(f"#{entry.id} was undone already, by {done.actor} at {done.at} (#{done.id})")


def _inverse(what: str) -> str:
    """What undoing a product change amounts to: a delete's undo is a restore, a restore's a delete; an edit's
    or an import's keeps that name."""
    return {audit.DELETE: audit.RESTORE, audit.RESTORE: audit.DELETE}.get(what, what)


def _categories(categories: Callable[[], CatalogCategories] | None) -> CatalogCategories:
    if categories is None:
        raise UndoRefused("undoing a category change needs the catalog's categories (and its model)")
    return categories()
