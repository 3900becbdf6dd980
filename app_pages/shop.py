"""Shop: search by words (English or Chinese), by photo (upload or camera), or both; filters; honest counts
(close matches only, calibrated on the catalog); cards with like / pass that never reorder under the finger,
an "Updated for you" band, a tray of liked pieces, *Show more*, and a product page (tap a photo, or ``?sku=``).

The page body reads the inputs and searches; the grid, the band and the tray are one st.fragment, so *Show
more* reruns only them. Inside it each card, the tray and the band are fragments too: a like, a pass or an
unlike redraws the tapped card, the cards whose reason it changed, the tray and the band (ui/redraw.py).
"""

from ui.navigation import ensure_app

ensure_app()  # runs app.py's navigation if Streamlit ran this file alone

import hashlib
from dataclasses import dataclass

import numpy as np
import streamlit as st

from assistant.catalog import Filters
from assistant.images import IMAGE_SUFFIXES, ImageError
from assistant.plaintext import markdown_literal
from assistant.search import DEFAULT_TEXT_WEIGHT
from assistant.shop.photos import MAX_SHOPPER_PHOTO_BYTES, ShopperPhotoError, read_shopper_photo
from assistant.shop.results import MAX_COUNTED, search_results
from ui.cards import Card, card_fragment_key, product_grid
from ui.filters import filter_sidebar
from ui.i18n import language_switch, t, tn
from ui.product_page import open_product, show_product_dialog
from ui.redraw import redraw
from ui.resources import current_shop
from ui.shopper import (
    for_you_order,
    like_pass_buttons,
    likes_tray,
    listing,
    shop_card,
    shop_cards,
    shopper_session,
    shown_reasons,
    strongest_reasons,
    updated_for_you,
)
from ui.style import page_header

PAGE = 24
FOR_YOU, BEST_MATCH = "for_you", "best_match"
#: The last query that could be searched: a photo that cannot be read keeps the results it found.
LAST_QUERY = "shop-last-query"
#: Fragment keys: the results (grid, band, tray, product page), the tray of likes, the "Updated for you" band.
RESULTS, TRAY, BAND = "shop-results", "shop-tray", "shop-band"
#: The reason each card of the grid shows (product id -> [reason]), as last drawn.
GRID_REASONS = "shop-grid-reasons"
shop = current_shop()
catalog = shop.catalog
session = shopper_session(shop)


@dataclass(frozen=True)
class Query:
    key: tuple
    vector: np.ndarray
    words: bool
    photo: bool
    text_weight: float


page_header(t("shop.title"), t("shop.subtitle"))
with st.sidebar:
    language_switch("shop")
    filters = filter_sidebar(shop, key="shop")

words_col, photo_col = st.columns([3, 2], gap="large")
with words_col:
    text = st.text_input(t("shop.search_label"), key="shop-query", placeholder=t("shop.search_placeholder")).strip()
with photo_col:
    upload = st.file_uploader(
        t("shop.photo_label"),
        type=sorted(s.lstrip(".") for s in IMAGE_SUFFIXES),
        key="shop-photo",
        max_upload_size=MAX_SHOPPER_PHOTO_BYTES // 2**20,
    )
    camera = (
        st.camera_input(t("shop.camera_label"), key="shop-camera")
        if st.toggle(t("shop.camera_toggle"), key="shop-camera-on")
        else None
    )
photo_file = camera if camera is not None else upload
text_weight = DEFAULT_TEXT_WEIGHT
if text and photo_file is not None:
    with words_col:
        text_weight = st.slider(t("shop.text_weight"), 0.0, 1.0, DEFAULT_TEXT_WEIGHT, 0.05, key="shop-text-weight")


def read_query() -> Query | None:
    """The shopper's words and photo as one query vector; a photo that cannot be searched gets one friendly
    sentence, and the last query that worked stays on screen."""
    if not text and photo_file is None:
        return None
    try:
        photo = read_shopper_photo(photo_file.getvalue()) if photo_file is not None else None
        vector = shop.search.query_vector(text or None, photo, text_weight)
    except (ShopperPhotoError, ImageError) as exc:
        photo_col.warning(t(getattr(exc, "message_key", "photo.unreadable")), icon=":material/photo_camera:")
        return st.session_state.get(LAST_QUERY)
    if text and (read := shop.search.query_text(text)) != text:
        words_col.caption(t("shop.searching_for", query=markdown_literal(read)))
    digest = hashlib.sha1(photo_file.getvalue()).hexdigest() if photo_file is not None else None
    query = Query((text, digest, text_weight), vector, bool(text), photo is not None, text_weight)
    st.session_state[LAST_QUERY] = query
    return query


