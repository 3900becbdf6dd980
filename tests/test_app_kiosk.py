"""Kiosk page: camera search without typing, nothing written to disk, shortlist for staff, idle reset."""

from __future__ import annotations

import tempfile
import time
import uuid

import pytest
from app_support import camera_photo, card_titles, folder_snapshot, rerun, run_app, shown

from assistant.catalog import Catalog
from assistant.clip.factory import TEST_MODEL_SPEC
from assistant.search import SearchEngine
from assistant.shop import kiosk as kiosk_rules
from assistant.shop.kiosk import ENV_IDLE_SECONDS
from assistant.shop.results import NonsenseQueries, match_threshold, search_results

KIOSK = "app_pages/kiosk.py"


def test_camera_search_shows_tiles_and_writes_nothing_to_disk(
    monkeypatch, app_catalog, synthetic_source, tmp_path, tiny_embedder
):
    private_tmp = tmp_path / "tmp"
    private_tmp.mkdir()
    monkeypatch.setenv("TMPDIR", str(private_tmp))
    monkeypatch.setattr(tempfile, "tempdir", str(private_tmp))
    at = run_app(monkeypatch, app_catalog, KIOSK)
    before = folder_snapshot(app_catalog, private_tmp)
    marker = f"kiosk-photo-{uuid.uuid4()}".encode()
    photo = camera_photo(synthetic_source.parent / "images" / "SYN-00005.png", marker)

    at.camera_input[0].set_value(("shot.jpg", photo, "image/jpeg"))
    rerun(at)
    after = folder_snapshot(app_catalog, private_tmp)  # before this test opens the catalog itself

    changed = sorted({path for path, digest in before.items() ^ after.items()})
    assert not changed, f"the kiosk wrote or changed files: {changed}"
    assert not any(marker in p.read_bytes() for p in private_tmp.rglob("*") if p.is_file())
    engine = SearchEngine(Catalog.open(app_catalog, TEST_MODEL_SPEC, create=False), tiny_embedder)
    threshold = match_threshold(engine.catalog, NonsenseQueries.embed(tiny_embedder).like(False, True, 0.5))
    expected = search_results(engine.catalog, engine.query_vector(image=photo), threshold)
    shown = expected.matches or expected.nearest
    assert card_titles(at) == [h.product.title for h in shown][:12]
    n = expected.count
    heading = f"### {n} pieces match" if n > 1 else "### 1 piece matches" if n else "### No close match"
    assert any(m.value.startswith(heading) for m in at.markdown)
    assert len(at.image) >= len(shown[:12])


def test_tapping_a_category_searches_without_typing(monkeypatch, app_catalog):
    at = run_app(monkeypatch, app_catalog, KIOSK)
    visit = at.session_state["kiosk"].visit
    at.button_group(key=f"kiosk-{visit}-category").set_value("necklace")
    rerun(at)
    catalog = Catalog.open(app_catalog, TEST_MODEL_SPEC, create=False)
    necklaces = {p.title for p in catalog.products() if p.category == "necklace"}
    titles = card_titles(at)
    assert titles and set(titles) <= necklaces and len(titles) == min(12, len(necklaces))
    count = len(necklaces)
    assert any(m.value == f"### {count} pieces match your choices" for m in at.markdown)


def test_show_more_pages_through_the_collection(monkeypatch, app_catalog):
    at = run_app(monkeypatch, app_catalog, KIOSK)
    first = card_titles(at)
    assert len(first) == 12 and any(m.value == "### 60 pieces in the collection" for m in at.markdown)
    at.button(key="kiosk-0-more").click()
    rerun(at)
    assert card_titles(at)[:12] == first and len(card_titles(at)) == 24


def shortlist_first_card(at):
    button = next(b for b in at.button if b.label == "Add to shortlist")
    button.click()
    return rerun(at)


def test_shortlist_shows_skus_for_staff_and_can_be_edited(monkeypatch, app_catalog):
    at = run_app(monkeypatch, app_catalog, KIOSK)
    shortlist_first_card(at)
    shortlist_first_card(at)
    skus = list(at.session_state["kiosk"].shortlist)
    assert len(skus) == 2
    panel = " ".join(m.value for m in at.markdown)
    assert all(f'<div class="shortlist-sku">{sku}</div>' in panel for sku in skus)
    assert "Show this list to a member of our staff" in panel
    listed = [b for b in at.button if b.label == "On your shortlist"]
    assert len(listed) == 2 and all(b.disabled for b in listed), "a second tap cannot take a piece off"

    next(b for b in at.button if b.label == "Remove").click()
    rerun(at)
    assert at.session_state["kiosk"].shortlist == skus[1:]


