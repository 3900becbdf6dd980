"""Shop page: text, Chinese, photo and hybrid search return the engine's cards; filters; unreadable photos."""

from __future__ import annotations

import pytest
from app_support import app_catalog, camera_photo, card_titles, catalog_template, rerun, run_app  # noqa: F401  (fixtures)

from assistant.catalog import Catalog, Filters
from assistant.categories import translate_query
from assistant.clip.factory import TEST_MODEL_SPEC
from assistant.personalization.checkpoint import default_checkpoint_path, save_checkpoint
from assistant.personalization.maml import MetaTrainConfig
from assistant.personalization.serving import Personalizer
from assistant.personalization.training import train_for_catalog
from assistant.search import SearchEngine

RESULTS = 24


@pytest.fixture
def engine(app_catalog, tiny_embedder) -> SearchEngine:
    return SearchEngine(
        Catalog.open(app_catalog, TEST_MODEL_SPEC, create=False), tiny_embedder, translate=translate_query
    )


def search(at, text: str):
    at.text_input(key="shop-query").input(text)
    return rerun(at)


def test_text_search_returns_the_engines_cards_with_photos_and_prices(monkeypatch, app_catalog, engine):
    at = run_app(monkeypatch, app_catalog)
    assert at.subheader[0].value == "From the collection" and len(card_titles(at)) == RESULTS

    search(at, "vintage rose gold ring")

    expected = engine.search("vintage rose gold ring", k=RESULTS)
    assert card_titles(at) == [h.product.title for h in expected]
    assert at.subheader[0].value == f"{RESULTS} pieces found"
    assert len(at.image) == RESULTS
    first_card = next(m.value for m in at.markdown if 'class="card-title"' in m.value)
    assert 'class="card-price">$' in first_card and f"match {expected[0].score:.2f}" in first_card


def test_chinese_query_is_translated_before_search(monkeypatch, app_catalog, engine):
    at = run_app(monkeypatch, app_catalog)
    search(at, "珍珠耳环")
    assert "Searching for “pearl earring”" in [c.value for c in at.caption]
    assert card_titles(at) == [h.product.title for h in engine.search("pearl earring", k=RESULTS)]


def test_filters_narrow_the_results(monkeypatch, app_catalog, engine):
    at = run_app(monkeypatch, app_catalog)
    at.multiselect(key="shop-category").set_value(["ring"])
    at.multiselect(key="shop-metal").set_value(["silver", "platinum"])
    at.slider(key="shop-price").set_value((100, 2000))
    search(at, "classic ring")

    filters = Filters(category=["ring"], metal=["silver", "platinum"], min_price=100, max_price=2000)
    expected = engine.search("classic ring", filters=filters, k=RESULTS)
    assert 0 < len(expected) < RESULTS
    assert card_titles(at) == [h.product.title for h in expected]
    assert all(h.product.category == "ring" and h.product.metal in ("silver", "platinum") for h in expected)


def test_photo_and_words_together_make_a_hybrid_search(monkeypatch, app_catalog, engine, synthetic_source):
    photo = (synthetic_source.parent / "images" / "SYN-00012.png").read_bytes()
    at = run_app(monkeypatch, app_catalog)
    at.file_uploader(key="shop-photo").set_value(("mine.png", photo, "image/png"))
    rerun(at)
    assert card_titles(at) == [h.product.title for h in engine.search(image=photo, k=RESULTS)]

    search(at, "pearl")
    at.slider(key="shop-text-weight").set_value(0.3)
    rerun(at)
    assert card_titles(at) == [h.product.title for h in engine.search("pearl", photo, k=RESULTS, text_weight=0.3)]


def test_camera_photo_is_searched_too(monkeypatch, app_catalog, engine, synthetic_source):
    photo = camera_photo(synthetic_source.parent / "images" / "SYN-00003.png")
    at = run_app(monkeypatch, app_catalog)
    at.toggle(key="shop-camera-on").set_value(True)
    rerun(at)
    at.camera_input(key="shop-camera").set_value(("shot.jpg", photo, "image/jpeg"))
    rerun(at)
    assert card_titles(at) == [h.product.title for h in engine.search(image=photo, k=RESULTS)]


def test_an_unreadable_photo_is_explained(monkeypatch, app_catalog):
    at = run_app(monkeypatch, app_catalog)
    at.file_uploader(key="shop-photo").set_value(("broken.png", b"not a picture", "image/png"))
    rerun(at)
    assert at.error and "cannot be read" in at.error[0].value


