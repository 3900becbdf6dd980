"""The app's UI-agnostic helpers in assistant/: price and facts wording, kiosk rules, staging uploads."""

from __future__ import annotations

import pytest

from assistant.catalog import Product
from assistant.catalog.ingest import IngestError
from assistant.catalog.upload import stage_photos
from assistant.errors import SettingsError
from assistant.shop.display import format_price, is_synthetic, product_facts
from assistant.shop.kiosk import DEFAULT_IDLE_SECONDS, ENV_IDLE_SECONDS, KioskSession, idle_seconds_from_env


@pytest.mark.parametrize(
    ("price", "currency", "language", "shown"),
    [
        (1250, "USD", "en", "$1,250"),
        (523.4, "usd", "en", "$523.40"),
        (80, "CHF", "en", "CHF\u00a080"),
        (80, "GOLDBARS", "en", "80 GOLDBARS"),
        (None, "EUR", "en", "Price on request"),
        (9.5, "", "en", "9.50"),
        (1250, "CNY", "zh", "¥1,250"),
        (1250, "USD", "zh", "US$1,250"),
        (523.4, "CNY", "en", "CN¥523.40"),
        (None, "CNY", "zh", "价格面议"),
    ],
)
def test_format_price_per_currency_and_locale(price, currency, language, shown):
    assert format_price(price, currency, language) == shown


def test_product_facts_leave_out_what_is_unknown():
    ring = Product(id=1, sku="SYN-00001", title="t", category="ring", metal="rose gold", stone="none")
    assert product_facts(ring) == "Ring · Rose gold"
    assert is_synthetic(ring) and not is_synthetic(Product(id=2, sku="R-1", title="t"))


def test_idle_seconds_from_the_environment():
    assert idle_seconds_from_env({}) == DEFAULT_IDLE_SECONDS
    assert idle_seconds_from_env({ENV_IDLE_SECONDS: " 45 "}) == 45.0
    for bad in ("soon", "0.5", "nan", "-3"):
        with pytest.raises(SettingsError, match=ENV_IDLE_SECONDS):
            idle_seconds_from_env({ENV_IDLE_SECONDS: bad})


def test_kiosk_session_goes_idle_and_resets():
    session = KioskSession(idle_seconds=60, last_activity=100.0)
    session.add("A")
    session.add("B")
    session.add("A")  # an impatient second tap adds nothing
    assert session.shortlist == ["A", "B"]
    session.remove("A")
    session.remove("A")
    assert session.shortlist == ["B"]
    assert not session.is_idle(now=159.9) and session.is_idle(now=160.0)
    old_key = session.widget_key("camera")
    session.reset(now=170.0)
    assert session.shortlist == [] and session.widget_key("camera") != old_key and not session.is_idle(now=229.0)


def test_staged_uploads_keep_only_file_names(tmp_path):
    images = stage_photos([("C:\\shoot\\a.png", b"1"), ("b.jpg", b"2")], tmp_path)
    assert sorted(p.name for p in images.iterdir()) == ["a.png", "b.jpg"]


@pytest.mark.parametrize(
    ("photos", "problem"),
    [
        ([("a.png", b"1"), ("x/a.png", b"2")], "both named 'a.png'"),
        ([("photos.zip", b"z"), ("a.png", b"1")], "one .zip"),
        ([(".hidden", b"1")], "no usable file name"),
    ],
)
def test_staging_refuses_ambiguous_uploads(tmp_path, photos, problem):
    with pytest.raises(IngestError, match=problem):
        stage_photos(photos, tmp_path)
