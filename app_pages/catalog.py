"""Catalog (staff): import products and photos with a progress bar, see rejected rows, browse, edit, delete."""

from ui.navigation import ensure_app

ensure_app()  # runs app.py's navigation if Streamlit ran this file alone

import base64
from datetime import UTC, datetime

import pandas as pd
from babel.dates import format_datetime
import streamlit as st

from assistant.catalog import CatalogError, Filters
from assistant.catalog.trash import delete_products
from assistant.catalog.upload import ingest_upload, rejected_rows_csv
from assistant.categories import CategoryRegistry, RegistryError
from assistant.plaintext import markdown_literal
from assistant.shop.display import facet_label
from assistant.images import IMAGE_SUFFIXES
from assistant.catalog.ingest import CSV_COLUMNS, IngestError, IngestReport, Problem
from assistant.catalog.reembed import edit_product
from assistant.errors import AssistantError
from ui.audit import audit_tab, trash_tab
from ui.cards import product_thumbnail
from ui.resources import current_shop
from ui.style import page_header

PAGE_SIZE = 50
shop = current_shop()
catalog = shop.catalog


def remarks_table(remarks: list[Problem], what: str) -> pd.DataFrame:
    """One line per remark: the file, row and column it concerns, and the remark itself."""
    return pd.DataFrame(
        [{"file": p.file, "row": p.row, "sku": p.sku, "column": p.column, what: p.message} for p in remarks]
    )


def show_report(report: IngestReport) -> None:
    """The outcome of the last import, with one row per rejected product and the reason."""
    summary = f"Added {report.added}, updated {report.updated}, unchanged {report.unchanged}."
    if report.notes:
        st.info(f"{len(report.notes)} row(s) went in with a note:")
        st.dataframe(remarks_table(report.notes, "note"), hide_index=True, width="stretch", key="import-notes")
    if not report.rejected:
        st.success(summary + " Every row went in.")
        return
    st.warning(f"{summary} {len(report.rejected)} row(s) were rejected; fix them and import the same file again.")
    rejected = remarks_table(report.rejected, "problem")
    st.dataframe(rejected, hide_index=True, width="stretch", key="import-rejected")
    st.download_button(
        "Download the rejected rows (CSV)",
        rejected_rows_csv(report),
        "rejected-rows.csv",
        "text/csv",
        key="import-rejected-csv",
    )


def import_tab() -> None:
    st.markdown(
        f"A CSV with the header `{','.join(CSV_COLUMNS)}` (extra columns are kept as attributes). "
        "Add the photos its `image` column names: the files themselves, or one .zip when they sit in folders. "
        "An empty `image` cell keeps a product's stored photo; `-` removes it."
    )
    csv_file = st.file_uploader("Products CSV", type=["csv"], key="import-csv")
    photos = st.file_uploader(
        "Photos, or one .zip of them",
        type=[*sorted(s.lstrip(".") for s in IMAGE_SUFFIXES), "zip"],
        accept_multiple_files=True,
        key="import-photos",
    )
    if st.button("Import", type="primary", disabled=csv_file is None, key="import-run"):
        bar = st.progress(0.0, text="Checking every row…")
        try:
            report = ingest_upload(
                catalog,
                shop.embedder,
                csv_file.name,
                csv_file.getvalue(),
                [(f.name, f.getvalue()) for f in photos or []],
                progress=lambda done, total: bar.progress(
                    done / max(total, 1), text=f"Embedding {done} of {total} products…"
                ),
            )
        except IngestError as exc:
            bar.empty()
            st.error(markdown_literal(f"Nothing was imported: {exc}"))
        except AssistantError as exc:  # e.g. the catalog refused a batch: the batches before it are in
            bar.empty()
            stopped = f"The import stopped part way: {exc}. Import the same file again to finish it."
            st.error(markdown_literal(stopped))
        else:
            st.session_state["import-report"] = report
            st.rerun()  # the navigation and the counts above follow the new catalog
    if report := st.session_state.get("import-report"):
        show_report(report)


