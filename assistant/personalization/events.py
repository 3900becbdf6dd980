"""Real interaction logs in the usual e-commerce event format, mapped onto catalog products.

A CSV with a header and one event per row: user id, product id, event type (view, click, cart,
purchase), timestamp. Common column names are recognised (``user_id``/``visitorid``, ``product_id``/
``itemid``/``sku``, ``event_type``/``event``, ``timestamp``/``event_time``) and common event names too
(``addtocart``, ``transaction``). The product id is a catalog sku, or else a catalog product id.
Timestamps are ISO 8601 (``2024-05-01 12:00:00``, ``...Z``, ``... UTC``) or Unix seconds/milliseconds,
finite and plausible: from 2000-01-01 to one day after now. Bad rows are rejected with the file, their row
number (the header is row 1), the column and the reason, and skipped.

A shopper's clicks are the distinct products they clicked, carted or bought, in time order; their skips
are products they viewed but never clicked, carted or bought.
"""

from __future__ import annotations

import csv
import hashlib
import math
import os
import stat
import time
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from assistant.errors import AssistantError
from assistant.images import file_kind
from assistant.personalization.items import ItemTable
from assistant.personalization.tasks import Sessions

EVENT_NAMES = {
    "view": "view",
    "impression": "view",
    "detail": "view",
    "click": "click",
    "cart": "cart",
    "addtocart": "cart",
    "add_to_cart": "cart",
    "purchase": "purchase",
    "transaction": "purchase",
    "buy": "purchase",
    "order": "purchase",
}
EVENT_TYPES = ("view", "click", "cart", "purchase")
POSITIVE_EVENTS = {"click", "cart", "purchase"}
COLUMN_ALIASES = {
    "user_id": ("user_id", "userid", "user", "visitorid", "visitor_id", "customer_id"),
    "product_id": ("product_id", "productid", "item_id", "itemid", "sku", "product"),
    "event_type": ("event_type", "event", "type", "action"),
    "timestamp": ("timestamp", "event_time", "time", "ts", "datetime"),
}


#: The earliest plausible event: 2000-01-01T00:00:00Z; the latest is one day after now (clock skew).
EARLIEST_EVENT = 946684800.0
LATEST_EVENT_AHEAD = 86400.0


class EventLogError(AssistantError):
    """The file as a whole cannot be read as an event log (not a bad row: those are skipped)."""


class TimestampError(AssistantError):
    """A timestamp that is not ISO 8601 or Unix time, not finite, or outside the plausible range."""


@dataclass(frozen=True)
class Event:
    row: int
    user_id: str
    product_id: int  # catalog product id
    event_type: str
    timestamp: float  # Unix seconds


@dataclass(frozen=True)
class RejectedRow:
    """A skipped row: the log's file name, row number (the header is row 1), the column at fault, why."""

    file: str
    row: int
    column: str
    reason: str

    def __str__(self) -> str:
        return f"{self.file}, row {self.row}, {self.column}: {self.reason}"


@dataclass
class EventLog:
    path: Path
    events: list[Event] = field(default_factory=list)
    rejected: list[RejectedRow] = field(default_factory=list)

    def users(self) -> list[str]:
        return sorted({e.user_id for e in self.events})


def parse_timestamp(value: str, now: float | None = None) -> float:
    """Unix seconds from ISO 8601 text or a Unix time in seconds or milliseconds, between 2000-01-01 and a
    day after ``now`` (default: the clock); TimestampError otherwise."""
    seconds = _timestamp_seconds(value.strip())
    latest = (time.time() if now is None else now) + LATEST_EVENT_AHEAD
    if not math.isfinite(seconds):
        raise TimestampError(f"timestamp {value.strip()!r} is not a finite time")
    if not EARLIEST_EVENT <= seconds <= latest:
        raise TimestampError(
            f"timestamp {value.strip()!r} is outside 2000-01-01 .. {datetime.fromtimestamp(latest, UTC):%Y-%m-%d}: "
            "not a plausible event time"
        )
    return seconds


def _timestamp_seconds(text: str) -> float:
    if not text:
        raise TimestampError("timestamp is empty")
    try:
        number = float(text)
    except ValueError:
        pass
    else:
        return number / 1000.0 if abs(number) > 1e11 else number  # milliseconds since 1970 exceed 1e11
    try:
        stamp = datetime.fromisoformat(text.removesuffix(" UTC").replace("Z", "+00:00"))
    except ValueError:
        raise TimestampError(f"timestamp {text!r} is neither ISO 8601 nor Unix time") from None
    if stamp.tzinfo is None:
        stamp = stamp.replace(tzinfo=UTC)
    return stamp.timestamp()


def _columns(header: list[str], path: Path) -> dict[str, int]:
    names = [h.strip().lower() for h in header]
    found, missing = {}, []
    for column, aliases in COLUMN_ALIASES.items():
        match = next((names.index(a) for a in aliases if a in names), None)
        if match is None:
            missing.append(f"{column} (or {', '.join(aliases[1:])})")
        else:
            found[column] = match
    if missing:
        raise EventLogError(f"{path}: the header lacks column(s) {'; '.join(missing)}; it has: {', '.join(header)}")
    return found


