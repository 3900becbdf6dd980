"""Catalog (staff): import products and photos with a progress bar, see rejected rows, browse, edit, delete."""

from ui.navigation import ensure_app

ensure_app()  # runs app.py's navigation if Streamlit ran this file alone

import base64

import pandas as pd
import streamlit as st

from assistant.catalog import CatalogError, Filters
from assistant.catalog.trash import delete_products
from assistant.catalog.upload import ingest_upload, rejected_rows_csv
from assistant.categories import CategoryRegistry, RegistryError
from assistant.plaintext import markdown_literal
from assistant.images import IMAGE_SUFFIXES
from assistant.catalog.ingest import CSV_COLUMNS, WHOLE_ROW, IngestError, IngestReport, Problem
from assistant.catalog.reembed import edit_product
from assistant.errors import AssistantError
from ui.audit import audit_tab, trash_tab
from ui.cards import product_thumbnail
from ui.i18n import facet, labelled, localized, price, select_all_or_one, stored_facet, t, tn, when
from ui.resources import current_shop
from ui.style import page_header

PAGE_SIZE = 50
shop = current_shop()
catalog = shop.catalog


def remark_headings(what: str) -> list[str]:
    """The file, row, sku and column a remark concerns, and the remark itself (``what``: its heading)."""
    return [t("column.file"), t("column.row"), t("column.sku"), t("column.column"), what]


def remark_row(remark: Problem) -> list:
    """A remark in the session's language (a problem with the whole row says so), for the table and the download."""
    column = t("import.whole_row") if remark.column == WHOLE_ROW else remark.column
    return [remark.file, remark.row, remark.sku, column, localized(remark.reason or remark.message)]


def remarks_table(remarks: list[Problem], what: str) -> pd.DataFrame:
    return pd.DataFrame([remark_row(p) for p in remarks], columns=remark_headings(what))


def show_report(report: IngestReport) -> None:
    """The outcome of the last import, with one row per rejected product and the reason."""
    summary = t("import.summary", added=report.added, updated=report.updated, unchanged=report.unchanged)
    if report.notes:
        st.info(tn("import.notes", len(report.notes)))
        notes = remarks_table(report.notes, t("column.note"))
        st.dataframe(notes, hide_index=True, width="stretch", key="import-notes")
    if not report.rejected:
        st.success(f"{summary} {t('import.all_in')}")
        return
    st.warning(tn("import.rejected", len(report.rejected), summary=summary))
    rejected = remarks_table(report.rejected, t("column.problem"))
    st.dataframe(rejected, hide_index=True, width="stretch", key="import-rejected")
    st.download_button(
        t("import.download_rejected"),
        rejected_rows_csv(report, remark_row, remark_headings(t("column.problem"))),
        "rejected-rows.csv",
        "text/csv",
        key="import-rejected-csv",
    )


def import_tab() -> None:
    st.markdown(t("import.intro", columns=",".join(CSV_COLUMNS)))
    csv_file = st.file_uploader(t("import.csv"), type=["csv"], key="import-csv")
    photos = st.file_uploader(
        t("import.photos"),
        type=[*sorted(s.lstrip(".") for s in IMAGE_SUFFIXES), "zip"],
        accept_multiple_files=True,
        key="import-photos",
    )
    if st.button(t("import.run"), type="primary", disabled=csv_file is None, key="import-run"):
        bar = st.progress(0.0, text=t("import.checking"))
        try:
            report = ingest_upload(
                catalog,
                shop.embedder,
                csv_file.name,
                csv_file.getvalue(),
                [(f.name, f.getvalue()) for f in photos or []],
                progress=lambda done, total: bar.progress(
                    done / max(total, 1), text=t("import.embedding", done=done, total=total)
                ),
            )
        except IngestError as exc:
            bar.empty()
            st.error(markdown_literal(t("import.nothing", error=localized(exc))))
        except AssistantError as exc:  # e.g. the catalog refused a batch: the batches before it are in
            bar.empty()
            st.error(markdown_literal(t("import.stopped", error=localized(exc))))
        else:
            st.session_state["import-report"] = report
            st.rerun()  # the navigation and the counts above follow the new catalog
    if report := st.session_state.get("import-report"):
        show_report(report)


