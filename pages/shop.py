"""Shop: search by words (English or Chinese), by photo (upload or camera), or both; filters; result cards."""

import streamlit as st

from assistant.images import IMAGE_SUFFIXES, ImageError
from assistant.search import DEFAULT_TEXT_WEIGHT
from ui.cards import Card, product_grid
from ui.filters import filter_sidebar
from ui.resources import current_shop
from ui.style import page_header

RESULTS = 24
shop = current_shop()
catalog = shop.catalog

page_header("Find your piece", "Describe it in English or 中文, show us a photo, or both.")
with st.sidebar:
    filters = filter_sidebar(catalog, key="shop")

words_col, photo_col = st.columns([3, 2], gap="large")
with words_col:
    text = st.text_input(
        "What are you looking for?", key="shop-query", placeholder="e.g. vintage rose gold ring · 珍珠耳环",
    ).strip()
with photo_col:
    upload = st.file_uploader("Search by photo", type=sorted(s.lstrip(".") for s in IMAGE_SUFFIXES), key="shop-photo")
    camera = st.camera_input("Take a photo", key="shop-camera") if st.toggle("Use the camera", key="shop-camera-on") else None
photo = camera if camera is not None else upload
text_weight = DEFAULT_TEXT_WEIGHT
if text and photo is not None:
    with words_col:
        text_weight = st.slider("How much the words count against the photo", 0.0, 1.0, DEFAULT_TEXT_WEIGHT, 0.05,
                                key="shop-text-weight")

if text or photo is not None:
    if text and (read := shop.search.query_text(text)) != text:
        words_col.caption(f"Searching for “{read}”")
    try:
        hits = shop.search.search(text or None, photo.getvalue() if photo is not None else None, filters, RESULTS, text_weight)
    except ImageError as exc:
        st.error(f"That photo cannot be read: {exc}")
        st.stop()
    cards = [Card(h.product, h.score) for h in hits]
    st.subheader(f"{len(cards)} pieces found" if cards else "Nothing matches; try fewer filters")
else:
    cards = [Card(p) for p in catalog.products(filters, limit=RESULTS)]
    st.subheader("From the collection")
product_grid(catalog, cards, key="shop")