def test_a_tile_opens_the_product_page_with_a_shortlist_button(monkeypatch, app_catalog):
    at = run_app(monkeypatch, app_catalog, KIOSK)
    opener = next(b for b in at.button if (b.key or "").startswith("open-kiosk0-"))
    opener.click()
    rerun(at)
    sku = at.query_params["sku"]
    sku = sku[0] if isinstance(sku, list) else sku
    assert any(sku in h.proto.body for h in at.get("html"))
    at.button(key=f"kiosk-0-product-{sku}").click()
    rerun(at)
    assert at.session_state["kiosk"].shortlist == [sku]
    assert at.button(key=f"kiosk-0-product-{sku}").label == "On your shortlist"


def test_start_over_closes_everything(monkeypatch, app_catalog):
    at = run_app(monkeypatch, app_catalog, KIOSK)
    shortlist_first_card(at)
    next(b for b in at.button if (b.key or "").startswith("open-kiosk0-")).click()
    rerun(at)
    at.button_group(key="kiosk-0-category").set_value("ring")
    rerun(at)
    assert "sku" in at.query_params

    at.button(key="kiosk-0-restart").click()
    rerun(at)
    assert "sku" not in at.query_params and not any('class="product-title"' in h.proto.body for h in at.get("html"))
    assert at.session_state["kiosk"].shortlist == [] and at.button_group(key="kiosk-1-category").value is None
    assert [e.proto.expanded for e in at.expander] == [False], "typing panel closed"
    assert any(m.value == "### 60 pieces in the collection" for m in at.markdown)


class KioskClock:
    """The kiosk rules' clock, moved by the test: a shopper walks away for exactly as long as the test says,
    however long the machine takes to run the page (a real sleep races the page's own run time)."""

    def __init__(self):
        self.offset = 0.0

    def monotonic(self) -> float:
        return time.monotonic() + self.offset

    def walk_away(self, seconds: float) -> None:
        self.offset += seconds


def test_idle_kiosk_starts_over(monkeypatch, app_catalog, synthetic_source):
    clock = KioskClock()
    monkeypatch.setattr(kiosk_rules, "time", clock)
    idle = 60
    at = run_app(monkeypatch, app_catalog, KIOSK, **{ENV_IDLE_SECONDS: str(idle)})
    at.camera_input[0].set_value(
        ("shot.jpg", camera_photo(synthetic_source.parent / "images" / "SYN-00001.png", b"x"), "image/jpeg")
    )
    rerun(at)
    shortlist_first_card(at)
    assert at.session_state["kiosk"].shortlist and at.camera_input[0].value is not None

    clock.walk_away(idle - 1)  # a shopper who comes back just in time keeps everything
    rerun(at)
    assert at.session_state["kiosk"].shortlist and at.camera_input[0].value is not None

    clock.walk_away(idle)  # nobody touches the screen for ASSISTANT_KIOSK_IDLE_SECONDS
    rerun(at)

    assert at.session_state["kiosk"].shortlist == []
    assert at.camera_input[0].value is None, "the previous shopper's photo is gone"
    assert any(m.value == "### 60 pieces in the collection" for m in at.markdown)
    assert any(f"Starts over after {idle} s without a touch" in m.value for m in at.markdown)


def test_start_over_button(monkeypatch, app_catalog):
    at = run_app(monkeypatch, app_catalog, KIOSK)
    shortlist_first_card(at)
    next(b for b in at.button if b.label == "Start over").click()
    rerun(at)
    assert at.session_state["kiosk"].shortlist == [] and at.session_state["kiosk"].visit == 1


@pytest.mark.parametrize("value", ["soon", "0", "-5"])
def test_bad_idle_setting_is_explained(monkeypatch, app_catalog, value):
    at = run_app(monkeypatch, app_catalog, KIOSK, **{ENV_IDLE_SECONDS: value})
    assert [e.value for e in at.error] and ENV_IDLE_SECONDS in shown(at.error[0].value)


def test_a_shopper_may_switch_to_chinese_and_the_next_one_starts_in_the_shops_language(monkeypatch, app_catalog):
    at = run_app(monkeypatch, app_catalog, KIOSK, ASSISTANT_LANGUAGE="en")
    at.segmented_control(key="kiosk-0-kiosk-language").set_value("zh")
    rerun(at)
    assert any(m.value == "### 馆藏共 60 件" for m in at.markdown)
    assert next(b for b in at.button if (b.key or "").startswith("kiosk-0-list-")).label == "加入心愿单"
    at.button(key="kiosk-0-restart").click()
    rerun(at)
    assert any(m.value == "### 60 pieces in the collection" for m in at.markdown)
