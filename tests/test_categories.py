"""Category registry, Chinese query translation, prototype maths and the classifier (unknown, hierarchy)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from assistant.categories import (
    UNKNOWN,
    Category,
    CategoryRegistry,
    Classifier,
    LabelSet,
    RegistryError,
    translate_query,
)
from assistant.categories.attributes import load_attributes
from assistant.categories.blend import blend_prototype, image_weight, mean_prototype
from assistant.categories.classifier import softmax
from assistant.categories.prototypes import PrototypeBuilder, VectorCache, category_prompts, category_templates
from assistant.categories.translate import QueryTranslator
from assistant.clip.embedder import normalize


def unit(*values: float) -> np.ndarray:
    return normalize(np.array(values, dtype=np.float32))


# ---------------------------------------------------------------------- registry
def test_defaults_cover_the_jewelry_categories_with_chinese_names():
    registry = CategoryRegistry.defaults()
    for name in (
        "ring",
        "band",
        "engagement ring",
        "earring",
        "stud",
        "hoop",
        "jhumka",
        "necklace",
        "choker",
        "pendant",
        "chain",
        "bracelet",
        "bangle",
        "anklet",
        "brooch",
        "nose pin",
        "watch",
    ):
        assert registry.get(name).zh, name
    assert registry.get("stud").parent == "earring"
    attributes = load_attributes()
    assert {"metal", "stone", "style"} <= set(attributes.kinds)
    assert {v.name for v in attributes["metal"].values} >= {
        "yellow gold",
        "white gold",
        "rose gold",
        "silver",
        "platinum",
    }
    assert {v.name for v in attributes["stone"].values} >= {"diamond", "pearl", "emerald", "ruby", "sapphire", "none"}


def test_registry_round_trip(tmp_path):
    registry = CategoryRegistry.load(tmp_path)
    assert not (tmp_path / "categories" / "registry.json").exists()  # defaults are not written until saved
    added = registry.add(
        Category(
            name=" Ear_Cuff ",
            description="a cuff  worn on the ear",
            synonyms=["cuff earring", "ear cuff"],
            zh=["耳夹"],
            parent="Earring",
        )
    )
    assert (added.name, added.parent, added.synonyms, added.description) == (
        "ear cuff",
        "earring",
        ["cuff earring"],
        "a cuff worn on the ear",
    )
    assert added.created_at and added.updated_at
    registry.unknown_below = 0.35
    registry.save()

    loaded = CategoryRegistry.load(tmp_path)
    assert loaded.to_dict() == registry.to_dict()
    assert loaded.unknown_below == 0.35
    assert loaded.names[-1] == "ear cuff"

    loaded.update("ear cuff", description="a clip-on ear cuff", zh=["耳夹", "耳骨夹"])
    loaded.remove("earring")  # children move up to its parent (none)
    loaded.save()
    again = CategoryRegistry.load(tmp_path)
    assert again.get("ear cuff").zh == ["耳夹", "耳骨夹"] and again.get("ear cuff").parent is None
    assert again.get("stud").parent is None and "earring" not in again


@pytest.mark.parametrize(
    "edit, message",
    [
        (lambda r: r.add(Category(name="ring")), "already exists"),
        (lambda r: r.add(Category(name="toe ring", parent="foot jewelry")), "parent 'foot jewelry' is not a category"),
        (lambda r: r.add(Category(name="unknown")), "reserved"),
        (lambda r: r.add(Category(name="x" * 61)), "longer than"),
        (lambda r: r.update("ring", parent="band"), "loop"),
        (lambda r: r.update("ring", created_at="yesterday"), "cannot change created_at"),
        (lambda r: r.get("tiara"), "no category 'tiara'"),
    ],
)
def test_registry_refuses_bad_edits(edit, message):
    registry = CategoryRegistry.defaults()
    before = registry.to_dict()
    with pytest.raises(RegistryError, match=message):
        edit(registry)
    assert registry.to_dict() == before  # a refused edit changes nothing


def test_bad_registry_file_names_the_file_and_category(tmp_path):
    path = tmp_path / "categories" / "registry.json"
    path.parent.mkdir()
    path.write_text(json.dumps({"categories": [{"name": "ring"}, {"name": "band", "colour": "gold"}]}))
    with pytest.raises(RegistryError, match=r"registry.json, category #2: unknown field\(s\) colour"):
        CategoryRegistry.load(tmp_path)
    path.write_text("{not json")
    with pytest.raises(RegistryError, match="not a readable category registry"):
        CategoryRegistry.load(tmp_path)


@pytest.mark.parametrize(
    "label, category",
    [
        ("RINGS", "ring"),
        ("EARRINGS", "earring"),
        ("NECKLACE", "necklace"),
        ("BRACELET", "bracelet"),
        ("WRISTWATCH", "watch"),
        ("Watches", "watch"),
        ("nose_pins", "nose pin"),
        ("Engagement Rings", "engagement ring"),
        ("耳环", "earring"),
        ("tiara", None),
    ],
)
def test_labels_match_categories_in_any_case_singular_or_plural(label, category):
    assert CategoryRegistry.defaults().match_label(label) == category


# ---------------------------------------------------------------------- translation
@pytest.mark.parametrize(
    "query, english",
    [
        ("珍珠耳环", "pearl earring"),
        ("钻戒", "engagement ring"),  # longest match: not "diamond" + "ring"
        ("18K金钻石戒指", "18k gold diamond ring"),
        ("复古的红宝石项链", "vintage ruby necklace"),
        ("女士 玫瑰金 手镯", "women's rose gold bangle"),
        ("gold 耳钉", "gold stud"),
        ("奇怪耳环", "奇怪 earring"),  # unknown Chinese stays as it is
        ("rose gold hoops", "rose gold hoops"),  # no Chinese: unchanged
    ],
)
def test_translate_chinese_jewelry_queries(query, english):
    assert translate_query(query) == english


def test_translation_uses_the_catalogs_own_categories():
    registry = CategoryRegistry.defaults()
    registry.add(Category(name="ear cuff", zh=["耳夹"]))
    translator = QueryTranslator.from_vocabularies(registry)
    assert translator("银耳夹") == "silver ear cuff"


# ---------------------------------------------------------------------- prototypes
def test_blend_weight_grows_with_the_number_of_photos():
    assert image_weight(0) == 0.0
    assert image_weight(1, prior_strength=2) == pytest.approx(1 / 3)
    assert image_weight(2, prior_strength=2) == pytest.approx(0.5)
    assert image_weight(18, prior_strength=2) == pytest.approx(0.9)
    with pytest.raises(ValueError):
        image_weight(-1)


def test_blend_prototype_maths():
    text = unit(1, 0, 0)
    photos = np.stack([unit(0, 1, 0), unit(0, 1, 1)])
    assert np.allclose(blend_prototype(text, None), text)
    assert np.allclose(blend_prototype(text, photos[:0]), text)
    mean = mean_prototype(photos)
    assert np.isclose(np.linalg.norm(mean), 1.0) and np.allclose(mean, normalize(photos.mean(0)))
    w = image_weight(2, 2.0)
    expected = normalize((1 - w) * text + w * mean)
    got = blend_prototype(text, photos, prior_strength=2.0)
    assert np.allclose(got, expected, atol=1e-6) and np.isclose(np.linalg.norm(got), 1.0)
    # more photos pull the prototype further from the text
    assert got @ text > blend_prototype(text, np.repeat(photos, 5, axis=0), 2.0) @ text


def test_text_prototype_is_the_normalised_mean_of_the_prompt_ensemble(tiny_embedder):
    category = Category(name="nose pin", synonyms=["nose stud"], description="a tiny stud worn in the nose")
    prompts = category_prompts(category)
    assert len(prompts) == 2 * len(category_templates()) + 1 and prompts[-1] == category.description
    assert "a product photo of a nose stud." in prompts
    builder = PrototypeBuilder(tiny_embedder)
    prototype = builder.text_prototype(prompts)
    assert np.allclose(prototype, normalize(tiny_embedder.embed_texts(prompts).mean(0)), atol=1e-6)
    assert np.isclose(np.linalg.norm(prototype), 1.0)


def test_category_prompt_templates_are_data(tmp_path):
    """The templates moved from code to assistant/data/prompts.json unchanged, so cached prototypes stay valid."""
    assert category_prompts(Category(name="ring", description="a ring")) == [
        "a product photo of a ring.",
        "a photo of a ring, a type of jewelry.",
        "a close-up photo of a ring.",
        "a ring on a white background.",
        "a ring",
    ]
    assert category_templates() is category_templates(), "read once"
    path = tmp_path / "prompts.json"
    path.write_text(json.dumps({"category_templates": ["a {} ring", "a photo of {name}"]}))
    with pytest.raises(RegistryError, match=r"prompts.json: category template #2 \('a photo of \{name\}'\)"):
        category_templates(path)
    for broken in ("[", json.dumps({"templates": []}), json.dumps({"category_templates": []})):
        path.write_text(broken)
        with pytest.raises(RegistryError, match=r"prompts\.json"):
            category_templates(path)


def test_vector_cache_round_trip_per_model(tmp_path):
    cache = VectorCache("model-a", tmp_path / "vectors.npz")
    cache.put("text:x", unit(1, 2, 3))
    cache.save()
    assert np.allclose(VectorCache("model-a", tmp_path / "vectors.npz").get("text:x"), unit(1, 2, 3))
    assert VectorCache("model-b", tmp_path / "vectors.npz").get("text:x") is None  # another space: not reused


# ---------------------------------------------------------------------- classifier
def test_probabilities_are_clip_softmax_and_unknown_below_the_threshold():
    labels = LabelSet(["ring", "earring", "watch"], np.eye(3, 4, dtype=np.float32), logit_scale=10.0)
    clear, torn = unit(1, 0.1, 0, 0), unit(1, 1, 0, 0)
    for threshold, expected in ((0.6, "unknown"), (0.4, "ring")):
        result = Classifier(labels, unknown_below=threshold).classify(np.stack([clear, torn]))
        assert result[0].label == "ring" and result[0].probability > 0.9
        assert sum(p for _, p in result[0].top) == pytest.approx(1.0, abs=1e-5)
        probs = softmax(10.0 * (np.eye(3, 4) @ torn))
        assert result[1].top[0][1] == pytest.approx(probs.max(), abs=1e-6)
        assert result[1].label in (expected, "earring")  # ring and earring tie at 0.4 < p < 0.6
        assert result[1].is_unknown == (expected == UNKNOWN)


def test_a_parent_collects_its_subcategories_probability():
    labels = LabelSet(
        ["earring", "stud", "hoop", "watch"],
        np.eye(4, dtype=np.float32),
        {"stud": "earring", "hoop": "earring"},
        logit_scale=10.0,
    )
    classifier = Classifier(labels, unknown_below=0.6)
    stud_or_hoop, clear_stud = unit(0, 1, 1, 0), unit(0, 1, 0, 0)
    first, second = classifier.classify(np.stack([stud_or_hoop, clear_stud]))
    assert first.label == "earring" and first.probability > 0.6  # neither sub-category alone is sure
    assert max(p for _, p in first.top) < 0.6
    assert second.label == "stud"  # the most specific category that is sure enough


def test_faiss_similarities_bias_and_query_gain():
    rng = np.random.default_rng(0)
    prototypes, queries = normalize(rng.normal(size=(5, 8))), normalize(rng.normal(size=(7, 8)))
    labels = LabelSet(list("abcde"), prototypes)
    assert np.allclose(labels.similarities(queries), queries @ prototypes.T, atol=1e-5)
    gain, bias = rng.uniform(0.5, 2.0, size=8).astype(np.float32), rng.normal(size=5).astype(np.float32)
    adapted = LabelSet(list("abcde"), prototypes, logit_scale=20.0, bias=bias, query_gain=gain)
    expected = softmax(20.0 * normalize(queries * gain) @ prototypes.T + bias)
    assert np.allclose(
        Classifier(adapted, 0.5).decide(adapted.similarities(queries)).probabilities, expected, atol=1e-5
    )
    assert labels.query_fingerprint() != adapted.query_fingerprint()
    assert labels.nearest(prototypes[2], 1)[0][0] == "c"
