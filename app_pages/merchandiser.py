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
from assistant.images import IMAGE_SUFFIXES, ImageError
from ui.cards import Card, product_grid
from ui.i18n import facet, facet_markdown, labelled, localized, t
from ui.resources import current_shop
from ui.style import page_header

SHOWN = 24
NO_PARENT = ""  # the draft's "Part of" choice for a top-level category
#: The category table's columns, in order (their headings are ``merch.col.<name>`` messages).
CATEGORY_COLUMNS = ("category", "part_of", "products", "tagged", "description", "other_names", "chinese", "examples")
shop = current_shop()
catalog = shop.catalog
try:
    with st.spinner(t("merch.labelling")):  # after a registry change, the catalog's products are labelled again
        categories = shop.categories()
except RegistryError as exc:  # a hand-edited registry file with a mistake: say which and where
    st.error(markdown_literal(t("merch.registry_broken", error=exc)))
    st.stop()


def names(text: str) -> list[str]:
    return [n.strip() for n in text.replace("，", ",").split(",") if n.strip()]


def draft_form() -> None:
    with st.form("merch-draft"):
        name = st.text_input(t("merch.name"), placeholder=t("merch.name_placeholder"))
        description = st.text_area(t("common.description"), placeholder=t("merch.description_placeholder"))
        c1, c2, c3 = st.columns(3)
        synonyms = c1.text_input(t("merch.synonyms"), placeholder=t("merch.synonyms_placeholder"))
        zh = c2.text_input(t("merch.zh_names"), placeholder=t("merch.zh_placeholder"))
        parents = [NO_PARENT, *categories.registry.names]
        none_label = t("common.none")
        parent_label = labelled(parents, lambda v: none_label if v == NO_PARENT else facet(v))
        parent = c3.selectbox(t("merch.parent"), parents, format_func=parent_label)
        photos = st.file_uploader(
            t("merch.photos"), type=sorted(s.lstrip(".") for s in IMAGE_SUFFIXES), accept_multiple_files=True
        )
        submitted = st.form_submit_button(t("merch.preview"), type="primary")
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
        st.error(markdown_literal(localized(exc)))
        return
    st.session_state["merch-preview"] = preview
    st.rerun()


def show_preview(preview: Preview) -> None:
    name = preview.category.name
    verb = "merch.would_hold" if preview.is_update else "merch.would_take"
    st.subheader(t(verb, name=facet_markdown(name), taken=len(preview.taken), total=catalog.count()))
    m1, m2, m3 = st.columns(3)
    m1.metric(t("merch.taken"), len(preview.taken))
    nearest = facet_markdown(preview.nearest_category) if preview.nearest_category else t("merch.none")
    m2.metric(t("merch.nearest"), nearest, help=t("merch.nearest_help"))
    margin = t("merch.none") if preview.margin is None else f"{preview.margin:+.3f}"
    m3.metric(t("merch.distinct"), distinctness(preview.margin), help=t("merch.distinct_help", margin=margin))
    if preview.nearest_similarity is not None:
        similarity = f"{preview.nearest_similarity:.0%}"
        st.caption(t("merch.reads_like", similarity=similarity, name=facet_markdown(preview.nearest_category)))
    takes_nothing = not preview.taken
    if takes_nothing:
        st.info(t("merch.takes_nothing"))
    apply_col, discard_col, _ = st.columns([1, 1, 4])
    apply_type = "secondary" if takes_nothing else "primary"
    if apply_col.button(t("merch.apply"), type=apply_type, key="merch-apply", width="stretch"):
        preview.apply()
        st.session_state.pop("merch-preview")
        st.session_state["merch-message"] = t("merch.applied", name=name)
        st.rerun()
    discard_type = "primary" if takes_nothing else "secondary"
    if discard_col.button(t("merch.discard"), type=discard_type, key="merch-discard", width="stretch"):
        preview.discard()
        st.session_state.pop("merch-preview")
        st.session_state["merch-message"] = t("merch.discarded", name=name)
        st.rerun()
    if preview.taken_from:
        st.markdown(f"**{t('merch.taken_from')}**")
        header = [t("merch.col.category_now"), t("merch.col.products")]
        taken_from = [[facet(k), v] for k, v in preview.taken_from.items()]
        st.dataframe(pd.DataFrame(taken_from, columns=header), hide_index=True, key="merch-taken-from")
    cards = [
        Card(taken.product, reasons=[how_sure(taken.probability), t("merch.now", category=facet(taken.previous))])
        for taken in preview.taken[:SHOWN]
    ]
    product_grid(catalog, cards, key="merch-preview")


