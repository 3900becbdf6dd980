"""Merchandiser (staff): draft a category, preview what it takes from the catalog, apply or discard.

Also the category list with product counts, and the products the classifier is least sure of.
The engine is ``assistant.categories``; nothing is saved before Apply.
"""

from ui.navigation import ensure_app

ensure_app()  # runs app.py's navigation if Streamlit ran this file alone

import pandas as pd
import streamlit as st

from assistant.catalog import Filters
from assistant.categories import UNKNOWN, Preview, RegistryError, preview_draft
from assistant.plaintext import markdown_literal
from assistant.shop.display import facet_label, facet_markdown
from assistant.images import IMAGE_SUFFIXES, ImageError
from ui.cards import Card, product_grid
from ui.resources import current_shop
from ui.style import page_header

SHOWN = 24
NO_PARENT = "(none)"
shop = current_shop()
catalog = shop.catalog
try:
    categories = shop.categories()
except RegistryError as exc:  # a hand-edited registry file with a mistake: say which and where
    st.error(markdown_literal(f"The category registry cannot be read: {exc}"))
    st.stop()


def names(text: str) -> list[str]:
    return [n.strip() for n in text.replace("，", ",").split(",") if n.strip()]


def draft_form() -> None:
    with st.form("merch-draft"):
        name = st.text_input("Name", placeholder="e.g. cocktail ring")
        description = st.text_area("Description", placeholder="e.g. a large statement ring with a big coloured stone")
        c1, c2, c3 = st.columns(3)
        synonyms = c1.text_input("Other English names", placeholder="comma separated")
        zh = c2.text_input("Chinese names", placeholder="e.g. 鸡尾酒戒指")
        parent = c3.selectbox("Part of", [NO_PARENT, *categories.registry.names], format_func=facet_label)
        photos = st.file_uploader(
            "Example photos (optional)", type=sorted(s.lstrip(".") for s in IMAGE_SUFFIXES), accept_multiple_files=True
        )
        submitted = st.form_submit_button("Preview", type="primary")
    if not submitted:
        return
    try:
        preview = preview_draft(
            categories,
            name,
            description,
            photos=[f.getvalue() for f in photos or []],
            synonyms=names(synonyms),
            zh=names(zh),
            parent=None if parent == NO_PARENT else parent,
        )
    except (RegistryError, ImageError) as exc:
        st.error(markdown_literal(exc))
        return
    st.session_state["merch-preview"] = preview
    st.rerun()


def show_preview(preview: Preview) -> None:
    name = preview.category.name
    verb = "would now hold" if preview.is_update else "would take"
    st.subheader(f"“{facet_markdown(name)}” {verb} {len(preview.taken)} of {catalog.count()} products")
    m1, m2, m3 = st.columns(3)
    m1.metric("Products taken", len(preview.taken))
    m2.metric(
        "Nearest category",
        facet_markdown(preview.nearest_category or "none"),
        help="The existing category whose prototype is most similar to the draft's.",
    )
    m3.metric(
        "Tells apart from the nearest",
        distinctness(preview.margin),
        help="How much closer the products taken are to the draft than to the nearest category "
        f"(median margin {'none' if preview.margin is None else f'{preview.margin:+.3f}'}).",
    )
    if preview.nearest_similarity is not None:
        st.caption(
            f"The draft reads {preview.nearest_similarity:.0%} like “{facet_markdown(preview.nearest_category)}”, "
            "the closest existing category."
        )
    takes_nothing = not preview.taken
    if takes_nothing:
        st.info(
            "This draft takes no products yet. Add a few example photos, other names shoppers use, or a "
            "description in the words of your product titles, then preview again; or discard it."
        )
    apply_col, discard_col, _ = st.columns([1, 1, 4])
    apply_type = "secondary" if takes_nothing else "primary"
    if apply_col.button("Apply", type=apply_type, key="merch-apply", width="stretch"):
        preview.apply()
        st.session_state.pop("merch-preview")
        st.session_state["merch-message"] = f"Saved category “{name}”; the catalog's labels are updated."
        st.rerun()
    if discard_col.button(
        "Discard", type="primary" if takes_nothing else "secondary", key="merch-discard", width="stretch"
    ):
        preview.discard()
        st.session_state.pop("merch-preview")
        st.session_state["merch-message"] = f"Discarded the draft “{name}”; nothing was saved."
        st.rerun()
    if preview.taken_from:
        st.markdown("**Taken from**")
        st.dataframe(
            pd.DataFrame([{"category now": facet_label(k), "products": v} for k, v in preview.taken_from.items()]),
            hide_index=True,
            key="merch-taken-from",
        )
    cards = [
        Card(t.product, reasons=[f"How sure: {t.probability:.0%}", f"Now: {facet_label(t.previous)}"])
        for t in preview.taken[:SHOWN]
    ]
    product_grid(catalog, cards, key="merch-preview")


