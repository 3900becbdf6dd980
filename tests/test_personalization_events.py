"""Event-log loader: usual e-commerce columns mapped onto catalog products; bad rows rejected and skipped."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from assistant.personalization.events import (
    EventLogError,
    TimestampError,
    load_events,
    parse_timestamp,
    sessions_from_events,
    split_by_user,
)
from assistant.personalization.items import ItemTable


@pytest.fixture
def items() -> ItemTable:
    return ItemTable.synthetic_items(n=20, dim=16, seed=1)


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "events.csv"
    path.write_text(text, encoding="utf-8")
    return path


def load(path: Path, items: ItemTable):
    return load_events(path, dict(zip(items.skus, items.ids.tolist())), set(items.ids.tolist()))


def test_bad_rows_are_rejected_with_row_number_and_reason_and_skipped(tmp_path, items):
    path = write(
        tmp_path,
        "user_id,product_id,event_type,timestamp\n"
        "u1,SYN-00001,view,2024-05-01T10:00:00Z\n"  # row 2: good
        "u1,SYN-00001,click,2024-05-01 10:00:05\n"  # row 3: good
        "u1,NOPE-1,click,2024-05-01 10:01:00\n"  # row 4: unknown product
        "u2,SYN-00002,wishlist,2024-05-01 10:02:00\n"  # row 5: unknown event type
        ",SYN-00003,click,2024-05-01 10:03:00\n"  # row 6: no user
        "u2,SYN-00004,cart,yesterday\n"  # row 7: bad timestamp
        "u2,SYN-00005\n"  # row 8: too few fields
        "u2,3,purchase,1714557600\n",  # row 9: good, catalog product id 3, Unix seconds
    )
    log = load(path, items)
    assert [e.row for e in log.events] == [2, 3, 9]
    reasons = {r.row: r.reason for r in log.rejected}
    assert set(reasons) == {4, 5, 6, 7, 8}
    assert "'NOPE-1' is not in the catalog" in reasons[4]
    assert "unknown event type 'wishlist'" in reasons[5] and "view, click, cart, purchase" in reasons[5]
    assert "user id is empty" in reasons[6]
    assert "timestamp 'yesterday'" in reasons[7]
    assert "2 fields" in reasons[8]
    columns = {r.row: r.column for r in log.rejected}
    assert columns == {4: "product_id", 5: "event_type", 6: "user_id", 7: "timestamp", 8: "(row)"}
    assert str(log.rejected[0]).startswith("events.csv, row 4, product_id: ")
    assert log.events[2].product_id == 3 and log.events[2].event_type == "purchase"


def test_common_column_and_event_names(tmp_path, items):
    path = write(
        tmp_path,
        "timestamp,visitorid,event,itemid\n"
        "1714557600000,v9,addtocart,SYN-00002\n"
        "1714557601000,v9,transaction,SYN-00003\n",
    )
    log = load(path, items)
    assert not log.rejected
    assert [e.event_type for e in log.events] == ["cart", "purchase"]
    assert log.events[0].timestamp == pytest.approx(1714557600.0)  # milliseconds recognised


def test_missing_column_is_a_clear_error(tmp_path, items):
    with pytest.raises(EventLogError, match=r"lacks column.*event_type"):
        load(write(tmp_path, "user_id,product_id,timestamp\nu1,SYN-00001,1\n"), items)
    with pytest.raises(EventLogError, match="empty"):
        load(write(tmp_path, ""), items)


def test_a_log_that_is_a_device_is_refused_without_reading_it(items):
    with pytest.raises(EventLogError, match="character device"):
        load(Path("/dev/zero"), items)


def test_sessions_are_time_ordered_clicks_with_viewed_only_items_as_skips(tmp_path, items):
    path = write(
        tmp_path,
        "user_id,product_id,event_type,timestamp\n"
        "u1,SYN-00003,click,2024-05-01 10:00:09\n"
        "u1,SYN-00001,view,2024-05-01 10:00:00\n"
        "u1,SYN-00002,purchase,2024-05-01 10:00:05\n"
        "u1,SYN-00003,cart,2024-05-01 10:00:10\n"  # same product again: one click
        "u1,SYN-00004,view,2024-05-01 10:00:11\n"
        "u1,SYN-00002,view,2024-05-01 10:00:01\n",  # viewed, then bought: not a skip
    )
    sessions = sessions_from_events(load(path, items), items)
    assert sessions.shopper_ids == ["u1"] and not sessions.synthetic
    row = {sku: n for n, sku in enumerate(items.skus)}
    assert sessions.clicks[0].tolist() == [row["SYN-00002"], row["SYN-00003"]]
    assert sessions.skips[0].tolist() == [row["SYN-00001"], row["SYN-00004"]]


def test_user_split_is_stable_and_disjoint(items):
    from assistant.personalization.tasks import Sessions

    users = [f"user{n}" for n in range(300)]
    sessions = Sessions(users, [np.array([0, 1])] * 300, [np.zeros(0, np.int64)] * 300, [None] * 300, synthetic=False)
    parts = split_by_user(sessions, {"train": 0.8, "validation": 0.1, "test": 0.1})
    again = split_by_user(sessions.subset(list(reversed(range(300)))), {"train": 0.8, "validation": 0.1, "test": 0.1})
    assert sum(len(p) for p in parts.values()) == 300
    assert not set(parts["train"].shopper_ids) & set(parts["test"].shopper_ids)
    assert set(parts["test"].shopper_ids) == set(again["test"].shopper_ids)
    assert 150 < len(parts["train"]) < 290


def test_timestamps():
    assert parse_timestamp("2024-05-01 00:00:00 UTC") == parse_timestamp("2024-05-01T00:00:00Z") == 1714521600.0
    with pytest.raises(TimestampError):
        parse_timestamp("")


NOW = 1_800_000_000.0  # 2027-01-15


@pytest.mark.parametrize(
    "text, seconds",
    [
        ("2000-01-01T00:00:00Z", 946684800.0),  # the earliest plausible event
        ("946684800000", 946684800.0),  # the same, in milliseconds
        (str(NOW + 3600), NOW + 3600),  # an hour ahead: clock skew
    ],
)
def test_plausible_timestamps_are_accepted(text, seconds):
    assert parse_timestamp(text, now=NOW) == seconds


@pytest.mark.parametrize(
    "text, words",
    [
        ("inf", "not a finite time"),
        ("-inf", "not a finite time"),
        ("nan", "not a finite time"),
        ("1e308", "outside 2000-01-01"),
        ("-1e20", "outside 2000-01-01"),
        ("0", "outside 2000-01-01"),  # 1970: an unset clock, not an event
        ("1999-12-31T23:59:59Z", "outside 2000-01-01"),
        (str(NOW + 2 * 86400), "outside 2000-01-01 .. 2027-01-16"),
        ("9999-12-31", "outside"),
        ("2024-13-45", "neither ISO 8601 nor Unix time"),
    ],
)
def test_implausible_timestamps_are_refused_with_the_reason(text, words):
    with pytest.raises(TimestampError, match=words):
        parse_timestamp(text, now=NOW)


def test_rows_with_implausible_timestamps_are_rejected_and_the_rest_kept(tmp_path, items):
    path = write(
        tmp_path,
        "user_id,product_id,event_type,event_time\n"
        "u1,SYN-00001,click,inf\n"
        "u1,SYN-00002,click,nan\n"
        "u1,SYN-00003,click,-1e20\n"
        "u1,SYN-00004,click,2024-05-01 10:00:00\n",
    )
    log = load(path, items)
    assert [e.row for e in log.events] == [5]
    assert [(r.row, r.column) for r in log.rejected] == [(2, "event_time"), (3, "event_time"), (4, "event_time")]
    assert all("events.csv" in str(r) for r in log.rejected)
