"""The Catalog page's Trash and Audit trail tabs: restore deleted products, undo changes, see who changed what.

Every button here writes through the engine (``assistant.catalog.trash``, ``assistant.undo``), which audits
it as the signed-in staff member; catalog values are shown in tables (plain text) or escaped.
"""

from __future__ import annotations

from datetime import date

import pandas as pd
import streamlit as st

from assistant.catalog import audit
from assistant.catalog.records import AuditEntry, AuditQuery, CatalogError
from assistant.catalog.trash import purge, restore_product, trash_days_from_env, trashed
from assistant.errors import AssistantError
from assistant.plaintext import csv_text, markdown_literal
from assistant.undo import not_undoable, undo, undone_ids

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
    undone = undone_ids(shop.catalog, entries[-1].at)
    rows = [[e.id, e.at, e.actor, e.action, e.target, audit.summary(e), _undo_state(e, undone)] for e in entries]
    header = ["#", "when", "who", "action", "what", "details", "undo"]
    st.dataframe(pd.DataFrame(rows, columns=header), hide_index=True, width="stretch", key="audit-table")
    st.download_button(
        "Download as CSV", csv_text(header, rows), "audit-trail.csv", "text/csv", key="audit-csv"
    )  # fmt: skip
    undo_form(shop, [e for e in entries if e.id not in undone and not_undoable(e) is None])


def _undo_state(entry: AuditEntry, undone: set[int]) -> str:
    if entry.id in undone:
        return "undone"
    reason = not_undoable(entry)
    return "can be undone" if reason is None else f"no: {reason}"


def undo_form(shop: Shop, entries: list[AuditEntry]) -> None:
    """Undo one change (refused, changing nothing, when what it changed was changed again since)."""
    if not entries:
        return
    by_id = {e.id: e for e in entries}
    chosen = st.selectbox(
        "Undo a change",
        list(by_id),
        format_func=lambda i: f"#{i} · {by_id[i].at} · {by_id[i].action} · {by_id[i].target} · {by_id[i].actor}",
        key="audit-undo-entry",
    )
    if st.button("Undo this change", key="audit-undo"):
        entry = by_id[chosen]
        try:
            done = undo(shop.catalog, entry.id, shop.categories)
        except AssistantError as exc:
            st.error(markdown_literal(exc))
            return
        st.session_state[MESSAGE_KEY] = (
            f"Undid #{entry.id} ({entry.action} of {entry.target} by {entry.actor}); the undo is entry #{done.id}."
        )
        st.rerun()
