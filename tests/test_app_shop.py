"""Shop page: honest counts and "no close match", text / Chinese / photo / hybrid search, filters, friendly photo
errors that keep the results, likes that never reorder the grid, the tray, *Show more*, the product page."""

from __future__ import annotations

import io

import pytest
from app_support import camera_photo, card_titles, rerun, run_app, shown
from PIL import Image

from assistant.catalog import Catalog, Filters
from assistant.categories import translate_query
from assistant.clip.factory import TEST_MODEL_SPEC
from assistant.personalization.checkpoint import default_checkpoint_path, save_checkpoint
from assistant.personalization.maml import MetaTrainConfig
from assistant.personalization.serving import Personalizer
from assistant.personalization.training import train_for_catalog
from assistant.search import SearchEngine
from assistant.shop.photos import MAX_SHOPPER_PHOTO_BYTES
from assistant.shop.results import NonsenseQueries, match_threshold, search_results

PAGE = 24


@pytest.fixture
def engine(app_catalog, tiny_embedder) -> SearchEngine:
    return SearchEngine(
        Catalog.open(app_catalog, TEST_MODEL_SPEC, create=False), tiny_embedder, translate=translate_query
    )


def expected_results(engine, words=None, photo=None, text_weight=0.5, filters=None):
    """What the page must show: the engine's hits cut at the threshold calibrated on nonsense queries."""
    nonsense = NonsenseQueries.embed(engine.embedder).like(bool(words), photo is not None, text_weight)
    threshold = match_threshold(engine.catalog, nonsense)
    return search_results(engine.catalog, engine.query_vector(words, photo, text_weight), threshold, filters)


def search(at, text: str):
    at.text_input(key="shop-query").input(text)
    return rerun(at)


def upload(at, data: bytes, name: str = "mine.png"):
    at.file_uploader(key="shop-photo").set_value((name, data, "image/png"))
    return rerun(at)


def best_match(at):
    at.segmented_control(key="shop-order").set_value("best_match")
    return rerun(at)


def card_ids(at) -> list[int]:
    """Product ids of the grid's cards in page order, from their Like buttons."""
    return [int(b.key.removeprefix("like-shop-")) for b in at.button if (b.key or "").startswith("like-shop-")]


def heading(at) -> str:
    return at.subheader[0].value


def page_text(at) -> str:
    return " ".join(str(e.value) for kind in ("markdown", "caption", "warning", "subheader") for e in getattr(at, kind))


def photo_of(synthetic_source, sku: str) -> bytes:
    return (synthetic_source.parent / "images" / f"{sku}.png").read_bytes()


def test_no_scores_methods_or_limits_are_shown_to_shoppers(monkeypatch, app_catalog, synthetic_source):
    at = run_app(monkeypatch, app_catalog)
    upload(at, photo_of(synthetic_source, "SYN-00012"))
    text = page_text(at) + " ".join(c.value for c in at.sidebar.caption)
    assert "card-score" not in text and "match 0." not in text
    assert "centroid" not in text and "MAML" not in text and "MB per file" not in text


def test_the_collection_counts_every_piece_and_pages_with_show_more(monkeypatch, app_catalog):
    at = run_app(monkeypatch, app_catalog)
    assert heading(at) == "60 pieces in the collection" and len(card_ids(at)) == PAGE
    first = card_ids(at)
    assert at.button(key="shop-more").label == "Show 24 more"
    at.button(key="shop-more").click()
    rerun(at)
    assert card_ids(at)[:PAGE] == first and len(card_ids(at)) == 2 * PAGE
    assert at.button(key="shop-more").label == "Show 12 more"
    at.button(key="shop-more").click()
    rerun(at)
    assert len(set(card_ids(at))) == 60 and not [b for b in at.button if b.key == "shop-more"]


def test_nonsense_finds_no_close_match_and_offers_the_nearest(monkeypatch, app_catalog, engine):
    at = run_app(monkeypatch, app_catalog)
    search(at, "xyzzy qwerty")
    expected = expected_results(engine, "xyzzy qwerty")
    assert not expected.close_match
    assert heading(at) == "No close match. These are the nearest pieces we have."
    assert card_titles(at) == [h.product.title for h in expected.nearest]
    at.button(key=f"like-shop-{card_ids(at)[2]}").click()
    rerun(at)
    assert not [m for m in at.markdown if "matches your search" in m.value], "nothing matched, so no card says so"


