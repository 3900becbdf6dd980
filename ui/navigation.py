"""The app's pages and navigation (``run_app``, what app.py runs), and the guard every page in app_pages/ starts with.

Who sees what is decided here, before any page runs: ``assistant.staff.pages.routes`` maps every URL to a
page for this deployment (``ASSISTANT_PAGES``) and catalog; a staff page runs only for signed-in staff and
a signed-out visit gets the sign-in form in its place (``ui.staff``), so none of the page's own code, counts
or controls reach the browser. The navigation links are drawn here too; the kiosk gets no sidebar at all.

Any other URL (a typo, an old bookmark, anything typed into a kiosk's address bar) shows the default page as
the bare address does, with no "page not found" notice. The page files live in ``app_pages/``, not
``pages/``: Streamlit treats a ``pages/`` folder beside app.py as a multipage app of its own, whose first run
on a fresh server lists the files raw and answers an unknown URL with that notice before app.py runs.
``ensure_app()`` still guards a page file run on its own (``streamlit run app_pages/kiosk.py``): it runs
the whole app instead.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from contextvars import ContextVar

import streamlit as st
from streamlit.runtime.scriptrunner import get_script_run_ctx

from assistant.catalog.audit import acting_as
from assistant.errors import AssistantError, SettingsError
from assistant.plaintext import markdown_literal
from assistant.staff.accounts import StaffAccounts
from assistant.staff.pages import CLOSED, KIOSK, STAFF, URLS, Route, page_sets_from_env, routes
from assistant.staff.session import StaffSession, idle_minutes_from_env
from ui.first_run import setup_problem_page
from ui.i18n import current_language, t, text_or
from ui.resources import current_shop
from ui.staff import current_staff, sign_in_page, staff_panel
from ui.style import apply_style, page_header, show_logo

PAGES = {  # target: (file, title, icon)
    "shop": ("app_pages/shop.py", "Shop", ":material/storefront:"),
    "kiosk": ("app_pages/kiosk.py", "Kiosk", ":material/touch_app:"),
    "merchandiser": ("app_pages/merchandiser.py", "Merchandiser", ":material/sell:"),
    "catalog": ("app_pages/catalog.py", "Catalog", ":material/inventory_2:"),
    "welcome": ("app_pages/welcome.py", "Get started", ":material/auto_awesome:"),
}
SHOPPER_LINKS = ("shop", "kiosk")
#: The audit trail's name for anyone not signed in (shopper pages write nothing to the catalog).
VISITOR = "visitor (not signed in)"
STAFF_LINKS = ("merchandiser", "catalog", "welcome")
#: Along the top: .streamlit/config.toml turns Streamlit's own sidebar navigation off, which hides any sidebar
#: navigation.
NAV_POSITION = "top"

#: True while ``run_app`` runs the chosen page (per script thread, so sessions do not see each other's runs).
_INSIDE_APP: ContextVar[bool] = ContextVar("inside_run_app", default=False)
#: The page objects of this run by target, for links from inside pages (``page_link``).
_LINKABLE: ContextVar[dict[str, st.Page] | None] = ContextVar("linkable_pages", default=None)


def closed_page() -> None:
    """A public page while the catalog is still empty: nothing about the server, no sign-in."""
    page_header(t("app.closed_title"), t("app.closed_text"))


def _title(target: str, title: str) -> str:
    """A page's title in the session's language (the English one where the catalogue has none)."""
    return text_or(f"nav.{target}", title)


def _page(route: Route, target: Callable[[], None] | str, title: str, icon: str, visible: bool = True) -> st.Page:
    visibility = "visible" if visible else "hidden"
    return st.Page(target, title=title, icon=icon, url_path=route.url, default=route.default, visibility=visibility)


def _run_everywhere(show: Callable[[], None], title: str) -> None:
    """Every URL of the app shows ``show`` (a setup problem, or a closed shop) instead of "page not found"."""
    st.navigation(
        [_page(Route(url, url, default=n == 0), show, title, ":material/warning:") for n, url in enumerate(URLS)],
        position="hidden",
    ).run()


def run_app() -> None:
    """Page setup, the deployment's pages, the setup checks, the staff check, then the page the URL asks for."""
    try:
        current_language()
    except SettingsError as problem:  # a kiosk set up with a language the shop does not speak says so
        st.error(markdown_literal(problem))
        st.stop()
    st.set_page_config(page_title=t("app.title"), page_icon=":material/diamond:", layout="wide")
    try:
        page_sets = page_sets_from_env()
    except AssistantError as problem:
        message = markdown_literal(problem)
        return _run_everywhere(lambda: st.error(message), t("nav.setup"))
    try:
        with st.spinner(t("loading.shop")):  # the first visit of a server loads the model and opens the catalog
            shop = current_shop()
        idle_minutes = idle_minutes_from_env()
    except AssistantError as problem:
        # Every URL of the app (a bookmarked /kiosk too) shows the explanation; paths only where staff work.
        return _run_everywhere(setup_problem_page(problem, details=STAFF in page_sets), t("nav.setup"))

    app_routes = routes(page_sets, has_products=shop.catalog.count() > 0)
    accounts = StaffAccounts.of_catalog(shop.catalog)  # with the catalog: a shared database's for every server
    staff = current_staff(accounts, idle_minutes) if STAFF in page_sets else None
    pages, menu = _pages(app_routes, staff)
    _show_unknown_urls_as_the_default_page(pages.values())
    without_menu = all(r.target in (KIOSK, CLOSED) for r in app_routes)  # a kiosk machine, or a closed shop
    chosen = st.navigation(menu, position="hidden" if without_menu else NAV_POSITION)
    route = next(r for r in app_routes if pages[r.url] is chosen)
    on_kiosk = route.target == KIOSK
    apply_style(kiosk=on_kiosk)  # before anything is drawn: the kiosk never shows navigation, not even briefly
    show_logo()
    if not on_kiosk and route.target != CLOSED:
        if staff is not None:
            with st.container(horizontal=True, horizontal_alignment="right", key="staff-bar"):
                staff_panel(staff, idle_minutes)
        if shop.embedder.spec.evaluation_note:  # a model that is only fit for evaluation says so
            st.sidebar.caption(markdown_literal(shop.embedder.spec.evaluation_note))

    linkable = {r.target: pages[r.url] for r in app_routes if r.url == r.target}
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


