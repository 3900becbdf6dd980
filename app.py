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

SHOP_PAGES = {  # url path: (file, title, icon)
    "shop": ("app_pages/shop.py", "Shop", ":material/storefront:"),
    "kiosk": ("app_pages/kiosk.py", "Kiosk", ":material/touch_app:"),
}
STAFF_PAGES = {
    "merchandiser": ("app_pages/merchandiser.py", "Merchandiser", ":material/sell:"),
    "catalog": ("app_pages/catalog.py", "Catalog", ":material/inventory_2:"),
}
WELCOME = ("app_pages/welcome.py", "Get started", ":material/auto_awesome:")


def page(url_path: str, spec: tuple, default: bool = False, hidden: bool = False) -> st.Page:
    target, title, icon = spec
    return st.Page(target, title=title, icon=icon, url_path=url_path, default=default,
                   visibility="hidden" if hidden else "visible")


st.set_page_config(page_title="Jewelry Assistant", page_icon=":material/diamond:", layout="wide")
show_logo()
apply_style()

try:
    shop = current_shop()
except STARTUP_ERRORS as problem:
    # Every URL of the app (a bookmarked /kiosk too) shows the explanation instead of "page not found".
    setup = (setup_problem_page(problem), "Setup needed", ":material/warning:")
    urls = ["setup", *SHOP_PAGES, *STAFF_PAGES, "welcome"]
    navigation = st.navigation([page(url, setup, default=n == 0, hidden=n > 0) for n, url in enumerate(urls)])
else:
    if shop.catalog.count():
        navigation = st.navigation({
            "Shop": [page(url, spec, default=url == "shop") for url, spec in SHOP_PAGES.items()],
            "Staff": [*(page(url, spec) for url, spec in STAFF_PAGES.items()), page("welcome", WELCOME, hidden=True)],
        })
    else:  # an empty catalog: the shop's URLs lead to the page that says how to fill it
        navigation = st.navigation([
            page("welcome", WELCOME, default=True), page("catalog", STAFF_PAGES["catalog"]),
            *(page(url, WELCOME, hidden=True) for url in [*SHOP_PAGES, "merchandiser"]),
        ])
navigation.run()