def distinctness(margin: float | None) -> str:
    """The median margin in words: how clearly the products taken belong to the draft."""
    if margin is None:
        return t("merch.nothing_taken")
    if margin >= 0.05:
        return t("merch.clearly")
    return t("merch.somewhat") if margin >= 0.01 else t("merch.hardly")


def how_sure(probability: float) -> str:
    return t("merch.how_sure", p=f"{probability:.0%}")


def category_table() -> None:
    counts = categories.counts()
    rows = [
        [
            c.name,
            c.parent or "",
            counts.get(c.name, 0),
            catalog.count(Filters(category=c.name)),
            c.description,
            ", ".join(c.synonyms),
            "、".join(c.zh),
            len(c.examples),
        ]
        for c in categories.registry
    ]
    rows.append([UNKNOWN, "", counts.get(UNKNOWN, 0), 0, t("merch.unknown_description"), "", "", 0])
    header = [t(f"merch.col.{column}") for column in CATEGORY_COLUMNS]
    st.dataframe(pd.DataFrame(rows, columns=header), hide_index=True, width="stretch", key="merch-categories")
    st.caption(
        t(
            "merch.counts_caption",
            products=t("merch.col.products"),
            unknown=UNKNOWN,
            threshold=f"{categories.registry.unknown_below:.2f}",
            tagged=t("merch.col.tagged"),
        )
    )


def edit_category() -> None:
    """Change a category's words, or remove it (its sub-categories move up; its products are labelled again)."""
    st.markdown(f"**{t('merch.edit_heading')}**")
    names_now = categories.registry.names
    name = st.selectbox(
        t("merch.edit_category"), names_now, format_func=labelled(names_now, facet), key="merch-edit-name"
    )
    if name is None:
        return
    category = categories.registry.get(name)
    with st.form(f"merch-edit-{name}"):
        description = st.text_area(t("common.description"), category.description)
        c1, c2 = st.columns(2)
        synonyms = c1.text_input(t("merch.synonyms"), ", ".join(category.synonyms))
        zh = c2.text_input(t("merch.zh_names"), ", ".join(category.zh))
        save = st.form_submit_button(t("common.save_changes"), type="primary")
    if save:
        try:
            categories.update(name, description=description.strip(), synonyms=names(synonyms), zh=names(zh))
        except RegistryError as exc:
            st.error(markdown_literal(localized(exc)))
            return
        st.session_state["merch-message"] = t("merch.saved", name=name)
        st.rerun()
    confirm = st.checkbox(t("merch.remove_confirm", name=facet_markdown(name)), key=f"merch-remove-ok-{name}")
    if st.button(
        t("merch.remove"), type="primary", icon=":material/delete:", disabled=not confirm, key=f"delete-category-{name}"
    ):
        categories.remove(name)
        st.session_state["merch-message"] = t("merch.removed", name=name)
        st.rerun()


def low_confidence() -> None:
    unsure = categories.low_confidence(limit=SHOWN)
    if not unsure:
        st.info(t("merch.no_products"))
        return
    st.markdown(t("merch.unsure_intro"))
    cards = [
        Card(
            item.product,
            badges=[item.classification.label],
            reasons=[
                how_sure(item.classification.probability),
                " · ".join(f"{facet(label)} {p:.0%}" for label, p in item.classification.top),
            ],
        )
        for item in unsure
    ]
    product_grid(catalog, cards, key="merch-unsure")


page_header(t("merch.title"), t("merch.subtitle"))
if categories.head_reason:  # a trained few-shot head that cannot be used: why, and the command that retrains it
    st.warning(markdown_literal(localized(categories.head_reason)))
if message := st.session_state.pop("merch-message", None):
    st.success(markdown_literal(message))
draft, listing, unsure = st.tabs(
    [t("merch.tab_draft"), t("merch.tab_categories"), t("merch.tab_unsure")], key="merch-tab"
)
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
