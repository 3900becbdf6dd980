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

from .i18n import action_label, field_label, labelled, select_all_or_one, t, tn, when
from .resources import Shop

MESSAGE_KEY = "catalog-message"


def trash_tab(shop: Shop) -> None:
    days = trash_days_from_env()
    products = trashed(shop.catalog)
    st.caption(tn("trash.caption", days))
    if not products:
        st.info(t("trash.empty"))
        return
    header = [t("column.sku"), t("column.title"), t("column.deleted"), t("column.by")]
    st.dataframe(
        pd.DataFrame([[p.sku, p.title, when(p.deleted_at), p.deleted_by] for p in products], columns=header),
        hide_index=True,
        width="stretch",
        key="trash-table",
    )
    skus = list(dict.fromkeys(p.sku for p in products))
    chosen = st.selectbox(t("trash.choose"), skus, key="trash-sku")
    restore_col, purge_col, _ = st.columns([1, 1, 3])
    if restore_col.button(t("trash.restore"), type="primary", key="trash-restore", width="stretch"):
        try:
            restore_product(shop.catalog, chosen)
        except CatalogError as exc:
            st.error(markdown_literal(exc))
            return
        st.session_state[MESSAGE_KEY] = t("trash.restored", sku=chosen)
        st.rerun()
    confirm = st.checkbox(t("trash.purge_confirm"), key="trash-purge-confirm")
    if purge_col.button(t("trash.purge"), disabled=not confirm, key="trash-purge", width="stretch"):
        gone = purge(shop.catalog)
        st.session_state[MESSAGE_KEY] = tn("trash.purged", len(gone))
        st.rerun()


def audit_tab(shop: Shop) -> None:
    action_col, actor_col, target_col, since_col = st.columns(4)
    action = select_all_or_one(action_col, t("audit.action"), audit.ACTIONS, action_label, key="audit-action")
    actor = actor_col.text_input(t("audit.who"), key="audit-actor", placeholder=t("audit.who_placeholder")).strip()
    target = target_col.text_input(t("audit.what"), key="audit-target").strip()
    since = since_col.date_input(t("audit.since"), value=None, key="audit-since")
    query = AuditQuery(
        action=action,
        actor=actor or None,
        target=target or None,
        since=since.isoformat() if isinstance(since, date) else None,
    )
    entries = audit.entries(shop.catalog, query)
    if not entries:
        st.info(t("audit.nothing"))
        return
    undone = undone_ids(shop.catalog, entries[-1].at)
    rows = [
        [e.id, when(e.at), e.actor, action_label(e.action), e.target, audit.summary(e, field_label),
         _undo_state(e, undone)]
        for e in entries
    ]  # fmt: skip
    header = ["#", *(t(f"column.{c}") for c in ("when", "who", "action", "what", "details", "undo"))]
    st.dataframe(pd.DataFrame(rows, columns=header), hide_index=True, width="stretch", key="audit-table")
    st.download_button(
        t("common.download_csv"), csv_text(header, rows), "audit-trail.csv", "text/csv", key="audit-csv"
    )  # fmt: skip
    undo_form(shop, [e for e in entries if e.id not in undone and not_undoable(e) is None])


def _undo_state(entry: AuditEntry, undone: set[int]) -> str:
    if entry.id in undone:
        return t("audit.undo_state.undone")
    reason = not_undoable(entry)
    return t("audit.undo_state.can") if reason is None else t("audit.undo_state.no", reason=reason)


def entry_line(entry: AuditEntry) -> str:
    return f"#{entry.id} · {when(entry.at)} · {action_label(entry.action)} · {entry.target} · {entry.actor}"


def undo_form(shop: Shop, entries: list[AuditEntry]) -> None:
    """Undo one change (refused, changing nothing, when what it changed was changed again since)."""
    if not entries:
        return
    by_id = {e.id: e for e in entries}
    chosen = st.selectbox(
        t("audit.undo_choose"),
        list(by_id),
        format_func=labelled(by_id, lambda i: entry_line(by_id[i])),
        key="audit-undo-entry",
    )
    if st.button(t("audit.undo"), key="audit-undo"):
        entry = by_id[chosen]
        try:
            done = undo(shop.catalog, entry.id, shop.categories)
        except AssistantError as exc:
            st.error(markdown_literal(exc))
            return
        st.session_state[MESSAGE_KEY] = t(
            "audit.undone", entry=entry.id, action=action_label(entry.action), target=entry.target,
            actor=entry.actor, undo=done.id,
        )  # fmt: skip
        st.rerun()
