"""Which pages a deployment serves (``ASSISTANT_PAGES``) and what every URL of the app shows.

Invariants: every URL the app knows is always routed, so a bookmarked staff URL on a public server shows the
default page instead of "page not found"; a URL routes to a staff page only when the deployment serves
``staff``; a kiosk-only deployment routes every URL to the kiosk; an empty catalog routes shopper URLs to the
set-up page (staff) or to a "closed" page (no staff pages served).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

from assistant.errors import SettingsError

ENV_PAGES = "ASSISTANT_PAGES"
SHOP, KIOSK, STAFF = "shop", "kiosk", "staff"
PAGE_SETS = (SHOP, KIOSK, STAFF)
#: Every URL path of the app, shopper pages first.
URLS = ("shop", "kiosk", "merchandiser", "catalog", "welcome")
#: Pages only signed-in staff may open.
STAFF_TARGETS = frozenset({"merchandiser", "catalog", "welcome"})
#: The page a shopper URL shows while the catalog is empty and no staff page is served.
CLOSED = "closed"


def page_sets_from_env(environ: Mapping[str, str] = os.environ) -> frozenset[str]:
    """The page sets named in ASSISTANT_PAGES (a comma list of shop, kiosk, staff; all three when unset)."""
    raw = environ.get(ENV_PAGES, "").strip()
    if not raw:
        return frozenset(PAGE_SETS)
    named = {part.strip().lower() for part in raw.split(",") if part.strip()}
    unknown = named - set(PAGE_SETS)
    if unknown or not named:
        raise SettingsError(
            f"{ENV_PAGES}={raw!r}: name one or more of {', '.join(PAGE_SETS)} (comma separated); "
            f"unknown: {', '.join(sorted(unknown)) or 'none given'}"
        )
    return frozenset(named)


@dataclass(frozen=True)
class Route:
    """URL ``url`` shows page ``target``; ``default`` marks the page of the bare address."""

    url: str
    target: str
    default: bool = False

    @property
    def staff_only(self) -> bool:
        return self.target in STAFF_TARGETS


def routes(page_sets: frozenset[str], has_products: bool) -> list[Route]:
    """One route per URL of the app for this deployment and catalog state."""
    if has_products:
        served = [u for u, s in (("shop", SHOP), ("kiosk", KIOSK)) if s in page_sets]
        if STAFF in page_sets:
            served += ["merchandiser", "catalog", "welcome"]
        default = next(u for u in ("shop", "kiosk", "catalog") if u in served)
    elif STAFF in page_sets:
        served, default = ["welcome", "catalog"], "welcome"
    else:
        served, default = [], CLOSED
    default_url = default if default in URLS else URLS[0]
    return [Route(url, url if url in served else default, default=url == default_url) for url in URLS]
