"""The jewelry shop app over the catalog engine: ``streamlit run app.py`` (or ``./run.sh app``).

Settings come from the environment, as for the CLI: ASSISTANT_CATALOG (catalog folder),
ASSISTANT_MODEL (model spec), ASSISTANT_MODEL_CACHE, and ASSISTANT_KIOSK_IDLE_SECONDS for the kiosk.
This file only chooses the pages; each page in app_pages/ is a thin layer over ``assistant/``.
(Not ``pages/``: Streamlit runs a file in a folder of that name on its own, without this file, when a
fresh server's first visitor opens its URL, e.g. a kiosk browser reopening /kiosk after a restart.)
"""

import streamlit as st

from ui.first_run import setup_problem_page
from ui.resources import STARTUP_ERRORS, current_shop
from ui.style import apply_style, show_logo

st.set_page_config(page_title="Jewelry Assistant", page_icon=":material/diamond:", layout="wide")
show_logo()
apply_style()

try:
    shop = current_shop()
except STARTUP_ERRORS as problem:
    page = st.navigation([st.Page(setup_problem_page(problem), title="Setup needed", icon=":material/warning:", url_path="setup")])
else:
    has_products = shop.catalog.count() > 0
    welcome = st.Page(
        "app_pages/welcome.py", title="Get started", icon=":material/auto_awesome:", url_path="welcome",
        default=not has_products, visibility="hidden" if has_products else "visible",
    )
    catalog = st.Page("app_pages/catalog.py", title="Catalog", icon=":material/inventory_2:", url_path="catalog")
    if has_products:
        page = st.navigation({
            "Shop": [
                st.Page("app_pages/shop.py", title="Shop", icon=":material/storefront:", url_path="shop", default=True),
                st.Page("app_pages/kiosk.py", title="Kiosk", icon=":material/touch_app:", url_path="kiosk"),
            ],
            "Staff": [st.Page("app_pages/merchandiser.py", title="Merchandiser", icon=":material/sell:", url_path="merchandiser"), catalog, welcome],
        })
    else:
        page = st.navigation([welcome, catalog])
page.run()