def test_a_like_after_no_close_match_brings_fresh_pieces_from_the_collection(monkeypatch, app_catalog):
    at = run_app(monkeypatch, app_catalog)
    search(at, "xyzzy qwerty")
    nearest = card_ids(at)
    at.button(key=f"like-shop-{nearest[2]}").click()
    rerun(at)
    assert card_ids(at)[: len(nearest)] == nearest, "nothing moves under the shopper's finger"
    assert [s.value for s in at.subheader][-1] == "Updated for you"
    band = [int(b.key.removeprefix("like-band-")) for b in at.button if (b.key or "").startswith("like-band-")]
    assert band and not set(band) & set(nearest), "every nearest piece is on screen: the band brings others"


def test_a_photo_search_counts_its_close_matches(monkeypatch, app_catalog, engine, synthetic_source):
    photo = photo_of(synthetic_source, "SYN-00012")
    at = run_app(monkeypatch, app_catalog)
    best_match(upload(at, photo))
    expected = expected_results(engine, photo=photo)
    n = expected.count
    assert 0 < n < 60
    assert heading(at) == (f"{n} pieces match" if n > 1 else "1 piece matches")
    assert card_titles(at) == [h.product.title for h in expected.matches][:PAGE]


def test_chinese_query_is_translated_before_search(monkeypatch, app_catalog, engine):
    at = run_app(monkeypatch, app_catalog)
    best_match(search(at, "珍珠耳环"))
    assert "Searching for “pearl earring”" in [c.value for c in at.caption]
    expected = expected_results(engine, "pearl earring")
    assert card_titles(at) == [h.product.title for h in (expected.matches or expected.nearest)][:PAGE]


def test_filters_narrow_the_collection(monkeypatch, app_catalog, engine):
    at = run_app(monkeypatch, app_catalog)
    at.multiselect(key="shop-category").set_value(["ring"])
    at.multiselect(key="shop-metal").set_value(["silver", "platinum"])
    best_match(at)
    filters = Filters(category=["ring"], metal=["silver", "platinum"])
    rings = engine.catalog.products(filters)
    assert 1 < len(rings) < PAGE
    assert heading(at) == f"{len(rings)} pieces match your choices"
    assert card_titles(at) == [p.title for p in rings]


def test_photo_and_words_together_make_a_hybrid_search(monkeypatch, app_catalog, engine, synthetic_source):
    photo = photo_of(synthetic_source, "SYN-00012")
    at = run_app(monkeypatch, app_catalog)
    best_match(upload(at, photo))
    search(at, "pearl")
    at.slider(key="shop-text-weight").set_value(0.3)
    rerun(at)
    expected = expected_results(engine, "pearl", photo, 0.3)
    assert card_titles(at) == [h.product.title for h in (expected.matches or expected.nearest)][:PAGE]


def test_camera_photo_is_searched_too(monkeypatch, app_catalog, engine, synthetic_source):
    photo = camera_photo(synthetic_source.parent / "images" / "SYN-00003.png")
    at = run_app(monkeypatch, app_catalog)
    at.toggle(key="shop-camera-on").set_value(True)
    best_match(rerun(at))
    at.camera_input(key="shop-camera").set_value(("shot.jpg", photo, "image/jpeg"))
    rerun(at)
    expected = expected_results(engine, photo=photo)
    assert card_titles(at) == [h.product.title for h in (expected.matches or expected.nearest)][:PAGE]


def test_an_unreadable_photo_gets_one_friendly_sentence_and_the_results_stay(
    monkeypatch, app_catalog, synthetic_source
):
    at = run_app(monkeypatch, app_catalog)
    upload(at, photo_of(synthetic_source, "SYN-00012"))
    found, title = card_titles(at), heading(at)

    upload(at, b"not a picture", "broken.png")

    assert [w.value for w in at.warning] == [
        "We couldn't read that photo. Please try another picture (a JPEG or PNG works best)."
    ]
    assert card_titles(at) == found and heading(at) == title
    assert "BytesIO" not in page_text(at) and "Error" not in page_text(at) and not at.error


def test_a_photo_over_10_mb_is_refused_kindly(monkeypatch, app_catalog):
    out = io.BytesIO()
    Image.new("RGB", (32, 32)).save(out, format="PNG")
    at = run_app(monkeypatch, app_catalog)
    upload(at, out.getvalue() + b"\0" * MAX_SHOPPER_PHOTO_BYTES)
    assert [w.value for w in at.warning] == [
        "That photo is too large for us. Please try a smaller picture (under 10 MB)."
    ]
    assert heading(at) == "60 pieces in the collection"


