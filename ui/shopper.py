"""The shopper's likes and passes for this browser session, and the "for you" ordering they drive.

The ShopperSession (assistant.personalization) lives in st.session_state, so every browser tab is its
own shopper and nothing about a shopper is stored on the server's disk.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import streamlit as st

from assistant.catalog import Filters, Hit
from assistant.personalization.serving import ShopperSession

from .cards import Card
from .resources import Shop

SESSION_KEY = "shopper"


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


def for_you(
    shop: Shop, session: ShopperSession, hits: Sequence[Hit] | None, query: np.ndarray | None, filters: Filters, k: int
) -> list[Card]:
    """The "for you" ordering: search hits (or the filtered catalog) re-ranked by the shopper's likes and
    passes, with the reasons; passed products are left out."""
    if hits is not None:
        candidates = [h.product.id for h in hits]
    else:
        candidates = None if filters.is_empty() else shop.catalog.ids_matching(filters).tolist()
    ranked = session.rank(candidates, query_vector=query, k=k + len(session.skips))
    ranked = [r for r in ranked if r.product_id not in session.skips][:k]
    products = {p.id: p for p in shop.catalog.get([r.product_id for r in ranked])}
    match = {h.product.id: h.score for h in hits or []}
    return [
        Card(products[r.product_id], match.get(r.product_id), reasons=r.reasons)
        for r in ranked
        if r.product_id in products
    ]


def like_pass_buttons(session: ShopperSession, card: Card) -> None:
    """Like / Pass under a card; callbacks update the session before the page reruns, so the order follows."""
    pid = card.product.id
    liked = pid in session.likes
    with st.container(horizontal=True, gap="small"):
        st.button(
            "Liked" if liked else "Like",
            key=f"like-{pid}",
            icon=":material/favorite:" if liked else ":material/favorite_border:",
            type="primary" if liked else "secondary",
            on_click=session.like,
            args=(pid,),
            width="stretch",
        )
        st.button(
            "Pass", key=f"pass-{pid}", icon=":material/close:", on_click=session.skip, args=(pid,), width="stretch"
        )


def taste_panel(shop: Shop, session: ShopperSession) -> None:
    """Sidebar summary of the shopper's picks, with a reset."""
    personalizer, problem = shop.personalizer()
    st.header("Your taste")
    if session.likes or session.skips:
        st.markdown(f"{len(session.likes)} liked · {len(session.skips)} passed")
        st.button("Reset my likes", key="shop-reset", icon=":material/restart_alt:", on_click=session.reset)
    else:
        st.markdown("Tap **Like** or **Pass** on a few pieces: *For you* adapts after every tap.")
    st.caption(personalizer.description[:1].upper() + personalizer.description[1:])
    if problem:
        st.warning(problem)
