"""The session's interface language: ``?lang=zh|en`` wins, then the session's choice, then ASSISTANT_LANGUAGE.

``t("key")`` / ``tn("key", n)`` read the message catalogue of the current session's language
(assistant/shop/i18n.py); ``price()`` and ``when()`` format prices and dates with its locale. The choice lives
in st.session_state, so every browser tab keeps its own language, and is mirrored in the URL so a link keeps it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TypeVar

import streamlit as st

from assistant.plaintext import markdown_literal
from assistant.reasons import Reason
from assistant.shop.display import facet_label
from assistant.shop.i18n import LANGUAGE_NAMES, Messages, language_from_env, messages, parse_language

from .resources import current_shop

SESSION_KEY = "language"
T = TypeVar("T")
#: The "All" choice of ``select_all_or_one``: an object no catalog value can equal (a category may be called "all").
ALL = type("AllChoice", (), {"__repr__": lambda self: "ALL"})()


def current_language() -> str:
    """The language of this session; reads ``?lang=`` on every run, so a deep link switches an open session."""
    from_url = parse_language(st.query_params.get("lang"))
    if from_url:
        st.session_state[SESSION_KEY] = from_url
    elif SESSION_KEY not in st.session_state:
        st.session_state[SESSION_KEY] = language_from_env()
    return st.session_state[SESSION_KEY]


def current_messages() -> Messages:
    return messages(current_language())


def t(key: str, **values: object) -> str:
    return current_messages().text(key, **values)


def tn(key: str, n: int, **values: object) -> str:
    return current_messages().count(key, n, **values)


def localized(message: Reason | str | BaseException) -> str:
    """An engine's message (why a row was rejected, an error) in the session's language."""
    return current_messages().localized(message)


def price(amount: float | None, currency: str = "") -> str:
    return current_messages().price(amount, currency)


def when(stamp: str | None) -> str:
    """A stored ISO timestamp in the session's language (UTC, as stored)."""
    return current_messages().when(stamp)


def text_or(key: str, default: str) -> str:
    """The message ``key``, or ``default`` where the catalogue has none (a name only some values have)."""
    return t(key) if key in current_messages().entries else default


def action_label(action: str) -> str:
    """An audit trail action ('category add') in the session's language; one the catalogue lacks as it is."""
    return text_or("audit.action." + action.replace(" ", "_"), action)


def field_label(name: str) -> str:
    """A product or category field ('price', 'added') as the audit trail's details name it."""
    return text_or(f"field.{name}", name)


def labelled(options: Iterable[T], label: Callable[[T], str]) -> Callable[[T], str]:
    """A widget's ``format_func`` whose words are looked up now, while the page runs in this session's language:
    Streamlit (and AppTest) may call it later, outside the run, where the session's language is unknown."""
    names = {option: label(option) for option in options}
    return lambda option: names.get(option, str(option))


def select_all_or_one(place, label: str, values: Iterable[T], name: Callable[[T], str], key: str) -> T | None:
    """A select box offering "All" (in the reader's language) then ``values`` named by ``name``; None for All."""
    choices = [ALL, *values]
    all_label = t("common.all")
    chosen = place.selectbox(
        label, choices, format_func=labelled(choices, lambda v: all_label if v == ALL else name(v)), key=key
    )
    return None if chosen == ALL else chosen


def reset_language() -> None:
    """Back to ASSISTANT_LANGUAGE (a kiosk's next shopper starts in the shop's language)."""
    st.session_state.pop(SESSION_KEY, None)
    st.query_params.pop("lang", None)


def _chinese_name(value: str) -> str | None:
    """The vocabularies' Chinese name of a facet value when the session reads Chinese; None otherwise."""
    if current_language() != "zh":
        return None
    return current_shop().chinese_facet_names().get((value or "").strip().lower())


def facet(value: str) -> str:
    """A facet value ('rose gold') as the shopper reads it: 'Rose gold', or '玫瑰金' in Chinese when the
    vocabularies name it (catalog values without a Chinese name stay as the shop wrote them)."""
    return _chinese_name(value) or facet_label(value)


def stored_facet(value: str) -> str:
    """A facet value in a staff table: its Chinese name in Chinese, else exactly as stored ('rose gold')."""
    return _chinese_name(value) or value


def facet_markdown(value: str) -> str:
    """``facet`` for places that render Markdown (pills, buttons, widget labels): shown as the shop typed it."""
    return markdown_literal(facet(value))


def _choose_language(widget_key: str) -> None:
    chosen = st.session_state.get(widget_key)
    if chosen:
        st.session_state[SESSION_KEY] = chosen
        st.query_params["lang"] = chosen


def language_switch(key: str) -> None:
    """English | 中文, for this session (and in the URL, so reloading or sharing the link keeps it)."""
    widget_key = f"{key}-language"
    st.session_state[widget_key] = current_language()
    st.segmented_control(
        "Language / 语言",
        list(LANGUAGE_NAMES),
        format_func=LANGUAGE_NAMES.get,
        key=widget_key,
        on_change=_choose_language,
        args=(widget_key,),
        required=True,
        label_visibility="collapsed",
    )