def test_a_like_keeps_the_grid_in_place_and_updates_the_band_and_tray(monkeypatch, app_catalog):
    at = run_app(monkeypatch, app_catalog)
    before = card_ids(at)
    liked = before[6]

    at.button(key=f"like-shop-{liked}").click()
    rerun(at)
    at.button(key=f"like-shop-{liked}").click()  # an impatient second tap
    rerun(at)

    assert card_ids(at) == before, "nothing moves under the shopper's finger"
    assert at.button(key=f"like-shop-{liked}").label == "Liked"
    assert at.session_state["shopper"].likes == [liked]
    assert at.expander[0].label == "Your likes (1)" and at.button(key=f"unlike-{liked}")
    assert [s.value for s in at.subheader][-1] == "Updated for you"
    band = [int(b.key.removeprefix("like-band-")) for b in at.button if (b.key or "").startswith("like-band-")]
    assert band and not set(band) & set(before) and liked not in band
    reasons = [m.value for m in at.markdown if 'class="card-reason"' in m.value]
    assert all(m.count('class="card-reason"') == 1 for m in reasons), "one reason per card"


def test_a_liked_piece_is_not_explained_by_itself(monkeypatch, app_catalog):
    at = run_app(monkeypatch, app_catalog)
    liked = card_ids(at)[0]
    at.button(key=f"like-shop-{liked}").click()
    rerun(at)
    first_card = next(m.value for m in at.markdown if 'class="card-title"' in m.value)
    assert 'class="card-reason"' not in first_card


def test_pass_dims_a_piece_in_place_and_the_tray_forgets(monkeypatch, app_catalog):
    at = run_app(monkeypatch, app_catalog)
    before = card_ids(at)
    at.button(key=f"like-shop-{before[3]}").click()
    rerun(at)
    at.button(key=f"pass-shop-{before[0]}").click()
    rerun(at)
    assert card_ids(at) == before
    passed = at.button(key=f"pass-shop-{before[0]}")
    assert passed.label == "Passed" and passed.disabled and at.session_state["shopper"].skips == [before[0]]

    at.button(key=f"unlike-{before[3]}").click()
    rerun(at)
    assert at.session_state["shopper"].likes == []
    at.button(key="shop-reset").click()
    rerun(at)
    assert at.session_state["shopper"].skips == [] and at.expander[0].label == "Your likes (0)"


def test_a_new_search_orders_for_you_by_the_likes(monkeypatch, app_catalog, engine, synthetic_source):
    photo = photo_of(synthetic_source, "SYN-00012")
    at = run_app(monkeypatch, app_catalog)
    liked = card_ids(at)[10]
    at.button(key=f"like-shop-{liked}").click()
    rerun(at)
    upload(at, photo)  # a new search: the new grid is ordered for this shopper

    shopper = Personalizer.for_catalog(engine.catalog).session(engine.catalog)
    shopper.like(liked)
    matches = [h.product.id for h in expected_results(engine, photo=photo).matches]
    ranked = [r.product_id for r in shopper.rank(matches, query_vector=engine.query_vector(image=photo), k=None)]
    assert card_ids(at) == ranked[:PAGE]


def test_a_card_opens_its_product_page_with_everything_about_it(monkeypatch, app_catalog, engine):
    at = run_app(monkeypatch, app_catalog)
    pid = card_ids(at)[2]
    product = engine.catalog.get([pid])[0]
    at.button(key=f"open-shop-{pid}").click()
    rerun(at)

    assert at.query_params["sku"] == [product.sku] or at.query_params["sku"] == product.sku
    details = " ".join(h.proto.body for h in at.get("html"))
    assert product.title in details and product.description in details and product.sku in details
    assert "Item number" in details and "Metal" in details
    assert any(m.value == "#### More like this" for m in at.markdown)
    similar = [b for b in at.button if (b.key or "").startswith("similar-open-")]
    assert len(similar) == 8
    at.button(key=f"like-product-{pid}").click()
    rerun(at)
    assert at.session_state["shopper"].likes == [pid]


