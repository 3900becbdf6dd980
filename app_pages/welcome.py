"""First run: an empty catalog says how to fill it; offers clearly labelled synthetic demo products."""

from ui.navigation import ensure_app, page_link

ensure_app()  # runs app.py's navigation if Streamlit ran this file alone

import streamlit as st

from assistant.catalog.ingest import CSV_COLUMNS
from ui.first_run import DEMO_PRODUCTS, fill_with_demo_products
from ui.i18n import t, tn
from ui.resources import current_shop
from ui.style import page_header

shop = current_shop()
count = shop.catalog.count()

if count:
    page_header(t("welcome.ready_title"), tn("welcome.ready_text", count))
    if message := st.session_state.pop("welcome-message", None):
        st.success(message)
    page_link("shop", label=t("welcome.open_shop"), icon=":material/storefront:")
    page_link("kiosk", label=t("welcome.open_kiosk"), icon=":material/touch_app:")
    st.stop()

page_header(t("welcome.title"), t("welcome.subtitle"))
left, right = st.columns(2, gap="large")
with left, st.container(border=True):
    st.subheader(t("welcome.import_title"))
    st.markdown(t("welcome.import_text", columns=",".join(CSV_COLUMNS)))
    page_link("catalog", label=t("welcome.upload_link"), icon=":material/inventory_2:")
    st.markdown(t("welcome.or_terminal"))
    st.code(
        f"python -m assistant --catalog {shop.catalog.location} --model {shop.catalog.model_spec} \\\n"
        "    ingest products.csv --images photos/",
        language="bash",
        wrap_lines=True,
    )
with right, st.container(border=True):
    st.subheader(t("welcome.demo_title"))
    st.markdown(t("welcome.demo_text", n=DEMO_PRODUCTS))
    if st.button(t("welcome.demo_button", n=DEMO_PRODUCTS), type="primary", key="welcome-demo"):
        st.session_state["welcome-message"] = fill_with_demo_products(shop)
        st.rerun()
