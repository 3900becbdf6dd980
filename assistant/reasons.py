"""A problem the engine reports as a message key and its values, so each reader gets it in their language.

Invariant: a ``Reason``'s English is ``assistant/data/messages/en.json``'s entry for its key filled with its
values (``str(reason)``); the command line, its ``--json`` output and the logs print exactly that, and a
page renders the same key from its own language's catalogue (``Messages.localized``). Values are plain text
or numbers already formatted for reading (placeholders are bare ``{name}``: a translator moves them, never
formats them); a value that is itself a ``Reason`` (a hint, a separator's name) is rendered in the same
language. No Streamlit and no Babel here: this is a leaf that errors and photos import.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

ENGLISH_MESSAGES = Path(__file__).resolve().parent / "data" / "messages" / "en.json"


@cache
def _english() -> Mapping[str, object]:
    return json.loads(ENGLISH_MESSAGES.read_text(encoding="utf-8"))


@dataclass(frozen=True)
class Reason:
    """A message key ('ingest.price_ambiguous') and the values its sentence names ({'text': "'12,50'"})."""

    key: str
    values: Mapping[str, object] = field(default_factory=dict)

    def render(self, entries: Mapping[str, object]) -> str:
        """The sentence in the catalogue ``entries`` (one language's messages)."""
        template = entries[self.key]
        if not isinstance(template, str):
            raise KeyError(f"message {self.key!r} has plural forms; a Reason needs a plain sentence")
        return template.format(**{name: _rendered(value, entries) for name, value in self.values.items()})

    def with_text(self, change: Callable[[str], str]) -> Reason:
        """The same reason with ``change`` applied to every text value (e.g. to hide a temporary folder)."""
        return Reason(self.key, {name: _changed(value, change) for name, value in self.values.items()})

    def __str__(self) -> str:
        return self.render(_english())


def _rendered(value: object, entries: Mapping[str, object]) -> object:
    return value.render(entries) if isinstance(value, Reason) else value


def _changed(value: object, change: Callable[[str], str]) -> object:
    if isinstance(value, Reason):
        return value.with_text(change)
    return change(value) if isinstance(value, str) else value


def reason_of(error: BaseException) -> Reason | str:
    """The ``Reason`` an error was raised with, or its text where it was raised with words alone."""
    first = error.args[0] if len(error.args) == 1 else None
    return first if isinstance(first, Reason) else str(error)
