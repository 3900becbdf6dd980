"""The catalog's audit trail: who changed what, and when, in the catalog database's ``audit`` table.

Invariants: every write a person starts (import, edit, delete, restore, purge, category add / update /
remove, personaliser and category-head training, reindex, undo) appends exactly one ``AuditEntry`` through
``record``, right after the write commits; entries are only ever appended. The actor is whoever the
current context acts as: the signed-in staff member in the app (``acting_as`` around each page run), the
operating-system user on the command line (the default). An entry holds what undoing it needs: a product
change names its ``change`` id (the store keeps every touched row as it was under it), a category change
its definition before and after, a training the checkpoint it replaced (``assistant/undo.py`` undoes them).
"""

from __future__ import annotations

import dataclasses
import getpass
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from assistant.catalog.records import AuditEntry, AuditQuery, now_iso

IMPORT, EDIT, DELETE, RESTORE, PURGE = "import", "edit", "delete", "restore", "purge"
CATEGORY_ADD, CATEGORY_UPDATE, CATEGORY_REMOVE = "category add", "category update", "category remove"
TRAIN_PERSONALIZER, TRAIN_CATEGORIES, REINDEX = "train personalizer", "train categories", "reindex"
UNDO = "undo"
ACTIONS = (
    IMPORT, EDIT, DELETE, RESTORE, PURGE, CATEGORY_ADD, CATEGORY_UPDATE, CATEGORY_REMOVE,
    TRAIN_PERSONALIZER, TRAIN_CATEGORIES, REINDEX, UNDO,
)  # fmt: skip
#: How many skus an import's entry lists (the counts are always complete).
LISTED_SKUS = 1000
#: The details key naming the product change an entry records (its revisions in the store).
CHANGE = "change"
#: Why some kinds of change are never undone; their entries say so (details "undo").
NOT_UNDONE = {
    PURGE: "not offered: a purge deletes for good what waited in the trash; that is its purpose",
    REINDEX: "not offered: a reindex changes no product's words, price or photo, only the model that reads them "
    "(a rebuild of the vectors); to go back, reindex with the earlier model (was)",
}

_ACTOR: ContextVar[str | None] = ContextVar("audit_actor", default=None)


def command_line_actor() -> str:
    try:
        user = getpass.getuser()
    except (KeyError, OSError):  # no login name for this uid (a bare container)
        user = "unknown user"
    return f"{user} (command line)"


def current_actor() -> str:
    return _ACTOR.get() or command_line_actor()


@contextmanager
def acting_as(actor: str) -> Iterator[None]:
    """Writes inside the block are recorded as ``actor``'s (the app: the signed-in staff member)."""
    token = _ACTOR.set(actor)
    try:
        yield
    finally:
        _ACTOR.reset(token)


def summary(entry: AuditEntry, field_name: Callable[[str], str] = str) -> str:
    """One line for a table: the changed fields of an edit, the counts of an import, ...; ``field_name`` names
    each field for the reader (the app: in the interface's language)."""
    d = entry.details
    if entry.action == EDIT:
        return "; ".join(
            f"{field_name(k)}: {d['before'].get(k)!r} → {d['after'].get(k)!r}" for k in sorted(d.get("after", {}))
        )
    shown = ((k, v) for k, v in d.items() if k not in (CHANGE, "undo") and not isinstance(v, list | dict) and v != "")
    return ", ".join(f"{field_name(k)} {v}" for k, v in shown)


def entry(action: str, target: str = "", details: dict | None = None) -> AuditEntry:
    """An entry for a write happening now, by the current actor."""
    return AuditEntry(now_iso(), current_actor(), action, str(target), dict(details or {}))


def record(catalog, action: str, target: str = "", details: dict | None = None) -> AuditEntry:
    """Append one entry for a write that just committed to ``catalog``."""
    new = entry(action, target, details)
    with catalog.store.write() as writer:
        entry_id = int(writer.append_audit(new))
    return dataclasses.replace(new, id=entry_id)


def entries(catalog, query: AuditQuery | None = None) -> list[AuditEntry]:
    return catalog.store.audit_entries(query or AuditQuery())


#: Bookkeeping fields every change touches; an entry lists what a person changed.
TIMESTAMPS = frozenset({"created_at", "updated_at"})


def edit_details(before: dict, after: dict) -> dict:
    """The fields an edit changed (timestamps aside), before and after."""
    changed = sorted(k for k in after if k not in TIMESTAMPS and before.get(k) != after.get(k))
    return {"before": {k: before.get(k) for k in changed}, "after": {k: after.get(k) for k in changed}}


def import_details(report, skus: list[str], change: str) -> dict:
    """An import's counts, the skus it added or changed (the first ``LISTED_SKUS``), and its change id: the
    store kept every product it wrote as it was before, which is what lets an undo reverse it exactly."""
    return {
        "added": report.added,
        "updated": report.updated,
        "unchanged": report.unchanged,
        "rejected": len(report.rejected),
        "skus": skus[:LISTED_SKUS],
        **product_change(change, report.added + report.updated),
    }


def product_change(change: str, products: int) -> dict:
    """The details that make an entry undoable as a product change: its id and how many products it kept."""
    return {CHANGE: change, "products": products}