def search_listing(query: Query, order: str) -> tuple[list[int], tuple[str, int | None]]:
    """Close matches (best match, or for this shopper), or the nearest few when nothing matches closely."""
    threshold = shop.match_threshold(query.words, query.photo, query.text_weight)
    results = search_results(catalog, query.vector, threshold, filters)
    if not results.close_match:
        summary = ("results.no_match", None) if results.nearest else ("results.none_filtered", None)
        return [h.product.id for h in results.nearest], summary
    ids = [h.product.id for h in results.matches]
    if order == FOR_YOU:
        ids = for_you_order(session, ids, query.vector, len(ids))
    summary = ("results.more_than" if results.more_than else "results.count", results.count)
    return ids, summary


def within(filters: Filters) -> list[int] | None:
    """The ids the filters allow (None: the whole collection)."""
    return None if filters.is_empty() else catalog.ids_matching(filters).tolist()


def band_pool() -> list[int] | None:
    """Where *Updated for you* picks from: the search's matches; after no close match (nothing to offer but
    the nearest few, all on screen) the collection within the filters, so a like still brings fresh pieces."""
    return within(filters) if key == "results.no_match" else view.ids


def collection_listing(order: str, filters: Filters) -> tuple[list[int], tuple[str, int | None]]:
    """No search yet: the collection (filtered), for this shopper or in catalog order."""
    if order == FOR_YOU:
        ids = for_you_order(session, within(filters), None, MAX_COUNTED)
    else:
        ids = [p.id for p in catalog.products(filters, limit=MAX_COUNTED) if p.id not in session.skips]
    count = catalog.count(filters)
    if not count:
        return ids, ("results.none_filtered", None)
    return ids, ("results.collection" if filters.is_empty() else "results.chosen", count)


query = read_query()
heading, order_col = st.columns([2, 1], vertical_alignment="bottom")
order = order_col.segmented_control(
    t("shop.order"),
    [FOR_YOU, BEST_MATCH],
    format_func=lambda o: t(f"shop.order.{o}"),
    default=FOR_YOU,
    required=True,
    key="shop-order",
    label_visibility="collapsed",
)
signature = (query.key if query else None, filters, order, catalog.generation)
view = listing(
    "shop-listing",
    signature,
    lambda: search_listing(query, order) if query else collection_listing(order, filters),
    PAGE,
)
key, n = view.summary
heading.subheader(tn(key, n) if n is not None else t(key))
query_vector = query.vector if query else None
#: What reasons may cite: not "matches your search" when nothing matched closely.
reason_query = query_vector if key != "results.no_match" else None


def reasons_of(product) -> list[str]:
    return strongest_reasons(session, [product.id], reason_query).get(product.id, [])


def grid_card(product) -> Card:
    return shop_card(session, product, st.session_state.get(GRID_REASONS, {}))


def after_tap(product_id: int) -> None:
    """After a like, a pass or an unlike: redraw the tapped card, every card whose reason it changed, the tray
    and the band; the rest of the grid stays as drawn."""
    shown = st.session_state.get(GRID_REASONS, {})
    st.session_state[GRID_REASONS] = fresh = shown_reasons(session, view.visible(), reason_query)
    changed = [p for p in view.visible() if p == product_id or shown.get(p, []) != fresh.get(p, [])]
    redraw([*(card_fragment_key("shop", p) for p in changed), TRAY, BAND])


def open_here(product) -> None:
    """A tap on a photo: the product page opens over the results (the results fragment draws it)."""
    open_product(product)
    redraw([RESULTS])


@st.fragment(key=TRAY)
def tray() -> None:
    likes_tray(shop, session, after=after_tap, on_open=open_here, on_reset=lambda: redraw([RESULTS]))


@st.fragment(key=BAND)
def band() -> None:
    """After a like: the best pieces for this shopper that are not on screen yet."""
    if fresh := updated_for_you(session, band_pool(), reason_query, view.visible()):
        st.subheader(t("results.updated_for_you"))
        actions = lambda card: like_pass_buttons(session, card.product, "band", after_tap)  # noqa: E731
        cards = shop_cards(session, catalog.get(fresh), reason_query)
        product_grid(catalog, cards, key="band", actions=actions, on_open=open_here)


@st.fragment(key=RESULTS)
def results_area() -> None:
    """The grid in its fixed order, the band of fresh picks after a like, *Show more*, the tray, the product page."""
    tray()
    visible = catalog.get(view.visible())
    st.session_state[GRID_REASONS] = shown_reasons(session, view.visible(), reason_query)
    actions = lambda card: like_pass_buttons(session, card.product, "shop", after_tap)  # noqa: E731
    cards = [grid_card(p) for p in visible]
    product_grid(catalog, cards, key="shop", actions=actions, on_open=open_here, redrawn=grid_card)
    if view.remaining():
        st.button(
            tn("results.show_more", min(PAGE, view.remaining())),
            key="shop-more",
            icon=":material/expand_more:",
            on_click=view.show_more,
        )
    band()
    show_product_dialog(catalog, lambda p: like_pass_buttons(session, p, "product"), reasons_of, key="shop")


results_area()
