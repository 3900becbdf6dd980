"""The Catalog page's Trash and Audit trail tabs: restore deleted products, undo changes, see who changed what.

Every button here writes through the engine (``assistant.catalog.trash``, ``reembed.undo_edit``,
``CatalogCategories.undo``), which audits it as the signed-in staff member; catalog values are shown in
tables (plain text) or escaped.
"""

from __future__ import annotations

from datetime import date

import pandas as pd
import streamlit as st

from assistant.catalog import audit
from assistant.catalog.records import AuditEntry, AuditQuery, CatalogError
from assistant.catalog.reembed import undo_edit, undo_import
from assistant.catalog.trash import purge, restore_product, trash_days_from_env, trashed
from assistant.errors import AssistantError
from assistant.plaintext import csv_text, markdown_literal

from .resources import Shop

ALL = "all"
MESSAGE_KEY = "catalog-message"


def trash_tab(shop: Shop) -> None:
    days = trash_days_from_env()
    products = trashed(shop.catalog)
    st.caption(f"Deleted products wait here for {days:g} days, then are purged; until then anyone on staff can "
               "restore them, with their photo and search vector.")  # fmt: skip
    if not products:
        st.info("The trash is empty.")
        return
    st.dataframe(
        pd.DataFrame([{"sku": p.sku, "title": p.title, "deleted": p.deleted_at, "by": p.deleted_by} for p in products]),
        hide_index=True,
        width="stretch",
        key="trash-table",
    )
    skus = list(dict.fromkeys(p.sku for p in products))
    chosen = st.selectbox("Restore", skus, key="trash-sku")
    restore_col, purge_col, _ = st.columns([1, 1, 3])
    if restore_col.button("Restore", type="primary", key="trash-restore", width="stretch"):
        try:
            restore_product(shop.catalog, chosen)
        except CatalogError as exc:
            st.error(markdown_literal(exc))
            return
        st.session_state[MESSAGE_KEY] = f"Restored {chosen}."
        st.rerun()
    confirm = st.checkbox("Yes, delete everything in the trash for good", key="trash-purge-confirm")
    if purge_col.button("Empty the trash", disabled=not confirm, key="trash-purge", width="stretch"):
        gone = purge(shop.catalog)
        st.session_state[MESSAGE_KEY] = f"Deleted {len(gone)} product(s) for good."
        st.rerun()


def audit_tab(shop: Shop) -> None:
    action_col, actor_col, target_col, since_col = st.columns(4)
    action = action_col.selectbox("Action", [ALL, *audit.ACTIONS], key="audit-action")
    actor = actor_col.text_input("Who", key="audit-actor", placeholder="exact name").strip()
    target = target_col.text_input("What (sku, category, file)", key="audit-target").strip()
    since = since_col.date_input("Since", value=None, key="audit-since")
    query = AuditQuery(
        action=None if action == ALL else action,
        actor=actor or None,
        target=target or None,
        since=since.isoformat() if isinstance(since, date) else None,
    )
    entries = audit.entries(shop.catalog, query)
    if not entries:
        st.info("No changes match.")
        return
    rows = [[e.at, e.actor, e.action, e.target, audit.summary(e)] for e in entries]
    header = ["when", "who", "action", "what", "details"]
    st.dataframe(pd.DataFrame(rows, columns=header), hide_index=True, width="stretch", key="audit-table")
    st.download_button(
        "Download as CSV", csv_text(header, rows), "audit-trail.csv", "text/csv", key="audit-csv"
    )  # fmt: skip
    undo_form(shop, [e for e in entries if e.action in UNDOABLE])


#: Changes the Audit trail tab can reverse (a delete: by restoring from the trash).
UNDOABLE = (audit.IMPORT, audit.EDIT, audit.DELETE, audit.CATEGORY_ADD, audit.CATEGORY_UPDATE, audit.CATEGORY_REMOVE)


def undo(shop: Shop, entry: AuditEntry) -> str:
    """Reverse one audited change (itself audited as the current staff member); says what was done."""
    if entry.action == audit.EDIT:
        undo_edit(shop.catalog, shop.embedder, entry)
        return f"Put back {entry.target} as it was before that edit."
    if entry.action == audit.IMPORT:
        trashed_skus, restored = undo_import(shop.catalog, shop.embedder, entry)
        return f"Moved {len(trashed_skus)} added product(s) to the trash and put back {len(restored)} updated one(s)."
    if entry.action == audit.DELETE:
        for sku in entry.details.get("skus", []):
            restore_product(shop.catalog, sku)
        return f"Restored {entry.target}."
    shop.categories().undo(entry)
    return f"Reversed the {entry.action} of “{entry.target}”."


def undo_form(shop: Shop, entries: list[AuditEntry]) -> None:
    if not entries:
        return
    by_id = {e.id: e for e in entries}
    chosen = st.selectbox(
        "Undo a change",
        list(by_id),
        format_func=lambda i: f"{by_id[i].at} · {by_id[i].action} · {by_id[i].target} · {by_id[i].actor}",
        key="audit-undo-entry",
    )
    if st.button("Undo this change", key="audit-undo"):
        try:
            message = undo(shop, by_id[chosen])
        except AssistantError as exc:
            st.error(markdown_literal(exc))
            return
        st.session_state[MESSAGE_KEY] = message
        st.rerun()