def card_ids(at) -> list[int]:
    """Product ids of the cards in page order, from their Like buttons."""
    return [int(b.key.removeprefix("like-")) for b in at.button if (b.key or "").startswith("like-")]


def test_a_like_reorders_for_you_with_reasons_as_the_engine_does(monkeypatch, app_catalog, engine):
    at = run_app(monkeypatch, app_catalog)
    search(at, "classic necklace")
    before = card_ids(at)
    liked = before[6]

    at.button(key=f"like-{liked}").click()
    rerun(at)

    after = card_ids(at)
    assert after != before and liked in after
    shopper = Personalizer.for_catalog(engine.catalog).session(engine.catalog)
    shopper.like(liked)
    query = engine.query_vector("classic necklace")
    candidates = [h.product.id for h in engine.catalog.search_vector(query, k=48)]
    expected = shopper.rank(candidates, query_vector=query, k=24)
    assert after == [r.product_id for r in expected]
    reasons = [m.value for m in at.markdown if 'class="card-reason"' in m.value]
    assert reasons and any("like your pick" in r or "you liked" in r for r in reasons)
    assert at.button(key=f"like-{liked}").label == "Liked"
    assert "1 liked · 0 passed" in [m.value for m in at.sidebar.markdown]


def test_pass_hides_a_piece_and_reset_forgets_the_shopper(monkeypatch, app_catalog):
    at = run_app(monkeypatch, app_catalog)
    search(at, "gold ring")
    before = card_ids(at)

    at.button(key=f"like-{before[3]}").click()
    rerun(at)
    at.button(key=f"pass-{before[0]}").click()
    rerun(at)
    assert before[0] not in card_ids(at) and at.session_state["shopper"].skips == [before[0]]

    at.button(key="shop-reset").click()
    rerun(at)
    assert card_ids(at) == before
    assert at.session_state["shopper"].likes == [] and at.session_state["shopper"].skips == []


def test_best_match_keeps_the_search_order(monkeypatch, app_catalog, engine):
    at = run_app(monkeypatch, app_catalog)
    search(at, "classic necklace")
    at.button(key=f"like-{card_ids(at)[6]}").click()
    rerun(at)
    at.segmented_control(key="shop-order").set_value("Best match")
    rerun(at)
    assert card_titles(at) == [h.product.title for h in engine.search("classic necklace", k=RESULTS)]


def test_for_you_without_a_search_ranks_the_collection(monkeypatch, app_catalog):
    at = run_app(monkeypatch, app_catalog)
    first = card_ids(at)
    at.button(key=f"like-{first[10]}").click()
    rerun(at)
    assert at.subheader[0].value == "Picked for you"
    assert card_ids(at) != first


def train_small_personalizer(catalog_dir, model_spec: str | None = None):
    """A quickly meta-trained head for the catalog, saved where the app looks (optionally tagged for another model)."""
    catalog = Catalog.open(catalog_dir, TEST_MODEL_SPEC, create=False)
    checkpoint, _ = train_for_catalog(catalog, shoppers=64, meta=MetaTrainConfig(meta_steps=10, meta_batch=8))
    if model_spec:
        checkpoint.model_spec = model_spec
    save_checkpoint(default_checkpoint_path(catalog_dir), checkpoint)
    return catalog


def test_a_trained_personalizer_ranks_for_you(monkeypatch, app_catalog, tiny_embedder):
    catalog = train_small_personalizer(app_catalog)
    at = run_app(monkeypatch, app_catalog)
    assert any(c.value.startswith("Meta-learned (MAML) ranking head") for c in at.sidebar.caption)
    search(at, "classic necklace")
    liked = card_ids(at)[4]
    at.button(key=f"like-{liked}").click()
    rerun(at)

    shopper = Personalizer.for_catalog(catalog).session(catalog)
    assert shopper.personalizer.method == "maml"
    shopper.like(liked)
    query = SearchEngine(catalog, tiny_embedder).query_vector("classic necklace")
    candidates = [h.product.id for h in catalog.search_vector(query, k=48)]
    assert card_ids(at) == [r.product_id for r in shopper.rank(candidates, query_vector=query, k=24)]


def test_a_personalizer_for_another_model_is_explained_and_not_used(monkeypatch, app_catalog):
    train_small_personalizer(app_catalog, model_spec="ViT-B-32:laion2b_s34b_b79k")
    at = run_app(monkeypatch, app_catalog)
    assert any("ViT-B-32:laion2b_s34b_b79k" in w.value for w in at.sidebar.warning)
    assert any("centroid method" in c.value for c in at.sidebar.caption)
    search(at, "classic necklace")
    assert len(card_ids(at)) == 24
