"""Kiosk page: camera search without typing, nothing written to disk, shortlist for staff, idle reset."""

from __future__ import annotations

import hashlib
import tempfile
import time
import uuid

import pytest
from app_support import app_catalog, camera_photo, card_titles, catalog_template, rerun, run_app  # noqa: F401  (fixtures)

from assistant.catalog import Catalog
from assistant.clip.factory import TEST_MODEL_SPEC
from assistant.search import SearchEngine
from assistant.shop.kiosk import ENV_IDLE_SECONDS

KIOSK = "pages/kiosk.py"


def snapshot(*folders) -> dict[str, str]:
    """Every file under the folders with a hash of its content (SQLite's shared-memory index excepted)."""
    return {
        str(path): hashlib.sha256(path.read_bytes()).hexdigest()
        for folder in folders
        for path in sorted(folder.rglob("*"))
        if path.is_file() and not path.name.endswith("-shm")
    }


def test_camera_search_shows_tiles_and_writes_nothing_to_disk(
    monkeypatch, app_catalog, synthetic_source, tmp_path, tiny_embedder
):
    private_tmp = tmp_path / "tmp"
    private_tmp.mkdir()
    monkeypatch.setenv("TMPDIR", str(private_tmp))
    monkeypatch.setattr(tempfile, "tempdir", str(private_tmp))
    at = run_app(monkeypatch, app_catalog, KIOSK)
    before = snapshot(app_catalog, private_tmp)
    marker = f"kiosk-photo-{uuid.uuid4()}".encode()
    photo = camera_photo(synthetic_source.parent / "images" / "SYN-00005.png", marker)

    at.camera_input[0].set_value(("shot.jpg", photo, "image/jpeg"))
    rerun(at)
    after = snapshot(app_catalog, private_tmp)  # before this test opens the catalog itself

    changed = sorted({path for path, digest in before.items() ^ after.items()})
    assert not changed, f"the kiosk wrote or changed files: {changed}"
    assert not any(marker in p.read_bytes() for p in private_tmp.rglob("*") if p.is_file())
    expected = SearchEngine(Catalog.open(app_catalog, TEST_MODEL_SPEC, create=False), tiny_embedder).search(
        image=photo, k=12
    )
    assert card_titles(at) == [h.product.title for h in expected]
    assert any(m.value == "### Pieces for you" for m in at.markdown)
    assert len(at.image) >= 12


def test_tapping_a_category_searches_without_typing(monkeypatch, app_catalog):
    at = run_app(monkeypatch, app_catalog, KIOSK)
    visit = at.session_state["kiosk"].visit
    at.button_group(key=f"kiosk-{visit}-category").set_value("necklace")
    rerun(at)
    catalog = Catalog.open(app_catalog, TEST_MODEL_SPEC, create=False)
    necklaces = {p.title for p in catalog.products() if p.category == "necklace"}
    titles = card_titles(at)
    assert titles and set(titles) <= necklaces and len(titles) == 12


def shortlist_first_card(at):
    button = next(b for b in at.button if b.label == "Shortlist")
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
    assert sum(b.label == "On your shortlist" for b in at.button) == 2

    next(b for b in at.button if b.label == "Remove").click()
    rerun(at)
    assert at.session_state["kiosk"].shortlist == skus[1:]


def test_idle_kiosk_starts_over(monkeypatch, app_catalog, synthetic_source):
    at = run_app(monkeypatch, app_catalog, KIOSK, **{ENV_IDLE_SECONDS: "1"})
    at.camera_input[0].set_value(
        ("shot.jpg", camera_photo(synthetic_source.parent / "images" / "SYN-00001.png", b"x"), "image/jpeg")
    )
    rerun(at)
    shortlist_first_card(at)
    assert at.session_state["kiosk"].shortlist and at.camera_input[0].value is not None

    time.sleep(1.2)  # nobody touches the screen for longer than ASSISTANT_KIOSK_IDLE_SECONDS
    rerun(at)

    assert at.session_state["kiosk"].shortlist == []
    assert at.camera_input[0].value is None, "the previous shopper's photo is gone"
    assert any(m.value == "### From our collection" for m in at.markdown)
    assert any("Starts over after 1 s without a touch" in m.value for m in at.markdown)


def test_start_over_button(monkeypatch, app_catalog):
    at = run_app(monkeypatch, app_catalog, KIOSK)
    shortlist_first_card(at)
    next(b for b in at.button if b.label == "Start over").click()
    rerun(at)
    assert at.session_state["kiosk"].shortlist == [] and at.session_state["kiosk"].visit == 1


@pytest.mark.parametrize("value", ["soon", "0", "-5"])
def test_bad_idle_setting_is_explained(monkeypatch, app_catalog, value):
    at = run_app(monkeypatch, app_catalog, KIOSK, **{ENV_IDLE_SECONDS: value})
    assert [e.value for e in at.error] and ENV_IDLE_SECONDS in at.error[0].value
