"""Page chrome: the shop's CSS, the logo and a page header."""

from __future__ import annotations

import html
from pathlib import Path

import streamlit as st

from assistant.shop.i18n import Messages

from .i18n import current_messages

ASSETS = Path(__file__).resolve().parents[1] / "assets"


@st.cache_data(show_spinner=False)
def _css(name: str) -> str:
    return (ASSETS / name).read_text(encoding="utf-8")


#: Words Streamlit's own widgets draw in English (no option names them), by where they sit: replaced, in any
#: other language, with the message catalogue's words. A camera button holding an icon is *Clear photo*.
BUILT_IN_WORDS = {
    '[data-testid="stFileUploaderDropzone"] button [data-testid="stMarkdownContainer"] p': "widget.upload",
    '[data-testid="stFileUploaderDropzoneInstructions"] span': "widget.upload_hint",
    '[data-testid="stCameraInputButton"]:not(:has(svg))': "widget.take_photo",
    '[data-testid="stCameraInputButton"]:has(svg)': "widget.clear_photo",
    '[data-testid="stCameraInputWebcamComponent"] p': "widget.camera_permission",
}


def css_string(text: str) -> str:
    """``text`` as a CSS string literal: letters, digits, spaces and non-ASCII as they are, the rest escaped."""
    return '"' + "".join(c if c.isalnum() or c == " " or ord(c) > 0x7F else f"\\{ord(c):x} " for c in text) + '"'


def built_in_words_css(words: Messages) -> str:
    """CSS that draws the catalogue's words in place of Streamlit's English ones; nothing for English."""
    if words.language == "en":
        return ""
    size = "font-size: var(--built-in-words, .9rem);"  # the kiosk's camera button sets a larger one
    hide = "{ font-size: 0 !important; }"
    return "\n".join(
        f"{where} {hide}\n{where}::after {{ content: {css_string(words.text(key))}; {size} }}"
        for where, key in BUILT_IN_WORDS.items()
    )


def apply_style(kiosk: bool = False) -> None:
    """Inject the shop stylesheet (and the touch-screen one on the kiosk), and the session's language's words
    for Streamlit's built-in widget texts."""
    css = _css("style.css") + (_css("kiosk.css") if kiosk else "") + built_in_words_css(current_messages())
    st.html(f"<style>{css}</style>")


def show_logo() -> None:
    st.logo(str(ASSETS / "logo.svg"), icon_image=str(ASSETS / "icon.svg"), size="large")


def page_header(title: str, subtitle: str = "") -> None:
    sub = f"<p>{html.escape(subtitle)}</p>" if subtitle else ""
    st.markdown(f'<div class="shop-header"><h1>{html.escape(title)}</h1>{sub}</div>', unsafe_allow_html=True)
