"""The app's pages and navigation (``run_app``, what app.py runs), and the guard every page in pages/ starts with.

Who sees what is decided here, before any page runs: ``assistant.staff.pages.routes`` maps every URL to a
page for this deployment (``ASSISTANT_PAGES``) and catalog; a staff page runs only for signed-in staff and
a signed-out visit gets the sign-in form in its place (``ui.staff``), so none of the page's own code, counts
or controls reach the browser. The navigation links are drawn here too (Streamlit's own sidebar navigation
is off in .streamlit/config.toml, which also keeps it from listing every file of pages/ on a fresh server's
first paint); the kiosk gets no sidebar at all.

Streamlit runs a file in ``pages/`` on its own, without app.py, when the first visitor of a freshly started
server opens that page's URL (a kiosk browser reopening /kiosk after a restart). ``ensure_app()`` notices
that (the page is not running inside ``run_app``) and runs the whole app instead, which shows that same URL
through the app's own navigation; Streamlit then leaves its per-folder mode for good.
"""

from __future__ import annotations

from collections.abc import Callable
from contextvars import ContextVar

import streamlit as st

from assistant.catalog.audit import acting_as
from assistant.errors import AssistantError
from assistant.plaintext import markdown_literal
from assistant.staff.accounts import StaffAccounts
from assistant.staff.pages import CLOSED, KIOSK, STAFF, URLS, Route, page_sets_from_env, routes
from assistant.staff.session import StaffSession, idle_minutes_from_env
from ui.first_run import setup_problem_page
from ui.resources import current_shop
from ui.staff import current_staff, sign_in_page, staff_panel
from ui.style import apply_style, page_header, show_logo

PAGES = {  # target: (file, title, icon)
    "shop": ("pages/shop.py", "Shop", ":material/storefront:"),
    "kiosk": ("pages/kiosk.py", "Kiosk", ":material/touch_app:"),
    "merchandiser": ("pages/merchandiser.py", "Merchandiser", ":material/sell:"),
    "catalog": ("pages/catalog.py", "Catalog", ":material/inventory_2:"),
    "welcome": ("pages/welcome.py", "Get started", ":material/auto_awesome:"),
}
SHOPPER_LINKS = ("shop", "kiosk")
#: The audit trail's name for anyone not signed in (shopper pages write nothing to the catalog).
VISITOR = "visitor (not signed in)"
STAFF_LINKS = ("merchandiser", "catalog", "welcome")

#: True while ``run_app`` runs the chosen page (per script thread, so sessions do not see each other's runs).
_INSIDE_APP: ContextVar[bool] = ContextVar("inside_run_app", default=False)
#: The page objects of this run by target, for links from inside pages (``page_link``).
_LINKABLE: ContextVar[dict[str, st.Page] | None] = ContextVar("linkable_pages", default=None)


def closed_page() -> None:
    """A public page while the catalog is still empty: nothing about the server, no sign-in."""
    page_header("Opening soon", "Our collection is being prepared. Please come back a little later.")


def _page(route: Route, target: Callable[[], None] | str, title: str, icon: str) -> st.Page:
    return st.Page(target, title=title, icon=icon, url_path=route.url, default=route.default)


def _run_everywhere(show: Callable[[], None], title: str) -> None:
    """Every URL of the app shows ``show`` (a setup problem, or a closed shop) instead of "page not found"."""
    st.navigation(
        [_page(Route(url, url, default=n == 0), show, title, ":material/warning:") for n, url in enumerate(URLS)],
        position="hidden",
    ).run()


def run_app() -> None:
    """Page setup, the deployment's pages, the setup checks, the staff check, then the page the URL asks for."""
    st.set_page_config(page_title="Jewelry Assistant", page_icon=":material/diamond:", layout="wide")
    try:
        page_sets = page_sets_from_env()
    except AssistantError as problem:
        message = markdown_literal(problem)
        return _run_everywhere(lambda: st.error(message), "Setup needed")
    try:
        shop = current_shop()
        idle_minutes = idle_minutes_from_env()
    except AssistantError as problem:
        # Every URL of the app (a bookmarked /kiosk too) shows the explanation; paths only where staff work.
        return _run_everywhere(setup_problem_page(problem, details=STAFF in page_sets), "Setup needed")

    app_routes = routes(page_sets, has_products=shop.catalog.count() > 0)
    pages = {}
    for route in app_routes:
        if route.target == CLOSED:
            pages[route.url] = _page(route, closed_page, "Opening soon", ":material/storefront:")
        else:
            pages[route.url] = _page(route, *PAGES[route.target])
    chosen = st.navigation(list(pages.values()), position="hidden")
    route = next(r for r in app_routes if pages[r.url] is chosen)
    on_kiosk = route.target == KIOSK
    apply_style(kiosk=on_kiosk)  # before anything is drawn: the kiosk never shows the sidebar, not even briefly
    show_logo()

    accounts = StaffAccounts(shop.catalog.root)
    staff = current_staff(accounts, idle_minutes) if STAFF in page_sets else None
    linkable = {r.target: pages[r.url] for r in app_routes if r.url == r.target}
    if not on_kiosk and route.target != CLOSED:
        with st.sidebar:
            navigation_links(linkable, staff, idle_minutes, staff_pages=STAFF in page_sets)
            if shop.embedder.spec.evaluation_note:  # a model that is only fit for evaluation says so
                st.caption(shop.embedder.spec.evaluation_note)

    inside, links = _INSIDE_APP.set(True), _LINKABLE.set(linkable)
    try:
        if route.staff_only and staff is None:
            sign_in_page(accounts)
        else:
            with acting_as(staff.name if staff else VISITOR):  # whom the audit trail names for writes
                chosen.run()
    finally:
        _INSIDE_APP.reset(inside)
        _LINKABLE.reset(links)


def navigation_links(
    linkable: dict[str, st.Page], staff: StaffSession | None, idle_minutes: float, staff_pages: bool
) -> None:
    """The shopper pages; then the staff pages and Sign out for staff, or one small sign-in link for others."""
    for target in SHOPPER_LINKS:
        if target in linkable:
            st.page_link(linkable[target])
    if not staff_pages:
        return
    # with products: Merchandiser and Catalog; while the catalog is empty: Get started and Catalog
    staff_targets = [t for t in STAFF_LINKS[:2] if t in linkable]
    if "merchandiser" not in staff_targets:
        staff_targets = [t for t in ("welcome", "catalog") if t in linkable]
    if staff is None:
        st.page_link(linkable[staff_targets[0]], label="Staff sign-in", icon=":material/lock:")
        return
    st.subheader("Staff")
    for target in staff_targets:
        st.page_link(linkable[target])
    staff_panel(staff, idle_minutes)


def page_link(target: str, label: str, icon: str) -> None:
    """A link to one of the app's pages from inside a page, drawn only when this deployment serves it."""
    if page := (_LINKABLE.get() or {}).get(target):
        st.page_link(page, label=label, icon=icon)


def ensure_app() -> None:
    """First line of every page: when Streamlit ran the page file on its own, run the whole app instead."""
    if not _INSIDE_APP.get():
        run_app()
        st.stop()
