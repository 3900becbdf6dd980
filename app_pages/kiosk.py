"""Kiosk: search on a shared in-store touch screen, laid out for a 1080x1920 portrait screen (and fine in
landscape). Camera first, taps instead of typing, honest counts, *Show more*, a product page, and a
shortlist for staff with skus on one line and photos large enough to recognise.

Nothing a shopper shows the camera is stored: the photo is searched from memory and dropped. After
ASSISTANT_KIOSK_IDLE_SECONDS without a touch, or on *Start over*, the visit starts over: shortlist, photo,
choices, open panels and the product page are gone. No link on it leaves the kiosk.

The shortlist and the tiles are one st.fragment (*Show more* reruns only them); inside it the shortlist and
each tile are fragments too, so *Add to shortlist* or *Remove* redraws that tile and the shortlist only.
"""

from ui.navigation import ensure_app

ensure_app()  # runs app.py's navigation if Streamlit ran this file alone

import hashlib

import streamlit as st

from assistant.catalog import Filters
from assistant.errors import SettingsError
from assistant.images import ImageError
from assistant.plaintext import html_text, markdown_literal
from assistant.shop.kiosk import KioskSession, idle_seconds_from_env
from assistant.shop.photos import ShopperPhotoError, read_shopper_photo
from assistant.shop.results import MAX_COUNTED, search_results
from ui.cards import Card, card_fragment_key, product_grid, product_thumbnail
from ui.i18n import facet_markdown, language_switch, price, reset_language, t, tn
from ui.product_page import close_product, open_product, show_product_dialog
from ui.redraw import redraw
from ui.resources import current_shop
from ui.shopper import listing
from ui.style import apply_style

PAGE = 12
#: Fragment keys: the results (shortlist, tiles, product page) and the shortlist panel.
RESULTS, SHORTLIST = "kiosk-results", "kiosk-shortlist-panel"
#: Where a shortlist button sits when it is on the product page (a dialog, which redraws itself on a tap).
PRODUCT_PAGE = "product"
shop = current_shop()
catalog = shop.catalog
apply_style(kiosk=True)

try:
    idle_seconds = idle_seconds_from_env()
except SettingsError as exc:
    st.error(markdown_literal(exc))
    st.stop()
session: KioskSession = st.session_state.setdefault("kiosk", KioskSession(idle_seconds=idle_seconds))
session.idle_seconds = idle_seconds


def start_over() -> None:
    """A fresh visit: the shortlist, the photo, the choices, open panels and the product page all go, and the
    screen speaks the shop's language (ASSISTANT_LANGUAGE) again."""
    session.reset()
    close_product()
    reset_language()


if session.is_idle():  # the last shopper walked away: the next one starts with a clean screen
    start_over()
session.touch()
key = session.widget_key


@st.fragment(run_every=max(1.0, min(5.0, idle_seconds / 3)))
def idle_watch() -> None:
    """Runs on a timer in the browser; starts the whole page over once the screen has been idle long enough."""
    if session.is_idle():
        st.rerun(scope="app")
    st.markdown(
        f'<div class="kiosk-idle">{html_text(t("kiosk.idle", seconds=f"{idle_seconds:.0f}"))}</div>',
        unsafe_allow_html=True,
    )


@st.fragment(key=SHORTLIST)
def shortlist_panel() -> None:
    """The shortlist across the screen: a large photo, the sku on one line, title and price, and *Remove*."""
    with st.container(border=True, key="kiosk-shortlist"):
        st.markdown(f"### {t('kiosk.shortlist_title')}")
        products = [p for p in (catalog.get_by_sku(s) for s in session.shortlist) if p is not None]
        if not products:
            st.markdown(t("kiosk.shortlist_empty"))
            return
        st.markdown(t("kiosk.shortlist_staff"))
        grid = st.grid(3, min_column_width=320, gap="medium")
        for product in products:
            with grid.container(horizontal=True, vertical_alignment="center", key=f"listed-{product.id}"):
                st.image(product_thumbnail(catalog, product, 240), width=112, alt=product.title)
                with st.container(gap="small"):
                    st.markdown(
                        f'<div class="shortlist-sku">{html_text(product.sku)}</div>'
                        f'<div class="shortlist-title">{html_text(product.title)}</div>'
                        f'<div class="shortlist-price">{html_text(price(product.price, product.currency))}</div>',
                        unsafe_allow_html=True,
                    )
                    st.button(
                        t("kiosk.remove"),
                        icon=":material/close:",
                        key=key(f"remove-{product.sku}"),
                        on_click=change_shortlist,
                        args=(session.remove, product, True),
                    )


def change_shortlist(change, product, on_screen: bool) -> None:
    """*Add* or *Remove*, which is a touch. Tapped on the screen (the product page redraws itself), the
    shortlist and the product's tile, when shown, redraw."""
    change(product.sku)
    session.touch()
    if on_screen:
        tile = [card_fragment_key(tiles_key(), product.id)] if product.id in view.visible() else []
        redraw([SHORTLIST, *tile])