def browse_tab() -> None:
    find_col, category_col = st.columns([3, 1])
    needle = find_col.text_input(t("browse.find"), key="browse-find").strip().lower()
    category = select_all_or_one(
        category_col, t("browse.category"), catalog.facet_values("category"), facet, key="browse-category"
    )
    filters = Filters(category=category)
    if needle:  # a substring match on two columns: the page size keeps this list short to show
        matching = [p for p in catalog.products(filters) if needle in p.sku.lower() or needle in p.title.lower()]
        total = len(matching)
    else:
        matching, total = None, catalog.count(filters)
    if not total:
        st.info(t("browse.nothing"))
        return
    pages = (total + PAGE_SIZE - 1) // PAGE_SIZE
    pager = st.columns([1, 5])[0]
    page = pager.number_input(t("browse.page", pages=pages), 1, pages, 1, key="browse-page") if pages > 1 else 1
    start = (page - 1) * PAGE_SIZE
    shown = matching[start : start + PAGE_SIZE] if matching is not None else catalog.products(filters, PAGE_SIZE, start)
    photo = t("column.photo")
    table = pd.DataFrame(
        [
            {
                photo: "data:image/jpeg;base64," + base64.b64encode(product_thumbnail(catalog, p, 96)).decode(),
                t("column.sku"): p.sku,
                t("column.title"): p.title,
                t("column.category"): stored_facet(p.category),
                t("column.metal"): stored_facet(p.metal),
                t("column.stone"): stored_facet(p.stone),
                t("column.price"): price(p.price, p.currency),
                t("column.updated"): when(p.updated_at),
            }
            for p in shown
        ]
    )
    st.dataframe(
        table,
        hide_index=True,
        width="stretch",
        row_height=56,
        key="browse-table",
        column_config={photo: st.column_config.ImageColumn(photo, width="small")},
    )
    edit_form(
        st.selectbox(
            t("browse.edit_or_delete"),
            [p.sku for p in shown],
            key="edit-sku",
            format_func=lambda sku: f"{sku} · {next(p.title for p in shown if p.sku == sku)}",
        )
    )


def registry_size() -> int | str:
    """How many categories the Merchandiser lists (the catalog's registry), so the two pages agree."""
    try:
        return len(list(CategoryRegistry.load(catalog.root)))
    except RegistryError:
        return "?"


def facet_choice(column, label: str, facet_column: str, current: str) -> str:
    """A facet chosen from the values the catalog already uses (no typo makes a new one by accident); typing
    a value that is not in the list adds it."""
    values = catalog.facet_values(facet_column)
    none_label = t("common.none")
    if current and current not in values:
        values = [current, *values]
    return (
        column.selectbox(
            label,
            ["", *values],
            index=(values.index(current) + 1) if current else 0,
            format_func=labelled(["", *values], lambda v: facet(v) if v else none_label),
            accept_new_options=True,
            help=t("edit.facet_help"),
        )
        or ""
    )


def edit_form(sku: str) -> None:
    product = catalog.get_by_sku(sku)
    if product is None:
        return
    with st.form(f"edit-{sku}"):
        title = st.text_input(t("edit.title"), product.title)
        description = st.text_area(t("common.description"), product.description)
        c1, c2, c3, c4, c5 = st.columns(5)
        category = facet_choice(c1, t("edit.category"), "category", product.category)
        metal = facet_choice(c2, t("edit.metal"), "metal", product.metal)
        stone = facet_choice(c3, t("edit.stone"), "stone", product.stone)
        amount = c4.number_input(t("edit.price"), min_value=0.0, value=product.price, step=1.0, format="%.2f")
        currency = c5.text_input(t("edit.currency"), product.currency, max_chars=3)
        st.caption(t("edit.reembed_note"))
        save = st.form_submit_button(t("common.save_changes"), type="primary")
    if save:
        if not title.strip():
            st.error(t("edit.title_empty"))
            return
        try:
            edit_product(
                catalog,
                shop.embedder,
                sku,
                title=title.strip(),
                description=description.strip(),
                category=category,
                metal=metal,
                stone=stone,
                price=amount,
                currency=currency.strip().upper(),
            )
        except CatalogError as exc:
            st.error(markdown_literal(exc))
            return
        st.session_state["catalog-message"] = t("edit.saved", sku=sku)
        st.rerun()
    confirm = st.checkbox(t("edit.delete_confirm", sku=markdown_literal(sku)), key=f"delete-confirm-{sku}")
    delete = t("edit.delete")
    if st.button(delete, disabled=not confirm, key=f"delete-{sku}", type="primary", icon=":material/delete:"):
        delete_products(catalog, [sku])
        st.session_state["catalog-message"] = t("edit.deleted", sku=sku)
        st.rerun()


page_header(t("catalog.title"), t("catalog.subtitle"))
if message := st.session_state.pop("catalog-message", None):
    st.success(markdown_literal(message))
info = catalog.info()
m1, m2, m3, m4 = st.columns(4)
m1.metric(t("catalog.products"), f"{info['products']:,}")
m2.metric(t("catalog.indexed"), f"{info['indexed']:,}")
m3.metric(t("catalog.index"), info["index_kind"], help=t("catalog.index_help", setting=info["index_kind_setting"]))
m4.metric(
    t("catalog.categories"), registry_size(), help=t("catalog.categories_help", n=len(info["categories"]))
)
st.caption(t("catalog.model_caption", model=info["model"], dim=info["dim"], folder=info["catalog"]))

import_, browse, trash, history = st.tabs(
    [t("catalog.tab_import"), t("catalog.tab_browse"), t("catalog.tab_trash"), t("catalog.tab_audit")],
    key="catalog-tab",
)
with import_:
    import_tab()
with browse:
    browse_tab()
with trash:
    trash_tab(shop)
with history:
    audit_tab(shop)
