"""The ONNX Runtime image and text towers agree with torch fp32, are cached per model, and fall back to torch."""

from __future__ import annotations

import builtins

import numpy as np
import pytest
from PIL import Image

from assistant.clip import onnx_tower
from assistant.clip.embedder import Embedder
from assistant.clip.factory import TEST_MODEL_SPEC
from assistant.clip.onnx_tower import RuntimeChoiceError, cached_model_path
from assistant.settings import Settings

pytest.importorskip("onnxruntime")


def _photos(n: int = 6) -> list[Image.Image]:
    rng = np.random.default_rng(3)
    return [Image.fromarray(rng.integers(0, 255, (48, 40, 3), dtype=np.uint8)) for _ in range(n)]


@pytest.mark.parametrize("runtime", ["onnx", "onnx-fp32"])
def test_onnx_tower_embeds_like_torch_fp32(tmp_path, tiny_embedder, runtime):
    embedder = Embedder.from_spec(TEST_MODEL_SPEC, cache_dir=str(tmp_path), runtime=runtime)
    assert embedder.runtime == runtime
    ours = embedder.embed_images(_photos(), num_workers=0).vectors
    reference = tiny_embedder.embed_images(_photos(), num_workers=0).vectors
    assert np.min(np.sum(ours * reference, axis=1)) >= 0.99


#: Queries of different lengths: the exported text graph must not keep the length it was traced with.
TEXTS = [
    "ring",
    "rose gold ring with a small diamond",
    "a long necklace of freshwater pearls with a white gold clasp, matching earrings and a bracelet for a bride",
]


@pytest.mark.parametrize("runtime", ["onnx", "onnx-fp32"])
def test_onnx_text_tower_embeds_like_torch_fp32_at_every_length(tmp_path, tiny_embedder, runtime):
    embedder = Embedder.from_spec(TEST_MODEL_SPEC, cache_dir=str(tmp_path), runtime=runtime)
    assert embedder.text_tower is not None
    reference = tiny_embedder.embed_texts(TEXTS)
    batch = embedder.embed_texts(TEXTS)  # one batch, cut to its longest prompt
    singles = np.stack([embedder.embed_texts([text])[0] for text in TEXTS])  # each cut to its own length
    for ours in (batch, singles):
        assert ours.shape == reference.shape
        assert np.min(np.sum(ours * reference, axis=1)) >= 0.99
    if runtime == "onnx-fp32":  # same arithmetic up to float rounding
        np.testing.assert_allclose(batch, reference, atol=1e-4)


def test_exported_models_are_cached_by_spec_and_tower_and_reused(tmp_path, tiny_embedder, monkeypatch):
    Embedder.from_spec(TEST_MODEL_SPEC, cache_dir=str(tmp_path), runtime="onnx")
    image = cached_model_path(tiny_embedder.loaded, True, str(tmp_path), "image")
    text = cached_model_path(tiny_embedder.loaded, True, str(tmp_path), "text")
    assert image.parent == text.parent == tmp_path / "onnx"
    # both towers, and no temporary export left behind
    assert sorted(p.name for p in image.parent.iterdir()) == sorted([image.name, text.name])
    blocks = tiny_embedder.model.transformer.resblocks
    assert all("attention" not in vars(block) for block in blocks)  # the export's stand-in attention is gone

    def no_second_export(*args, **kwargs):
        raise AssertionError("exported again although the cached file exists")

    monkeypatch.setattr(onnx_tower, "export_tower", no_second_export)
    again = Embedder.from_spec(TEST_MODEL_SPEC, cache_dir=str(tmp_path), runtime="onnx")
    assert again.runtime == "onnx" and again.image_tower is not None and again.text_tower is not None
    assert cached_model_path(tiny_embedder.loaded, False, str(tmp_path)) != image  # fp32 is another file


def test_without_onnxruntime_the_embedder_falls_back_to_torch(tmp_path, monkeypatch, caplog):
    real_import = builtins.__import__

    def no_onnxruntime(name, *args, **kwargs):
        if name.startswith("onnxruntime"):
            raise ImportError("No module named 'onnxruntime'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_onnxruntime)
    embedder = Embedder.from_spec(TEST_MODEL_SPEC, cache_dir=str(tmp_path), runtime="onnx")
    assert embedder.runtime == "torch" and embedder.image_tower is None and embedder.text_tower is None
    assert "using torch fp32" in caplog.text
    assert embedder.embed_images(_photos(2), num_workers=0).vectors.shape == (2, embedder.dim)


def test_unknown_runtime_is_a_clear_error(tmp_path):
    with pytest.raises(RuntimeChoiceError, match="choose one of torch, onnx, onnx-fp32"):
        Embedder.from_spec(TEST_MODEL_SPEC, cache_dir=str(tmp_path), runtime="tensorrt")


def test_runtime_comes_from_the_environment(monkeypatch):
    monkeypatch.setenv("ASSISTANT_RUNTIME", "onnx")
    assert Settings.resolve().runtime == "onnx"
    monkeypatch.delenv("ASSISTANT_RUNTIME")
    assert Settings.resolve().runtime == "torch"


def test_repeated_text_queries_come_from_the_cache(tiny_embedder, monkeypatch):
    first = tiny_embedder.embed_text("rose gold ring with a small diamond")
    calls = []
    monkeypatch.setattr(tiny_embedder, "embed_texts", lambda texts, **kw: calls.append(texts) or 1 / 0)
    again = tiny_embedder.embed_text("rose gold ring with a small diamond")
    assert calls == [] and np.array_equal(first, again)
    again[:] = 0  # a caller scribbling on its copy does not change the cached vector
    assert np.array_equal(tiny_embedder.embed_text("rose gold ring with a small diamond"), first)


def _photos_per_label(jc5, per_label: int) -> list:
    """The first photos of each label in jc5's test split (readable ones), for a spread of real jewellery."""
    import csv

    taken: dict[str, list] = {}
    with open(jc5 / "labels.csv", newline="") as f:
        for row in csv.DictReader(f):
            paths = taken.setdefault(row["label"], [])
            if row["split"] == "test" and row["readable"] == "1" and len(paths) < per_label:
                paths.append(jc5 / row["path"])
    return [path for paths in taken.values() for path in paths]


@pytest.mark.slow
def test_int8_runtime_keeps_real_lite0_features_on_real_photos(tmp_path, jc5):
    """Real EfficientNet-Lite0 weights on real photos: int8 must stay within cosine 0.99 of fp32 (it only
    quantises the matrix products; int8 convolutions fell to 0.71 here)."""
    photos = _photos_per_label(jc5, 3)
    assert len(photos) >= 12
    reference = Embedder.from_spec("lite0-imagenet").embed_images(photos, num_workers=0)
    int8 = Embedder.from_spec("lite0-imagenet", cache_dir=str(tmp_path), runtime="onnx")
    assert int8.runtime == "onnx" and int8.image_tower is not None
    ours = int8.embed_images(photos, num_workers=0)
    assert ours.ok == reference.ok and not ours.failures
    assert np.min(np.sum(ours.vectors * reference.vectors, axis=1)) >= 0.99