def shortlist_button(product, where: str) -> None:
    """*Add to shortlist*; once added it says so and does nothing more (removal is on the shortlist)."""
    listed = product.sku in session.shortlist
    st.button(
        t("kiosk.listed") if listed else t("kiosk.add"),
        icon=":material/check:" if listed else ":material/playlist_add:",
        key=key(f"{where}-{product.sku}"),
        type="primary" if listed else "secondary",
        on_click=change_shortlist,
        args=(session.add, product, where != PRODUCT_PAGE),
        disabled=listed,
        width="stretch",
    )


head, controls = st.columns([3, 2], vertical_alignment="center")
head.markdown(
    f'<div class="kiosk-title">{html_text(t("kiosk.title"))}</div>'
    f'<div class="kiosk-sub">{html_text(t("kiosk.subtitle"))}</div>',
    unsafe_allow_html=True,
)
with controls, st.container(horizontal=True, horizontal_alignment="right", vertical_alignment="center"):
    language_switch(key("kiosk"))
    st.button(t("kiosk.start_over"), icon=":material/restart_alt:", key=key("restart"), on_click=start_over)

camera_col, choice_col = st.columns([3, 2], gap="large")
with camera_col:
    photo_file = st.camera_input(t("kiosk.camera"), key=key("camera"))
    st.caption(t("kiosk.camera_help"))
with choice_col:
    category, metal = (
        st.pills(
            t(f"kiosk.{facet}"),
            shop.facet_values(facet),
            format_func=facet_markdown,
            key=key(facet),
            width="stretch",
            wrap=True,
        )
        for facet in ("category", "metal")
    )
    with st.expander(t("kiosk.type_words"), key=key("words-panel")):
        typed = st.text_input(
            t("kiosk.words"), key=key("words"), label_visibility="collapsed", placeholder=t("kiosk.words_placeholder")
        ).strip()
    idle_watch()

filters = Filters(category=category, metal=metal)
photo = photo_problem = None
if photo_file is not None:
    try:
        photo = read_shopper_photo(photo_file.getvalue())
    except ShopperPhotoError as exc:
        photo_problem = exc.message_key
        camera_col.warning(t(photo_problem), icon=":material/photo_camera:")


def kiosk_listing() -> tuple[list[int], tuple[str, int | None]]:
    """A photo or typed words: close matches (or the nearest); only taps: the pieces they choose."""
    if photo is None and not typed:
        ids = [p.id for p in catalog.products(filters, limit=MAX_COUNTED)]
        count = catalog.count(filters)
        if not count:
            return ids, ("results.none_filtered", None)
        return ids, ("results.collection" if filters.is_empty() else "results.chosen", count)
    try:
        vector = shop.search.query_vector(typed or None, photo)
    except ImageError:
        camera_col.warning(t("photo.unreadable"), icon=":material/photo_camera:")
        return [], ("results.none_filtered", None)
    results = search_results(catalog, vector, shop.match_threshold(bool(typed), photo is not None, 0.5), filters)
    if not results.close_match:
        summary = ("results.no_match", None) if results.nearest else ("results.none_filtered", None)
        return [h.product.id for h in results.nearest], summary
    summary = ("results.more_than" if results.more_than else "results.count", results.count)
    return [h.product.id for h in results.matches], summary


photo_digest = hashlib.sha1(photo_file.getvalue()).hexdigest() if photo is not None else None
signature = (photo_digest, typed, category, metal, catalog.generation)
if photo_problem and key("listing") in st.session_state:  # a photo that cannot be read keeps the results
    signature = st.session_state[key("listing")].signature
view = listing(key("listing"), signature, kiosk_listing, PAGE)


def tiles_key() -> str:
    """The tiles' grid key: new with every visit, so a fresh visit draws fresh tiles."""
    return f"kiosk{session.visit}"


def open_here(product) -> None:
    """A tap on a photo: the product page opens over the tiles (the results fragment draws it)."""
    open_product(product)
    redraw([RESULTS])


@st.fragment(key=RESULTS)
def results_area() -> None:
    """The shortlist and the results change together on a tap, without rerunning the camera and choices."""
    shortlist_panel()
    summary_key, n = view.summary
    st.markdown(f"### {tn(summary_key, n) if n is not None else t(summary_key)}")
    cards = [Card(p) for p in catalog.get(view.visible())]
    product_grid(
        catalog,
        cards,
        key=tiles_key(),
        columns=3,
        min_column_width=280,
        actions=lambda card: shortlist_button(card.product, "list"),
        on_open=open_here,
        redrawn=Card,
    )
    if view.remaining():
        st.button(
            tn("results.show_more", min(PAGE, view.remaining())),
            key=key("more"),
            icon=":material/expand_more:",
            on_click=view.show_more,
            width="stretch",
        )
    show_product_dialog(catalog, lambda p: shortlist_button(p, PRODUCT_PAGE), lambda p: [], key=tiles_key())


results_area()
session.touch()  # idle time counts from when the shopper saw this screen, however long it took to draw
