"""The app's pages and navigation (``run_app``, what app.py runs), and the guard every page in pages/ starts with.

Streamlit runs a file in ``pages/`` on its own, without app.py, when the first visitor of a freshly started
server opens that page's URL (a kiosk browser reopening /kiosk after a restart). ``ensure_app()`` notices
that (the page is not running inside ``run_app``) and runs the whole app instead, which shows that same URL
through the app's own navigation; Streamlit then leaves its per-folder mode for good.
"""

from __future__ import annotations

from contextvars import ContextVar
from pathlib import Path

import streamlit as st

from assistant.errors import AssistantError, SettingsError
from ui.first_run import setup_problem_page
from ui.i18n import current_language, current_messages, t
from ui.resources import current_shop
from ui.style import apply_style, show_logo

SHOP_PAGES = {  # url path: (file, title, icon)
    "shop": ("pages/shop.py", "Shop", ":material/storefront:"),
    "kiosk": ("pages/kiosk.py", "Kiosk", ":material/touch_app:"),
}
STAFF_PAGES = {
    "merchandiser": ("pages/merchandiser.py", "Merchandiser", ":material/sell:"),
    "catalog": ("pages/catalog.py", "Catalog", ":material/inventory_2:"),
}
WELCOME = ("pages/welcome.py", "Get started", ":material/auto_awesome:")
#: Along the top: .streamlit/config.toml turns Streamlit's own sidebar list of pages/ off (a fresh server
#: showed it, raw, while the first run loaded the model), and that setting hides any sidebar navigation.
NAV_POSITION = "top"

#: True while ``run_app`` runs the chosen page (per script thread, so sessions do not see each other's runs).
_INSIDE_APP: ContextVar[bool] = ContextVar("inside_run_app", default=False)


def page(url_path: str, spec: tuple, default: bool = False, hidden: bool = False) -> st.Page:
    target, title, icon = spec
    name = Path(target).stem if isinstance(target, str) else "setup"  # titles in the session's language
    title = t(f"nav.{name}") if f"nav.{name}" in current_messages().entries else title
    return st.Page(
        target, title=title, icon=icon, url_path=url_path, default=default, visibility="hidden" if hidden else "visible"
    )


def run_app() -> None:
    """Page setup, the setup checks, the pages the catalog allows, then the page the URL asks for."""
    try:
        current_language()
    except SettingsError as problem:  # a kiosk set up with a language the shop does not speak says so
        st.error(str(problem))
        st.stop()
    st.set_page_config(page_title=t("app.title"), page_icon=":material/diamond:", layout="wide")
    show_logo()
    apply_style()

    try:
        shop = current_shop()
    except AssistantError as problem:
        # Every URL of the app (a bookmarked /kiosk too) shows the explanation instead of "page not found".
        setup = (setup_problem_page(problem), "Setup needed", ":material/warning:")
        urls = ["setup", *SHOP_PAGES, *STAFF_PAGES, "welcome"]
        navigation = st.navigation(
            [page(url, setup, default=n == 0, hidden=n > 0) for n, url in enumerate(urls)], position=NAV_POSITION
        )
    else:
        if shop.embedder.spec.evaluation_note:
            st.sidebar.caption(shop.embedder.spec.evaluation_note)
        if shop.catalog.count():
            navigation = st.navigation(
                {
                    t("nav.shop_section"): [page(url, spec, default=url == "shop") for url, spec in SHOP_PAGES.items()],
                    t("nav.staff_section"): [
                        *(page(url, spec) for url, spec in STAFF_PAGES.items()),
                        page("welcome", WELCOME, hidden=True),
                    ],
                },
                position=NAV_POSITION,
            )
        else:  # an empty catalog: the shop's URLs lead to the page that says how to fill it
            navigation = st.navigation(
                [
                    page("welcome", WELCOME, default=True),
                    page("catalog", STAFF_PAGES["catalog"]),
                    *(page(url, WELCOME, hidden=True) for url in [*SHOP_PAGES, "merchandiser"]),
                ],
                position=NAV_POSITION,
            )
    token = _INSIDE_APP.set(True)
    try:
        navigation.run()
    finally:
        _INSIDE_APP.reset(token)


def ensure_app() -> None:
    """First line of every page: when Streamlit ran the page file on its own, run the whole app instead."""
    if not _INSIDE_APP.get():
        run_app()
        st.stop()
