"""Page chrome: the shop's CSS, the logo and a page header."""

from __future__ import annotations

import html
from pathlib import Path

import streamlit as st

ASSETS = Path(__file__).resolve().parents[1] / "assets"


@st.cache_data(show_spinner=False)
def _css(name: str) -> str:
    return (ASSETS / name).read_text(encoding="utf-8")


def apply_style(kiosk: bool = False) -> None:
    """Inject the shop stylesheet (and the touch-screen one on the kiosk)."""
    css = _css("style.css") + (_css("kiosk.css") if kiosk else "")
    st.html(f"<style>{css}</style>")


def show_logo() -> None:
    st.logo(str(ASSETS / "logo.svg"), icon_image=str(ASSETS / "icon.svg"), size="large")


def page_header(title: str, subtitle: str = "") -> None:
    sub = f"<p>{html.escape(subtitle)}</p>" if subtitle else ""
    st.markdown(f'<div class="shop-header"><h1>{html.escape(title)}</h1>{sub}</div>', unsafe_allow_html=True)
