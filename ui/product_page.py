"""The product page of the Shop and the Kiosk: a dialog over the results, opened by a tap on a card's photo
or by a deep link ``?sku=``. Large photo (tap to zoom, pinch on touch), price, description, every attribute,
why it was suggested, *More like this* (the nearest photos) and the page's own buttons.

Invariant: the open product is ``?sku=`` in the URL and nothing else, so a link, the back button and a
rerun agree; every catalog value is escaped text.
"""

from __future__ import annotations

from collections.abc import Callable

import streamlit as st

from assistant.catalog import Catalog, Product
from assistant.plaintext import html_text, markdown_literal
from assistant.shop.display import EMPTY_FACETS, facet_label, is_synthetic

from .cards import photo_data_url, product_thumbnail
from .i18n import facet, price, t, text_or

SKU_PARAM = "sku"
MORE_LIKE_THIS = 8


def open_product(product: Product) -> None:
    """Button callback: show this product's page (and put it in the URL)."""
    st.query_params[SKU_PARAM] = product.sku


def close_product() -> None:
    st.query_params.pop(SKU_PARAM, None)


def linked_product(catalog: Catalog) -> Product | None:
    """The product ``?sku=`` names; a sku no longer in the catalog is dropped from the URL with a note."""
    sku = st.query_params.get(SKU_PARAM)
    if not sku:
        return None
    product = catalog.get_by_sku(sku)
    if product is None:
        close_product()
        st.toast(t("product.gone"))
    return product


def attribute_name(name: str) -> str:
    """An extra CSV column's name as the reader's language says it ('style' -> 'Style' / '风格'), where the
    catalogue knows it; otherwise as the shop wrote it."""
    return text_or(f"attribute.{name.strip().lower()}", facet_label(name.replace("_", " ")))


def attribute_rows(product: Product) -> list[tuple[str, str]]:
    """(label, value) for every attribute the shop gave the piece, known facets first, empty ones left out."""
    rows = [
        (t("product.category"), facet(product.category)),
        (t("product.metal"), facet(product.metal)),
        (t("product.stone"), facet(product.stone)),
        *((attribute_name(name), facet(str(value))) for name, value in sorted(product.attributes.items())),
        (t("product.sku"), product.sku),
    ]
    return [(label, str(value)) for label, value in rows if str(value or "").strip().lower() not in EMPTY_FACETS]


def zoomable_photo_html(catalog: Catalog, product: Product) -> str:
    """The photo at full product-page size; a tap toggles a 2.5x zoom you can pan, pinch works on touch."""
    toggle = f"zoom-{product.id}"
    return (
        f'<div class="zoom-box" title="{html_text(t("product.zoom_hint"))}">'
        f'<input type="checkbox" id="{toggle}" class="zoom-toggle">'
        f'<label for="{toggle}"><img src="{photo_data_url(catalog, product)}" alt="{html_text(product.title)}">'
        "</label></div>"
    )


def details_html(product: Product, reasons: list[str]) -> str:
    facts = "".join(
        f"<tr><th>{html_text(label)}</th><td>{html_text(value)}</td></tr>" for label, value in attribute_rows(product)
    )
    why = "".join(f"<li>{html_text(r)}</li>" for r in reasons)
    synthetic = (
        f'<div class="synthetic-note">{html_text(t("product.synthetic"))}</div>' if is_synthetic(product) else ""
    )
    return (
        f'<div class="product-title">{html_text(product.title)}</div>'
        f'<div class="product-price">{html_text(price(product.price, product.currency))}</div>'
        f"{synthetic}"
        f'<p class="product-description">{html_text(product.description)}</p>'
        f'<table class="product-facts">{facts}</table>'
        + (f'<div class="product-why">{html_text(t("product.why"))}<ul>{why}</ul></div>' if why else "")
    )


def more_like_this(catalog: Catalog, product: Product, k: int = MORE_LIKE_THIS) -> list[Product]:
    """The pieces nearest to this one in the catalog's vector space (its photo, or its words without one)."""
    ids, vectors = catalog.vectors([product.id])
    if not len(ids):
        return []
    return [h.product for h in catalog.search_vector(vectors[0], k=k + 1) if h.product.id != product.id][:k]


def product_page(
    catalog: Catalog,
    product: Product,
    actions: Callable[[Product], None],
    reasons: Callable[[Product], list[str]],
    key: str,
) -> None:
    """The dialog's body for one product; a tap in *More like this* shows that piece in the same dialog."""
    photo, words = st.columns([5, 4], gap="large")
    photo.html(zoomable_photo_html(catalog, product))
    with words:
        st.html(details_html(product, reasons(product)))
        actions(product)
    similar = more_like_this(catalog, product)
    if not similar:
        return
    st.markdown(f"#### {t('product.more_like_this')}")
    grid = st.grid(4, min_column_width=120, gap="small")
    for other in similar:
        with grid.container(key=f"similar-{key}-{other.id}"):
            st.image(product_thumbnail(catalog, other, 240), width="stretch", alt=other.title)
            st.button(
                markdown_literal(other.title),
                key=f"similar-open-{key}-{other.id}",
                on_click=open_product,
                args=(other,),
                type="tertiary",
                width="stretch",
            )


def show_product_dialog(
    catalog: Catalog,
    actions: Callable[[Product], None],
    reasons: Callable[[Product], list[str]],
    key: str,
) -> None:
    """Open the product page when the URL names a product; closing it takes ``?sku=`` away and reruns the page."""
    if linked_product(catalog) is None:
        return

    def body() -> None:
        product = linked_product(catalog)  # re-read on every run of the dialog: More like this changes it
        if product is None:
            st.rerun()
        product_page(catalog, product, actions, reasons, key)

    st.dialog(t("product.dialog_title"), width="large", on_dismiss=close_product)(body)()
