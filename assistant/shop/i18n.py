"""The shop's words in English and Chinese: one message catalogue per language, plurals and prices by locale.

Invariant: every string a shopper reads comes from ``assistant/data/messages/<language>.json`` through
``Messages``; both catalogues hold the same keys and placeholders (a test checks), so a missing translation
is a failing test, not an English word on a Chinese screen. A message is a string with ``{name}``
placeholders, or for counts an object of CLDR plural forms (``one``, ``other``) chosen by Babel.
No Streamlit here: the app picks the language per session (ui/i18n.py), everything else is a rule.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from pathlib import Path

from babel import Locale
from babel.dates import format_date, format_time
from babel.numbers import format_currency, format_decimal, is_currency

from assistant.errors import SettingsError
from assistant.reasons import Reason, reason_of

MESSAGES_DIR = Path(__file__).resolve().parents[1] / "data" / "messages"
ENV_LANGUAGE = "ASSISTANT_LANGUAGE"
#: Interface languages and the Babel locale each formats numbers, prices and dates with.
LOCALES = {"en": "en_US", "zh": "zh_Hans_CN"}
LANGUAGE_NAMES = {"en": "English", "zh": "中文"}
DEFAULT_LANGUAGE = "en"
#: A currency symbol made of letters directly before the amount ('CHF80'): CLDR's currency spacing wants a space.
_LETTER_SYMBOL_BEFORE_NUMBER = re.compile(r"^([^\W\d_]+)(?=[-\d])")


def parse_language(value: str | None) -> str | None:
    """'zh', 'zh-CN', 'ZH_hans' -> 'zh'; 'en-GB' -> 'en'; anything else (or nothing) -> None."""
    code = (value or "").strip().lower().replace("_", "-").split("-")[0]
    return code if code in LOCALES else None


def language_from_env(environ: Mapping[str, str] = os.environ) -> str:
    """The interface language a new session starts in: ASSISTANT_LANGUAGE (en or zh), English by default."""
    raw = environ.get(ENV_LANGUAGE, "").strip()
    if not raw:
        return DEFAULT_LANGUAGE
    language = parse_language(raw)
    if language is None:
        raise SettingsError(f"{ENV_LANGUAGE}={raw!r}: the interface speaks {' or '.join(LOCALES)}")
    return language


@dataclass(frozen=True)
class Messages:
    """One language's message catalogue: ``text(key, **values)`` and ``count(key, n, **values)``."""

    language: str
    entries: Mapping[str, str | Mapping[str, str]]

    @property
    def locale(self) -> Locale:
        return Locale.parse(LOCALES[self.language])

    def text(self, key: str, **values: object) -> str:
        entry = self.entries[key]
        if not isinstance(entry, str):
            raise KeyError(f"message {key!r} needs a count; use count()")
        return entry.format(**values) if values else entry

    def count(self, key: str, n: int, **values: object) -> str:
        """A message about n things in the language's plural form; ``{n}`` is the number, formatted."""
        forms = self.entries[key]
        if isinstance(forms, str):
            raise KeyError(f"message {key!r} has no plural forms; use text()")
        form = self.locale.plural_form(n)
        template = forms.get(form, forms["other"])
        return template.format(n=format_decimal(n, locale=self.locale), **values)

    def reason(self, reason: str) -> str:
        """A reason from the personaliser in this language (catalog words inside it stay as the shop wrote them)."""
        known = reason_message(reason)
        return self.text(known[0], **known[1]) if known else reason

    def localized(self, message: Reason | str | BaseException) -> str:
        """An engine's message (a rejected row's reason, an error) in this language: a ``Reason`` from this
        catalogue, plain words (raised without a key) as they are."""
        reason = reason_of(message) if isinstance(message, BaseException) else message
        return reason.render(self.entries) if isinstance(reason, Reason) else str(reason)

    def when(self, stamp: str | None) -> str:
        """A stored ISO timestamp as people read it, in UTC as stored: 'Nov 30, 2026, 7:14 AM' /
        '2026年11月30日 07:14'; a stamp that is not a date is shown as it is."""
        try:
            moment = datetime.fromisoformat(stamp or "")
        except (TypeError, ValueError):
            return stamp or ""
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        moment = moment.astimezone(UTC)
        date_text = format_date(moment.date(), "medium", locale=self.locale)
        time_text = format_time(moment, "short", tzinfo=UTC, locale=self.locale)
        return self.locale.datetime_formats["medium"].format(time_text, date_text)

    def price(self, amount: float | None, currency: str = "") -> str:
        """'$1,250' / 'US$1,250' / '¥523.40': whole amounts without decimals, in the locale's pattern;
        a currency code Babel does not know goes after the amount as the shop wrote it."""
        if amount is None:
            return self.text("price.on_request")
        code = (currency or "").strip().upper()
        whole = float(amount).is_integer()
        if not is_currency(code):
            number = format_decimal(amount, format="#,##0" if whole else "#,##0.00", locale=self.locale)
            return f"{number} {currency.strip()}".strip()
        pattern = self.locale.currency_formats["standard"].pattern
        if whole:
            pattern = pattern.replace(".00", "")
        text = format_currency(amount, code, format=pattern, locale=self.locale, currency_digits=False)
        return _LETTER_SYMBOL_BEFORE_NUMBER.sub("\\1\u00a0", text)  # 'CHF80' -> 'CHF 80', as CLDR spacing asks


#: The explainer's reasons (assistant/personalization/explain.py), read back into message keys and values.
_REASONS = [
    (re.compile(r"^matches your search$"), "reason.search"),
    (re.compile(r"^in your price range$"), "reason.price"),
    (re.compile(r"^popular with shoppers$"), "reason.popular"),
    (re.compile(r"^looks like the (?P<piece>.+) you liked$"), "reason.looks_like"),
    (re.compile(r"^(?P<value>.+), like your pick$"), "reason.like_pick"),
    (re.compile(r"^(?P<value>.+), like all (?P<n>\d+) of your picks$"), "reason.like_all"),
    (re.compile(r"^(?P<value>.+), like (?P<n>\d+) of your picks$"), "reason.like_some"),
]


def reason_message(reason: str) -> tuple[str, dict[str, str]] | None:
    """('reason.like_some', {'value': 'rose gold', 'n': '3'}) for 'rose gold, like 3 of your picks'; None if unknown."""
    for pattern, key in _REASONS:
        if found := pattern.match(reason):
            return key, found.groupdict()
    return None


@cache
def messages(language: str) -> Messages:
    """The catalogue of a supported language, read once per process."""
    if language not in LOCALES:
        raise SettingsError(f"no interface messages for language {language!r}")
    path = MESSAGES_DIR / f"{language}.json"
    return Messages(language, json.loads(path.read_text(encoding="utf-8")))
