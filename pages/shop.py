"""Shop: search by words (English or Chinese), by photo (upload or camera), or both; filters; result cards
with like / pass, and a "for you" ordering that adapts after every tap, with its reasons."""

from ui.navigation import ensure_app

ensure_app()  # runs app.py's navigation if Streamlit ran this file alone

import streamlit as st

from assistant.images import IMAGE_SUFFIXES, ImageError
from assistant.plaintext import markdown_literal
from assistant.search import DEFAULT_TEXT_WEIGHT
from ui.cards import Card, product_grid
from ui.filters import filter_sidebar
from ui.resources import current_shop
from ui.shopper import for_you, like_pass_buttons, shopper_session, taste_panel
from ui.style import page_header

RESULTS = 24
#: Search hits the "for you" ordering chooses its RESULTS from.
CANDIDATES = 2 * RESULTS
FOR_YOU, BEST_MATCH = "For you", "Best match"
shop = current_shop()
catalog = shop.catalog
session = shopper_session(shop)

page_header("Find your piece", "Describe it in English or Chinese, show us a photo, or both.")
with st.sidebar:
    filters = filter_sidebar(catalog, key="shop")
    taste_panel(shop, session)

words_col, photo_col = st.columns([3, 2], gap="large")
with words_col:
    text = st.text_input(
        "What are you looking for?",
        key="shop-query",
        placeholder="e.g. vintage rose gold ring · 珍珠耳环",
    ).strip()
with photo_col:
    upload = st.file_uploader(
        "Search by photo", type=sorted(s.lstrip(".") for s in IMAGE_SUFFIXES), key="shop-photo", max_upload_size=10
    )
    camera = (
        st.camera_input("Take a photo", key="shop-camera")
        if st.toggle("Use the camera", key="shop-camera-on")
        else None
    )
photo = camera if camera is not None else upload
text_weight = DEFAULT_TEXT_WEIGHT
if text and photo is not None:
    with words_col:
        text_weight = st.slider(
            "How much the words count against the photo", 0.0, 1.0, DEFAULT_TEXT_WEIGHT, 0.05, key="shop-text-weight"
        )

query = hits = None
if text or photo is not None:
    if text and (read := shop.search.query_text(text)) != text:
        words_col.caption(f"Searching for “{markdown_literal(read)}”")
    try:
        query = shop.search.query_vector(text or None, photo.getvalue() if photo is not None else None, text_weight)
    except ImageError as exc:
        st.error(f"That photo cannot be read: {exc}")
        st.stop()
    hits = catalog.search_vector(query, k=CANDIDATES, filters=filters)

heading, order_col = st.columns([3, 1], vertical_alignment="bottom")
order = order_col.segmented_control(
    "Order", [FOR_YOU, BEST_MATCH], default=FOR_YOU, required=True, key="shop-order", label_visibility="collapsed"
)
if order == FOR_YOU:
    cards = for_you(shop, session, hits, query, filters, RESULTS)
elif hits is not None:
    cards = [Card(h.product, h.score) for h in hits if h.product.id not in session.skips][:RESULTS]
else:
    cards = [
        Card(p) for p in catalog.products(filters, limit=RESULTS + len(session.skips)) if p.id not in session.skips
    ][:RESULTS]

if hits is not None:
    heading.subheader(f"{len(cards)} pieces found" if cards else "Nothing matches; try fewer filters")
else:
    heading.subheader("Picked for you" if order == FOR_YOU and session.likes else "From the collection")
product_grid(catalog, cards, key="shop", actions=lambda card: like_pass_buttons(session, card))