def distinctness(margin: float | None) -> str:
    """The median margin in words: how clearly the products taken belong to the draft."""
    if margin is None:
        return "Nothing taken"
    if margin >= 0.05:
        return "Clearly"
    return "Somewhat" if margin >= 0.01 else "Hardly"


def category_table() -> None:
    counts = categories.counts()
    rows = [
        {
            "category": c.name,
            "part of": c.parent or "",
            "products": counts.get(c.name, 0),
            "tagged in CSV": catalog.count(Filters(category=c.name)),
            "description": c.description,
            "other names": ", ".join(c.synonyms),
            "Chinese": "、".join(c.zh),
            "example photos": len(c.examples),
        }
        for c in categories.registry
    ]
    rows.append(
        {
            "category": UNKNOWN,
            "part of": "",
            "products": counts.get(UNKNOWN, 0),
            "tagged in CSV": 0,
            "description": "no category is sure enough",
            "other names": "",
            "Chinese": "",
            "example photos": 0,
        }
    )
    st.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch", key="merch-categories")
    st.caption(
        f"“products”: how the zero-shot classifier labels the catalog; “unknown” below probability "
        f"{categories.registry.unknown_below:.2f}. “tagged in CSV”: the category column of the import."
    )


def edit_category() -> None:
    """Change a category's words, or remove it (its sub-categories move up; its products are labelled again)."""
    st.markdown("**Edit or remove a category**")
    name = st.selectbox("Category", categories.registry.names, format_func=facet_label, key="merch-edit-name")
    if name is None:
        return
    category = categories.registry.get(name)
    with st.form(f"merch-edit-{name}"):
        description = st.text_area("Description", category.description)
        c1, c2 = st.columns(2)
        synonyms = c1.text_input("Other English names", ", ".join(category.synonyms))
        zh = c2.text_input("Chinese names", ", ".join(category.zh))
        save = st.form_submit_button("Save changes", type="primary")
    if save:
        try:
            categories.update(name, description=description.strip(), synonyms=names(synonyms), zh=names(zh))
        except RegistryError as exc:
            st.error(markdown_literal(exc))
            return
        st.session_state["merch-message"] = f"Saved “{name}”; the catalog's labels are updated."
        st.rerun()
    confirm = st.checkbox(
        f"Yes, remove “{markdown_literal(name)}” (its products are labelled again)", key=f"merch-remove-ok-{name}"
    )
    if st.button(
        "Remove category", type="primary", icon=":material/delete:", disabled=not confirm, key=f"delete-category-{name}"
    ):
        categories.remove(name)
        st.session_state["merch-message"] = f"Removed “{name}”; the catalog's labels are updated."
        st.rerun()


def low_confidence() -> None:
    unsure = categories.low_confidence(limit=SHOWN)
    if not unsure:
        st.info("No products yet.")
        return
    st.markdown(
        "The products the classifier is least sure of: check their photos and descriptions, "
        "or draft a category for them."
    )
    cards = [
        Card(
            item.product,
            badges=[item.classification.label],
            reasons=[
                f"How sure: {item.classification.probability:.0%}",
                " · ".join(f"{facet_label(label)} {p:.0%}" for label, p in item.classification.top),
            ],
        )
        for item in unsure
    ]
    product_grid(catalog, cards, key="merch-unsure")


page_header("Merchandiser", "Draft a category, preview what it would take, then apply or discard.")
if categories.head_problem:  # a trained few-shot head that cannot be used: why, and the command that retrains it
    st.warning(categories.head_problem)
if message := st.session_state.pop("merch-message", None):
    st.success(markdown_literal(message))
draft, listing, unsure = st.tabs(["Draft a category", "Categories", "Low confidence"], key="merch-tab")
with draft:
    preview = st.session_state.get("merch-preview")
    if preview is None:
        draft_form()
    else:
        show_preview(preview)
with listing:
    category_table()
    edit_category()
with unsure:
    low_confidence()
