"""Catalog values leave the program as inert text: in Markdown, in CSV cells, on a terminal.

Invariant: a value that came from a CSV, a form or a file (a title, a facet, a category name, a rejected row)
is passed through one of these functions wherever it meets a reader that interprets text: ``markdown_literal``
before Streamlit's Markdown (widget labels, pills, buttons, captions, messages), ``html_text`` inside HTML,
``csv_cell`` / ``csv_text``
for every CSV the app or the CLI writes (no spreadsheet formulas), ``terminal_text`` for what the CLI prints
(no escape sequences, no bidirectional overrides).
"""

from __future__ import annotations

import csv
import html
import io
import re
import unicodedata
from collections.abc import Iterable, Sequence

#: Every ASCII punctuation character may be backslash-escaped in CommonMark; escaping all of them leaves no
#: emphasis, link, image, code, heading, list, table, math ($), directive (:red[...]) or shortcode (:smile:).
_MARKDOWN_SPECIAL = re.compile(r"([!-/:-@\[-`{-~])")
#: A cell a spreadsheet would run as a formula (OWASP CSV injection): these first characters start one.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
#: Unicode format characters that reorder or hide text on a terminal (Trojan Source), besides the C0/C1 controls.
_BIDI_CONTROLS = frozenset("\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


def markdown_literal(text: object) -> str:
    """``text`` as Markdown that renders as exactly these characters (newlines become spaces)."""
    flat = " ".join(str(text).split())
    return _MARKDOWN_SPECIAL.sub(r"\\\1", flat)


def html_text(text: object) -> str:
    """``text`` for inside an HTML element of a Markdown block: escaped, and on one line (a blank line would
    end the HTML block and let Markdown after it render)."""
    return html.escape(" ".join(str(text).split()))


def csv_cell(value: object) -> object:
    """A value as a spreadsheet shows it but never runs it: text starting a formula gets a leading apostrophe."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def csv_text(header: Sequence[str], rows: Iterable[Sequence[object]]) -> str:
    """A whole CSV document with every cell (header included) neutralised by ``csv_cell``."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow([csv_cell(h) for h in header])
    writer.writerows([csv_cell(v) for v in row] for row in rows)
    return out.getvalue()


def _is_control(char: str) -> bool:
    return unicodedata.category(char) == "Cc" or char in _BIDI_CONTROLS


def terminal_text(text: object, keep: str = "") -> str:
    """``text`` without control characters (ESC sequences, BEL, backspace, C1, bidi overrides); the
    characters in ``keep`` (e.g. newline) stay."""
    return "".join(c for c in str(text) if c in keep or not _is_control(c))
