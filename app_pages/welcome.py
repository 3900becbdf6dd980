"""First run: an empty catalog says how to fill it; offers clearly labelled synthetic demo products."""

from ui.navigation import ensure_app, page_link

ensure_app()  # runs app.py's navigation if Streamlit ran this file alone

import streamlit as st

from ui.first_run import DEMO_PRODUCTS, fill_with_demo_products
from ui.resources import current_shop
from ui.style import page_header

shop = current_shop()
count = shop.catalog.count()

if count:
    page_header("Your catalog is ready", f"{count} products, searchable by words and photos.")
    if message := st.session_state.pop("welcome-message", None):
        st.success(message)
    page_link("shop", label="Open the shop", icon=":material/storefront:")
    page_link("kiosk", label="Open the in-store kiosk", icon=":material/touch_app:")
    st.stop()

page_header("Welcome", "The catalog is empty. Add your products, and the shop opens.")
left, right = st.columns(2, gap="large")
with left, st.container(border=True):
    st.subheader("Import your products")
    st.markdown(
        "A CSV with the columns `sku,title,description,category,metal,stone,price,currency,image` "
        "and the photos it names (a folder or a .zip)."
    )
    page_link("catalog", label="Upload them on the Catalog page", icon=":material/inventory_2:")
    st.markdown("or from a terminal:")
    st.code(
        f"python -m assistant --catalog {shop.catalog.location} --model {shop.catalog.model_spec} \\\n"
        "    ingest products.csv --images photos/",
        language="bash",
        wrap_lines=True,
    )
with right, st.container(border=True):
    st.subheader("Just looking around?")
    st.markdown(
        f"Fill the catalog with **{DEMO_PRODUCTS} synthetic demo products**: drawn pictures of rings, "
        "earrings, necklaces, bracelets and pendants, with made-up prices. Every one is labelled synthetic "
        "(sku `SYN-…`); delete them on the Catalog page when your own products are in."
    )
    if st.button(f"Add {DEMO_PRODUCTS} synthetic demo products", type="primary", key="welcome-demo"):
        st.session_state["welcome-message"] = fill_with_demo_products(shop)
        st.rerun()
