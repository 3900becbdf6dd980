"""Redraw only what a tap changed.

A button inside an ``st.fragment`` reruns only that fragment. The shop's and the kiosk's cards are fragments
of their own (``ui.cards.product_grid(..., redrawn=...)``), so a tap on a card's button redraws that card
alone; whatever else the tap changed (the likes tray, the "Updated for you" band, other cards' reasons, the
kiosk's shortlist) its callback names with ``redraw(keys)``, which reruns exactly those fragments instead.

Invariant: the page after a tap looks as it would after a full run. In a full run (a page load, AppTest)
``redraw`` does nothing, because everything is drawn anyway.
"""

from __future__ import annotations

from collections.abc import Sequence

import streamlit as st
from streamlit.runtime.scriptrunner import get_script_run_ctx


def redraw(keys: Sequence[str]) -> None:
    """From a button callback: rerun the fragments keyed ``keys`` (``@st.fragment(key=...)``) in place of the
    tapped fragment alone. Ends the callback (``st.rerun``) when it reruns anything, so call it last."""
    ctx = get_script_run_ctx()
    if keys and ctx is not None and ctx.fragment_ids_this_run:  # only part of the page reruns for this tap
        st.rerun(list(dict.fromkeys(keys)))