def browse_tab() -> None:
    find_col, category_col = st.columns([3, 1])
    needle = find_col.text_input("Find by sku or title", key="browse-find").strip().lower()
    categories = catalog.facet_values("category")
    category = category_col.selectbox("Category", ["all", *categories], format_func=facet_label, key="browse-category")
    filters = Filters(category=None if category == "all" else category)
    if needle:  # a substring match on two columns: the page size keeps this list short to show
        matching = [p for p in catalog.products(filters) if needle in p.sku.lower() or needle in p.title.lower()]
        total = len(matching)
    else:
        matching, total = None, catalog.count(filters)
    if not total:
        st.info("No products match.")
        return
    pages = (total + PAGE_SIZE - 1) // PAGE_SIZE
    page = st.columns([1, 5])[0].number_input(f"Page (of {pages})", 1, pages, 1, key="browse-page") if pages > 1 else 1
    start = (page - 1) * PAGE_SIZE
    shown = matching[start : start + PAGE_SIZE] if matching is not None else catalog.products(filters, PAGE_SIZE, start)
    table = pd.DataFrame(
        [
            {
                "photo": "data:image/jpeg;base64," + base64.b64encode(product_thumbnail(catalog, p, 96)).decode(),
                "sku": p.sku,
                "title": p.title,
                "category": p.category,
                "metal": p.metal,
                "stone": p.stone,
                "price": p.price,
                "currency": p.currency,
                "updated": human_date(p.updated_at),
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
        column_config={
            "photo": st.column_config.ImageColumn("photo", width="small"),
            "price": st.column_config.NumberColumn("price", format="%.2f"),
        },
    )
    edit_form(
        st.selectbox(
            "Edit or delete",
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


def human_date(stamp: str) -> str:
    """'2026-11-30T07:14:03+00:00' -> 'Nov 30, 2026, 7:14 AM' (UTC, as stored); unreadable stamps as they are."""
    try:
        return format_datetime(datetime.fromisoformat(stamp), "MMM d, y, h:mm a", tzinfo=UTC, locale="en_US")
    except (TypeError, ValueError):
        return stamp


def facet_choice(column, label: str, facet: str, current: str) -> str:
    """A facet chosen from the values the catalog already uses (no typo makes a new one by accident); typing
    a value that is not in the list adds it."""
    values = catalog.facet_values(facet)
    if current and current not in values:
        values = [current, *values]
    return (
        column.selectbox(
            label,
            ["", *values],
            index=(values.index(current) + 1) if current else 0,
            format_func=lambda v: facet_label(v) if v else "(none)",
            accept_new_options=True,
            help="Pick a value the catalog uses, or type a new one.",
        )
        or ""
    )


def edit_form(sku: str) -> None:
    product = catalog.get_by_sku(sku)
    if product is None:
        return
    with st.form(f"edit-{sku}"):
        title = st.text_input("Title", product.title)
        description = st.text_area("Description", product.description)
        c1, c2, c3, c4, c5 = st.columns(5)
        category = facet_choice(c1, "Category", "category", product.category)
        metal = facet_choice(c2, "Metal", "metal", product.metal)
        stone = facet_choice(c3, "Stone", "stone", product.stone)
        price = c4.number_input("Price", min_value=0.0, value=product.price, step=1.0, format="%.2f")
        currency = c5.text_input("Currency", product.currency, max_chars=3)
        st.caption("Changed words are embedded again with the stored photo, so search follows the edit at once.")
        save = st.form_submit_button("Save changes", type="primary")
    if save:
        if not title.strip():
            st.error("The title cannot be empty.")
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
                price=price,
                currency=currency.strip().upper(),
            )
        except CatalogError as exc:
            st.error(markdown_literal(exc))
            return
        st.session_state["catalog-message"] = f"Saved {sku}."
        st.rerun()
    confirm = st.checkbox(f"Yes, delete {markdown_literal(sku)} and its photo", key=f"delete-confirm-{sku}")
    if st.button("Delete product", disabled=not confirm, key=f"delete-{sku}", type="primary", icon=":material/delete:"):
        delete_products(catalog, [sku])
        st.session_state["catalog-message"] = f"Deleted {sku}; restore it from the Trash tab."
        st.rerun()


page_header("Catalog", "Import products, fix rejected rows, edit and delete.")
if message := st.session_state.pop("catalog-message", None):
    st.success(markdown_literal(message))
info = catalog.info()
m1, m2, m3, m4 = st.columns(4)
m1.metric("Products", f"{info['products']:,}")
m2.metric("In the search index", f"{info['indexed']:,}")
m3.metric(
    "Index",
    info["index_kind"],
    help=f"setting: {info['index_kind_setting']} (flat = exact; hnsw = approximate, for large catalogs)",
)
m4.metric(
    "Categories",
    registry_size(),
    help=f"The categories the Merchandiser page lists; the CSV's category column uses {len(info['categories'])}.",
)
st.caption(f"Model `{info['model']}` · {info['dim']}-dimensional vectors · folder `{info['catalog']}`")

import_, browse, trash, history = st.tabs(["Import", "Browse and edit", "Trash", "Audit trail"], key="catalog-tab")
with import_:
    import_tab()
with browse:
    browse_tab()
with trash:
    trash_tab(shop)
with history:
    audit_tab(shop)