def _show_unknown_urls_as_the_default_page(pages: Iterable[st.Page]) -> None:
    """A URL the app has no page for shows the default page as the bare address does. ``st.navigation`` would
    run the default page too, but under a "Page not found" notice; asking it for no page in particular gets the
    default page without one. The default page's own name counts as unknown here: Streamlit serves it at the
    bare address only (``/kiosk`` on a kiosk-only server, ``/shop`` on a shop). (Streamlit keeps the page a
    visitor asked for in the session's pages manager; it has no public setting for this.)"""
    ctx = get_script_run_ctx()
    if ctx is None:  # not inside a Streamlit run (bare mode): there is no visitor to show a notice to
        return
    manager = ctx.pages_manager
    asked = manager.intended_page_name
    if asked and not manager.intended_page_script_hash and asked not in {page.url_path for page in pages}:
        manager.set_script_intent("", "")


def _staff_links(served: set[str]) -> list[str]:
    """With products: Merchandiser and Catalog; while the catalog is empty: Get started and Catalog."""
    if "merchandiser" in served:
        return [t for t in STAFF_LINKS[:2] if t in served]
    return [t for t in ("welcome", "catalog") if t in served]


def _pages(app_routes: list[Route], staff: StaffSession | None) -> tuple[dict[str, st.Page], dict[str, list]]:
    """Every URL's page, and the top menu: the Shop section, then the Staff section with the staff pages for
    signed-in staff or, for anyone else, only a "Staff sign-in" link to the first staff page. Other URLs are
    routed but not listed (Streamlit would draw a list outside the sections first, left of Shop)."""
    served = {r.target for r in app_routes if r.url == r.target}
    staff_links = _staff_links(served) if staff is not None else _staff_links(served)[:1]  # one sign-in link
    pages: dict[str, st.Page] = {}
    menu: dict[str, list] = {t("nav.shop_section"): [], t("nav.staff_section"): [], "": []}
    for route in app_routes:
        listed = route.url == route.target and route.target in (*SHOPPER_LINKS, *staff_links)
        if route.target == CLOSED:
            title, icon, target = t("app.closed_title"), ":material/storefront:", closed_page
        else:
            target, title, icon = PAGES[route.target]
            title = _title(route.target, title)
        if listed and route.staff_only and staff is None:
            title, icon = t("nav.sign_in"), ":material/lock:"
        page = _page(route, target, title, icon, visible=listed)
        pages[route.url] = page
        if not listed:
            section = ""
        else:
            section = t("nav.shop_section") if route.target in SHOPPER_LINKS else t("nav.staff_section")
        menu[section].append(page)
    return pages, {name: section for name, section in menu.items() if section}


def page_link(target: str, label: str, icon: str) -> None:
    """A link to one of the app's pages from inside a page, drawn only when this deployment serves it."""
    if page := (_LINKABLE.get() or {}).get(target):
        st.page_link(page, label=label, icon=icon)


def ensure_app() -> None:
    """First line of every page: when the page file was run on its own, run the whole app instead."""
    if not _INSIDE_APP.get():
        run_app()
        st.stop()
