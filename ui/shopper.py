"""The shopper's likes and passes for this browser session, the results listing they act on, and the tray.

The ShopperSession (assistant.personalization) lives in st.session_state, so every browser tab is its
own shopper and nothing about a shopper is stored on the server's disk. A like or a pass changes the
buttons and the "Updated for you" band, never the order of the grid the shopper is looking at
(assistant.shop.results.Listing); every tap is idempotent (liking twice is one like).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import streamlit as st

from assistant.catalog import Product
from assistant.personalization.serving import ShopperSession
from assistant.plaintext import markdown_literal
from assistant.shop.results import Listing

from .cards import Card, product_thumbnail
from .i18n import current_messages, t, tn
from .product_page import open_product
from .resources import Shop

SESSION_KEY = "shopper"
#: Pieces in the "Updated for you" band.
UPDATED_FOR_YOU = 4


def shopper_session(shop: Shop) -> ShopperSession:
    """This browser session's shopper; a newly trained personaliser takes over the likes and passes so far."""
    personalizer, _ = shop.personalizer()
    session: ShopperSession | None = st.session_state.get(SESSION_KEY)
    if session is None or session.personalizer is not personalizer or session.catalog is not shop.catalog:
        fresh = personalizer.session(shop.catalog)
        if session is not None:
            fresh.likes, fresh.skips = list(session.likes), list(session.skips)
        st.session_state[SESSION_KEY] = session = fresh
    return session


def listing(
    key: str, signature: tuple, build: Callable[[], tuple[list[int], tuple[str, int | None]]], page_size: int
) -> Listing:
    """The session's listing for this search; ``build`` (the order and the heading's summary) runs only when
    the search (its signature) changed, so likes and passes never reorder what the shopper sees."""
    current: Listing | None = st.session_state.get(key)
    if current is None or current.signature != signature:
        ids, summary = build()
        current = Listing(signature, ids, page_size, summary)
        st.session_state[key] = current
    return current


def for_you_order(
    session: ShopperSession, candidates: Sequence[int] | None, query: np.ndarray | None, k: int
) -> list[int]:
    """Candidates (or the whole catalog) best first for this shopper, passed pieces left out."""
    ranked = session.rank(candidates, query_vector=query, k=k + len(session.skips))
    return [r.product_id for r in ranked if r.product_id not in session.skips][:k]


def strongest_reasons(session: ShopperSession, ids: Sequence[int], query: np.ndarray | None) -> dict[int, list[str]]:
    """Each piece's reasons, strongest first; none for a piece the shopper liked (it explains itself)."""
    if not ids or not (session.likes or query is not None):
        return {}
    ranked = session.rank(list(ids), query_vector=query, k=None)
    words = current_messages()
    return {r.product_id: [words.reason(x) for x in r.reasons] for r in ranked if r.product_id not in session.likes}


def shown_reasons(session: ShopperSession, ids: Sequence[int], query: np.ndarray | None) -> dict[int, list[str]]:
    """The one reason each card shows: its strongest (none for a piece without one)."""
    return {pid: reasons[:1] for pid, reasons in strongest_reasons(session, ids, query).items() if reasons}


def shop_card(session: ShopperSession, product: Product, reasons: dict[int, list[str]]) -> Card:
    """A card with its reason from ``reasons`` (``shown_reasons``); a passed piece stays in place, dimmed."""
    return Card(product, reasons=reasons.get(product.id, []), dimmed=product.id in session.skips)


def shop_cards(session: ShopperSession, products: Sequence[Product], query: np.ndarray | None) -> list[Card]:
    """Cards with one reason each (the strongest); passed pieces stay in place, dimmed."""
    reasons = shown_reasons(session, [p.id for p in products], query)
    return [shop_card(session, p, reasons) for p in products]


def updated_for_you(
    session: ShopperSession, candidates: Sequence[int] | None, query: np.ndarray | None, showing: Sequence[int]
) -> list[int]:
    """After a like: the best pieces for this shopper that are not on screen, liked or passed yet."""
    if not session.likes:
        return []
    seen = set(showing) | set(session.likes) | set(session.skips)
    ranked = session.rank(candidates, query_vector=query, k=UPDATED_FOR_YOU + len(seen))
    return [r.product_id for r in ranked if r.product_id not in seen][:UPDATED_FOR_YOU]


def like_pass_buttons(
    session: ShopperSession, product: Product, key: str, after: Callable[[int], None] | None = None
) -> None:
    """Like / Pass: callbacks update the session before the rerun; a second tap changes nothing. ``after``
    (given the product id) runs after the change, in the callback: it redraws what else the tap changed."""
    pid = product.id
    liked, passed = pid in session.likes, pid in session.skips
    with st.container(horizontal=True, gap="small"):
        st.button(
            t("like.liked") if liked else t("like.like"),
            key=f"like-{key}-{pid}",
            icon=":material/favorite:" if liked else ":material/favorite_border:",
            type="primary" if liked else "secondary",
            on_click=_tap,
            args=(session.like, pid, after),
            width="stretch",
        )
        st.button(
            t("like.passed") if passed else t("like.pass"),
            key=f"pass-{key}-{pid}",
            icon=":material/close:",
            on_click=_tap,
            args=(session.skip, pid, after),
            disabled=passed,
            width="stretch",
        )


def _tap(change: Callable[[int], None], product_id: int, after: Callable[[int], None] | None) -> None:
    change(product_id)
    if after is not None:
        after(product_id)


def likes_tray(
    shop: Shop,
    session: ShopperSession,
    after: Callable[[int], None] | None = None,
    on_open: Callable[[Product], None] = open_product,
    on_reset: Callable[[], None] | None = None,
) -> None:
    """The pieces this shopper liked, in the order liked, each with a way back to it and a way to take it back.
    ``after`` runs after an unlike (given the product id), ``on_reset`` after *Start over*, in the callback."""
    products = shop.catalog.get(session.likes)
    with st.expander(tn("likes.tray", len(products)), icon=":material/favorite:", key="shop-likes-tray"):
        if not products:
            st.markdown(t("likes.empty"))
        grid = st.grid(6, min_column_width=110, gap="small")
        for product in products:
            with grid.container(key=f"tray-{product.id}"):
                st.image(product_thumbnail(shop.catalog, product, 240), width="stretch", alt=product.title)
                st.button(
                    markdown_literal(product.title),
                    key=f"tray-open-{product.id}",
                    type="tertiary",
                    on_click=on_open,
                    args=(product,),
                )
                st.button(
                    t("likes.remove"),
                    key=f"unlike-{product.id}",
                    icon=":material/heart_minus:",
                    on_click=_tap,
                    args=(session.unlike, product.id, after),
                    width="stretch",
                )
        if session.likes or session.skips:
            st.button(
                t("likes.reset"),
                key="shop-reset",
                icon=":material/restart_alt:",
                on_click=_reset,
                args=(session, on_reset),
            )


def _reset(session: ShopperSession, after: Callable[[], None] | None) -> None:
    session.reset()
    if after is not None:
        after()
