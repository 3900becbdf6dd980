"""Shop rules without Streamlit: the message catalogues, calibrated close matches, listings, shoppers' photos."""

from __future__ import annotations

import io
import json
import math
import re

import pytest
from PIL import Image

from assistant.errors import SettingsError
from assistant.search import SearchEngine
from assistant.shop.i18n import ENV_LANGUAGE, LOCALES, MESSAGES_DIR, language_from_env, messages, parse_language
from assistant.shop.photos import MAX_SHOPPER_PHOTO_BYTES, ShopperPhotoError, read_shopper_photo
from assistant.shop.results import (
    NONSENSE_QUANTILE,
    Listing,
    NonsenseQueries,
    match_threshold,
    nonsense_photos,
    nonsense_words,
    search_results,
)

PLACEHOLDER = re.compile(r"\{(\w+)\}")


def catalogue(language: str) -> dict:
    return json.loads((MESSAGES_DIR / f"{language}.json").read_text(encoding="utf-8"))


def placeholders(entry) -> set[str]:
    texts = [entry] if isinstance(entry, str) else list(entry.values())
    return {name for text in texts for name in PLACEHOLDER.findall(text)}


@pytest.mark.parametrize("language", sorted(set(LOCALES) - {"en"}))
def test_every_language_has_every_message_with_the_same_placeholders(language):
    english, other = catalogue("en"), catalogue(language)
    assert set(other) == set(english)
    for key, entry in english.items():
        assert placeholders(other[key]) == placeholders(entry), key
        assert isinstance(other[key], str) == isinstance(entry, str), key
        if not isinstance(entry, str):
            assert "other" in other[key] and "other" in entry, key


def test_plurals_follow_the_language():
    en, zh = messages("en"), messages("zh")
    assert en.count("results.count", 1) == "1 piece matches"
    assert en.count("results.count", 2) == "2 pieces match"
    assert en.count("results.collection", 1200) == "1,200 pieces in the collection"
    assert zh.count("results.count", 1) == "1 件相符"


def test_language_from_urls_and_the_environment():
    assert parse_language("zh-CN") == "zh" and parse_language("EN_gb") == "en" and parse_language("fr") is None
    assert language_from_env({}) == "en" and language_from_env({ENV_LANGUAGE: "zh"}) == "zh"
    with pytest.raises(SettingsError, match=ENV_LANGUAGE):
        language_from_env({ENV_LANGUAGE: "klingon"})


def test_nonsense_queries_are_deterministic_and_varied():
    assert nonsense_words(8) == nonsense_words(8) and len(set(nonsense_words(8))) == 8
    photos = nonsense_photos(8)
    assert len({p.tobytes() for p in photos}) == 8 and all(p.mode == "RGB" for p in photos)


def test_nonsense_finds_no_close_match_but_a_catalog_photo_does(catalog, tiny_embedder, synthetic_source):
    engine = SearchEngine(catalog, tiny_embedder)
    nonsense = NonsenseQueries.embed(tiny_embedder)
    word_threshold = match_threshold(catalog, nonsense.like(True, False, 0.5))
    photo_threshold = match_threshold(catalog, nonsense.like(False, True, 0.5))
    # by construction, only 1 - NONSENSE_QUANTILE of the nonsense queries find a close match
    best = [catalog.search_vector(v, k=1)[0].score for v in nonsense.words]
    assert sum(b > word_threshold for b in best) <= math.ceil((1 - NONSENSE_QUANTILE) * len(best))

    gibberish = search_results(catalog, engine.query_vector("xyzzy qwerty"), word_threshold)
    assert not gibberish.close_match and gibberish.count == 0 and 0 < len(gibberish.nearest) <= 8

    photo = (synthetic_source.parent / "images" / "SYN-00012.png").read_bytes()
    found = search_results(catalog, engine.query_vector(image=photo), photo_threshold)
    assert found.close_match and found.matches[0].product.sku == "SYN-00012"
    assert all(h.score > photo_threshold for h in found.matches) and found.count < catalog.count()


def test_match_count_is_capped_and_says_so(catalog, tiny_embedder):
    engine = SearchEngine(catalog, tiny_embedder)
    everything = search_results(catalog, engine.query_vector("ring"), threshold=-1.0, max_counted=10)
    assert everything.count == 10 and everything.more_than
    all_counted = search_results(catalog, engine.query_vector("ring"), threshold=-1.0, max_counted=100)
    assert all_counted.count == catalog.count() and not all_counted.more_than


def test_listing_pages_without_reordering():
    listing = Listing(("q",), list(range(30)), page_size=12)
    assert listing.visible() == list(range(12)) and listing.remaining() == 18
    listing.show_more()
    listing.show_more()
    assert listing.visible() == list(range(30)) and listing.remaining() == 0


def jpeg(size=(64, 64)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, (200, 10, 10)).save(out, format="JPEG")
    return out.getvalue()


def test_shopper_photos_are_checked_with_friendly_message_keys():
    assert read_shopper_photo(jpeg()).size == (64, 64)
    with pytest.raises(ShopperPhotoError) as unreadable:
        read_shopper_photo(b"not a picture")
    assert unreadable.value.message_key == "photo.unreadable"
    with pytest.raises(ShopperPhotoError) as too_big:
        read_shopper_photo(jpeg() + b"\0" * MAX_SHOPPER_PHOTO_BYTES)
    assert too_big.value.message_key == "photo.too_big"
    for key in ("photo.unreadable", "photo.too_big"):
        assert all(messages(language).text(key) for language in LOCALES)


def test_every_reason_the_personaliser_gives_reads_in_chinese():
    from assistant.personalization.explain import pick_count_words

    reasons = [
        "matches your search",
        "in your price range",
        "popular with shoppers",
        "looks like the pearl earring you liked",
        pick_count_words("rose gold", 1, 1),
        pick_count_words("rose gold", 3, 3),
        pick_count_words("rose gold", 2, 5),
    ]
    zh, en = messages("zh"), messages("en")
    assert [en.reason(r) for r in reasons] == reasons
    chinese = [zh.reason(r) for r in reasons]
    assert all(c != r for c, r in zip(chinese, reasons))
    assert chinese[3] == "与您喜欢的pearl earring相似" and chinese[6] == "rose gold，与您挑选的 2 件一样"
    assert zh.reason("something new") == "something new"


def test_facet_values_have_chinese_names_from_the_vocabularies():
    from assistant.catalog import Product
    from assistant.categories import CategoryRegistry
    from assistant.categories.attributes import load_attributes
    from assistant.shop.display import chinese_facet_names, product_facts

    names = chinese_facet_names(list(CategoryRegistry.defaults()), load_attributes())
    assert names["rose gold"] == "玫瑰金" and names["ring"] == "戒指"
    ring = Product(id=1, sku="R-1", title="t", category="ring", metal="rose gold", stone="unobtainium")
    assert product_facts(ring, lambda v: names.get(v, v)) == "戒指 · 玫瑰金 · unobtainium"


def test_dates_read_as_people_write_them_in_each_language():
    stamp = "2026-11-30T19:14:03.5+00:00"
    assert messages("en").when(stamp).replace("\u202f", " ") == "Nov 30, 2026, 7:14 PM"
    assert messages("zh").when(stamp) == "2026年11月30日 19:14"
    assert messages("zh").when("2026-11-30T21:14:03+02:00") == "2026年11月30日 19:14", "shown in UTC, as stored"
    assert messages("en").when("not a date") == "not a date" and messages("en").when(None) == ""
