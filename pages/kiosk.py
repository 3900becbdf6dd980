"""Kiosk: search on a shared in-store touch screen. Camera first, taps instead of typing, a shortlist for staff.

Nothing a shopper shows the camera is stored: the photo is searched from memory and dropped. After
ASSISTANT_KIOSK_IDLE_SECONDS without a touch the visit starts over (shortlist, photo and choices gone).
"""

from ui.navigation import ensure_app

ensure_app()  # runs app.py's navigation if Streamlit ran this file alone

import streamlit as st

from assistant.catalog import Filters
from assistant.shop.display import facet_markdown, format_price
from assistant.errors import SettingsError
from assistant.plaintext import html_text
from assistant.shop.kiosk import KioskSession, idle_seconds_from_env
from ui.cards import Card, product_grid, product_thumbnail
from ui.resources import current_shop
from ui.style import apply_style

RESULTS = 12
shop = current_shop()
catalog = shop.catalog
apply_style(kiosk=True)

try:
    idle_seconds = idle_seconds_from_env()
except SettingsError as exc:
    st.error(str(exc))
    st.stop()
session: KioskSession = st.session_state.setdefault("kiosk", KioskSession(idle_seconds=idle_seconds))
session.idle_seconds = idle_seconds
if session.is_idle():  # the last shopper walked away: the next one starts with a clean screen
    session.reset()
session.touch()
key = session.widget_key


@st.fragment(run_every=max(1.0, min(5.0, idle_seconds / 3)))
def idle_watch() -> None:
    """Runs on a timer in the browser; starts the whole page over once the screen has been idle long enough."""
    if session.is_idle():
        st.rerun(scope="app")
    st.markdown(
        f'<div class="kiosk-idle">Starts over after {idle_seconds:.0f} s without a touch.</div>', unsafe_allow_html=True
    )


def shortlist_panel() -> None:
    with st.container(border=True, key="kiosk-shortlist"):
        st.markdown("### Your shortlist")
        products = [p for p in (catalog.get_by_sku(s) for s in session.shortlist) if p is not None]
        if not products:
            st.markdown("Tap **Shortlist** on any piece you would like to see in person.")
            return
        st.markdown("Show this list to a member of our staff:")
        for product in products:
            photo, words = st.columns([1, 3], vertical_alignment="center")
            photo.image(product_thumbnail(catalog, product, 160), width="stretch")
            words.markdown(
                f'<div class="shortlist-sku">{html_text(product.sku)}</div>'
                f"{html_text(product.title)} · {html_text(format_price(product.price, product.currency))}",
                unsafe_allow_html=True,
            )
            if words.button("Remove", key=key(f"remove-{product.sku}")):
                session.toggle(product.sku)
                st.rerun()


def shortlist_button(card: Card) -> None:
    listed = card.product.sku in session.shortlist
    label, icon = ("On your shortlist", ":material/check:") if listed else ("Shortlist", ":material/favorite_border:")
    if st.button(
        label,
        icon=icon,
        key=key(f"list-{card.product.sku}"),
        type="primary" if listed else "secondary",
        width="stretch",
    ):
        session.toggle(card.product.sku)
        st.rerun()


head, restart = st.columns([4, 1], vertical_alignment="center")
head.markdown(
    '<div class="kiosk-title">Find your piece</div>'
    '<div class="kiosk-sub">Show the camera a piece you like, or tap what you are looking for.</div>',
    unsafe_allow_html=True,
)
if restart.button("Start over", icon=":material/restart_alt:", key=key("restart"), width="stretch"):
    session.reset()
    st.rerun()

camera_col, choice_col, list_col = st.columns([5, 4, 3], gap="large")
with camera_col:
    photo = st.camera_input("Show us a piece", key=key("camera"))
with choice_col:
    category = st.pills(
        "What are you looking for?",
        catalog.facet_values("category"),
        format_func=facet_markdown,
        key=key("category"),
        width="stretch",
        wrap=True,
    )
    metal = st.pills(
        "In which metal?",
        catalog.facet_values("metal"),
        format_func=facet_markdown,
        key=key("metal"),
        width="stretch",
        wrap=True,
    )
    with st.expander("Or type a few words"):
        typed = st.text_input("Words", key=key("words"), label_visibility="collapsed", placeholder="e.g. pearl drop")
with list_col:
    shortlist_panel()
    idle_watch()

words = typed.strip() or " ".join(w for w in (metal, category) if w)
filters = Filters(category=category, metal=metal)
if photo is not None or words:
    hits = shop.search.search(
        text=words or None, image=photo.getvalue() if photo is not None else None, filters=filters, k=RESULTS
    )
    cards = [Card(h.product) for h in hits]  # no similarity scores on the shop floor
    st.markdown("### Pieces for you" if cards else "### Nothing matches those choices yet. Try fewer.")
else:
    cards = [Card(p) for p in catalog.products(limit=RESULTS)]
    st.markdown("### From our collection")
product_grid(catalog, cards, key=f"kiosk{session.visit}", columns=4, min_column_width=260, actions=shortlist_button)
session.touch()  # idle time counts from when the shopper saw this screen, however long it took to draw