def load_events(path: str | Path, skus: Mapping[str, int], product_ids: set[int] | None = None) -> EventLog:
    """Read an event log, mapping product ids onto catalog products (``skus``: sku -> product id).

    A product column value that is no sku but a catalog product id (when ``product_ids`` is given) maps
    to that product. Rows that cannot be used are recorded in ``rejected`` and skipped.
    """
    path = Path(path)
    log = EventLog(path)
    try:
        mode = os.stat(path).st_mode
        if not stat.S_ISREG(mode):  # a pipe would block, /dev/zero would never end
            raise EventLogError(f"event log {path} is {file_kind(mode)}, not a CSV file")
        handle = open(path, newline="", encoding="utf-8-sig")  # noqa: SIM115 (opened inside try for its OSError, closed by the with below)
    except OSError as exc:
        raise EventLogError(f"cannot read event log {path}: {exc}") from exc
    with handle:
        reader = csv.reader(handle)
        try:
            header = next(reader)
        except StopIteration:
            raise EventLogError(
                f"{path} is empty; it needs a header row: user_id,product_id,event_type,timestamp"
            ) from None
        except (csv.Error, UnicodeDecodeError) as exc:
            raise EventLogError(f"{path} is not a readable CSV file: {exc}") from exc
        columns = _columns(header, path)
        row_number = 1
        while True:
            row_number += 1
            try:
                row = next(reader)
            except StopIteration:
                break
            except (csv.Error, UnicodeDecodeError) as exc:
                log.rejected.append(RejectedRow(path.name, row_number, "(row)", f"unreadable CSV row ({exc})"))
                continue
            if not any(cell.strip() for cell in row):
                continue  # blank line
            event, problem = _parse_row(row, columns, skus, product_ids)
            if problem:
                column, reason = problem
                name = header[column].strip() if column >= 0 else "(row)"
                log.rejected.append(RejectedRow(path.name, row_number, name, reason))
            else:
                log.events.append(Event(row_number, *event))
    return log


def _parse_row(row: list[str], columns: dict[str, int], skus: Mapping[str, int], product_ids: set[int] | None):
    """(user, product id, event type, timestamp), None for a good row; None, (column index or -1, why) else."""
    if len(row) <= max(columns.values()):
        return None, (-1, f"has {len(row)} fields, the header needs at least {max(columns.values()) + 1}")
    user = row[columns["user_id"]].strip()
    if not user:
        return None, (columns["user_id"], "user id is empty")
    product = row[columns["product_id"]].strip()
    if product in skus:
        product_id = skus[product]
    elif product_ids is not None and product.isdigit() and int(product) in product_ids:
        product_id = int(product)
    else:
        why = f"product {product!r} is not in the catalog" if product else "product id is empty"
        return None, (columns["product_id"], why)
    raw_event = row[columns["event_type"]].strip()
    event = EVENT_NAMES.get(raw_event.lower())
    if event is None:
        why = f"unknown event type {raw_event!r} (expected one of {', '.join(EVENT_TYPES)})"
        return None, (columns["event_type"], why)
    try:
        timestamp = parse_timestamp(row[columns["timestamp"]])
    except TimestampError as exc:
        return None, (columns["timestamp"], str(exc))
    return (user, product_id, event, timestamp), None


def sessions_from_events(log: EventLog, items: ItemTable) -> Sessions:
    """One session per user: distinct clicked/carted/bought items in time order, viewed-only items as skips."""
    by_user: dict[str, list[Event]] = defaultdict(list)
    for event in log.events:
        if items.has(event.product_id):
            by_user[event.user_id].append(event)
    ids, clicks, skips = [], [], []
    for user in sorted(by_user):
        events = sorted(by_user[user], key=lambda e: (e.timestamp, e.row))
        positive = list(dict.fromkeys(items.index_of(e.product_id) for e in events if e.event_type in POSITIVE_EVENTS))
        chosen = set(positive)
        viewed = list(dict.fromkeys(items.index_of(e.product_id) for e in events if e.event_type == "view"))
        ids.append(user)
        clicks.append(np.array(positive, dtype=np.int64))
        skips.append(np.array([v for v in viewed if v not in chosen], dtype=np.int64))
    return Sessions(ids, clicks, skips, [None] * len(ids), synthetic=False)


def split_by_user(sessions: Sessions, fractions: Mapping[str, float], salt: str = "") -> dict[str, Sessions]:
    """Disjoint splits by a stable hash of the user id (the same user always lands in the same split)."""
    names = list(fractions)
    edges = np.cumsum([fractions[n] for n in names]) / sum(fractions.values())
    rows: dict[str, list[int]] = {n: [] for n in names}
    for r, user in enumerate(sessions.shopper_ids):
        h = int.from_bytes(hashlib.sha256(f"{salt}{user}".encode()).digest()[:8], "big") / 2**64
        rows[names[int(np.searchsorted(edges, h, side="right"))]].append(r)
    return {n: sessions.subset(rows[n]) for n in names}