def test_a_deep_link_opens_the_product_and_an_unknown_sku_is_dropped(monkeypatch, app_catalog):
    monkeypatch.setenv("ASSISTANT_CATALOG", str(app_catalog))
    monkeypatch.setenv("ASSISTANT_MODEL", TEST_MODEL_SPEC)
    from app_support import APP, RUN_TIMEOUT
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(str(APP), default_timeout=RUN_TIMEOUT)
    at.query_params["sku"] = "SYN-00007"
    rerun(at)
    assert any("SYN-00007" in h.proto.body for h in at.get("html"))

    gone = AppTest.from_file(str(APP), default_timeout=RUN_TIMEOUT)
    gone.query_params["sku"] = "NO-SUCH-SKU"
    rerun(gone)
    assert "sku" not in gone.query_params and heading(gone) == "60 pieces in the collection"


def train_small_personalizer(catalog_dir, model_spec: str | None = None):
    """A quickly meta-trained head for the catalog, saved where the app looks (optionally tagged for another model)."""
    catalog = Catalog.open(catalog_dir, TEST_MODEL_SPEC, create=False)
    checkpoint, _ = train_for_catalog(catalog, shoppers=64, meta=MetaTrainConfig(meta_steps=10, meta_batch=8))
    if model_spec:
        checkpoint.model_spec = model_spec
    save_checkpoint(default_checkpoint_path(catalog_dir), checkpoint)
    return catalog


def test_a_trained_personalizer_orders_for_you(monkeypatch, app_catalog):
    catalog = train_small_personalizer(app_catalog)
    at = run_app(monkeypatch, app_catalog)
    liked = card_ids(at)[4]
    at.button(key=f"like-shop-{liked}").click()
    rerun(at)
    best_match(at)
    at.segmented_control(key="shop-order").set_value("for_you")
    rerun(at)

    shopper = Personalizer.for_catalog(catalog).session(catalog)
    assert shopper.personalizer.method == "maml"
    shopper.like(liked)
    assert card_ids(at) == [r.product_id for r in shopper.rank(None, k=240)][:PAGE]


def test_a_personalizer_for_another_model_is_not_used_and_not_shown_to_shoppers(monkeypatch, app_catalog):
    train_small_personalizer(app_catalog, model_spec="ViT-B-32:laion2b_s34b_b79k")
    at = run_app(monkeypatch, app_catalog)
    assert not at.sidebar.warning and "ViT-B-32" not in page_text(at)
    assert at.session_state["shopper"].personalizer.method != "maml"
    assert len(card_ids(at)) == PAGE


def test_chinese_by_deep_link_by_default_and_by_the_switch(monkeypatch, app_catalog):
    from app_support import APP, RUN_TIMEOUT
    from streamlit.testing.v1 import AppTest

    at = run_app(monkeypatch, app_catalog)
    at.segmented_control(key="shop-language").set_value("zh")
    rerun(at)
    assert heading(at) == "馆藏共 60 件" and at.query_params["lang"] in ("zh", ["zh"])
    assert at.button(key=f"like-shop-{card_ids(at)[0]}").label == "喜欢"

    monkeypatch.setenv("ASSISTANT_LANGUAGE", "zh")
    default_zh = rerun(AppTest.from_file(str(APP), default_timeout=RUN_TIMEOUT))
    assert heading(default_zh) == "馆藏共 60 件"

    linked = AppTest.from_file(str(APP), default_timeout=RUN_TIMEOUT)
    linked.query_params["lang"] = "en"
    assert heading(rerun(linked)) == "60 pieces in the collection"


def test_an_unknown_default_language_is_explained(monkeypatch, app_catalog):
    at = run_app(monkeypatch, app_catalog, ASSISTANT_LANGUAGE="klingon")
    assert at.error and "ASSISTANT_LANGUAGE" in shown(at.error[0].value)


def test_the_loaded_shop_is_kept_out_of_the_garbage_collectors_walk(monkeypatch, app_catalog):
    """Streamlit collects garbage after every run; the model and torch must not be walked each time."""
    import gc

    run_app(monkeypatch, app_catalog)
    assert gc.get_freeze_count() > 100_000


def test_filters_offer_what_the_catalog_holds_after_a_write(monkeypatch, app_catalog, engine):
    """The filters' values are read once per catalog generation: a write elsewhere shows on the next run."""
    at = run_app(monkeypatch, app_catalog)
    assert "Brooch" not in at.multiselect(key="shop-category").options
    sku = engine.catalog.products(limit=1)[0].sku
    engine.catalog.update_fields(sku, category="brooch", price=99999)
    rerun(at)
    assert "Brooch" in at.multiselect(key="shop-category").options
    assert at.slider(key="shop-price").max == 99999
