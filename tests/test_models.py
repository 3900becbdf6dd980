"""Model specs: parsing, the offline checkpoint route, and a clear message when weights are missing."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from assistant.clip.embedder import Embedder
from assistant.clip.factory import ModelSpecError, ModelWeightsMissing, create_model, parse_model_spec


def test_parse_specs(tmp_path):
    assert parse_model_spec("ViT-B-32:laion2b_s34b_b79k").name == "ViT-B-32:laion2b_s34b_b79k"
    assert parse_model_spec("tiny-test").is_random
    ckpt = parse_model_spec(f"ViT-B-32:{tmp_path}/weights.safetensors")
    assert ckpt.is_checkpoint_file and ckpt.pretrained == f"{tmp_path}/weights.safetensors"
    assert parse_model_spec("hf-hub:laion/CLIP-ViT-B-32-laion2B-s34B-b79K").schema == "hf-hub"


@pytest.mark.parametrize(
    "spec, words",
    [
        ("", "empty"),
        ("NoSuchArch:x", "unknown architecture"),
        ("ViT-B-32", "names no weights"),
        ("ViT-B-32:nope", "neither a known tag"),
    ],
)
def test_bad_specs_say_what_is_wrong(spec, words):
    with pytest.raises(ModelSpecError, match=words):
        parse_model_spec(spec)


def test_missing_checkpoint_file_says_where_and_how(tmp_path):
    missing = tmp_path / "absent.safetensors"
    with pytest.raises(ModelWeightsMissing) as err:
        create_model(f"ViT-B-32:{missing}")
    message = str(err.value)
    assert str(missing) in message and "--model" in message and "local-dir:" in message


def test_missing_pretrained_weights_offline_fail_fast(monkeypatch, tmp_path):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(ModelWeightsMissing) as err:
        create_model("ViT-B-32:laion2b_s34b_b79k", cache_dir=str(tmp_path))
    assert "ViT-B-32:laion2b_s34b_b79k" in str(err.value) and str(tmp_path) in str(err.value)


def test_tiny_model_is_deterministic_across_builds(tiny_embedder):
    again = Embedder.from_spec("tiny-test")
    texts = ["rose gold hoops", "pearl drop earrings"]
    np.testing.assert_allclose(again.embed_texts(texts), tiny_embedder.embed_texts(texts), atol=1e-6)


def test_local_checkpoint_route_loads_those_weights(tmp_path, tiny_embedder):
    """ARCH:/path/checkpoint is the offline route: the file's weights, not the seeded ones, are used."""
    state = {k: v + 0.01 * torch.randn_like(v) for k, v in tiny_embedder.model.state_dict().items()}
    path = tmp_path / "tiny.pt"
    torch.save(state, path)
    loaded = Embedder.from_spec(f"tiny-test:{path}")
    assert loaded.spec.name == f"tiny-test:{path}"
    assert not np.allclose(loaded.embed_text("ring"), tiny_embedder.embed_text("ring"))
    for name, value in loaded.model.state_dict().items():
        torch.testing.assert_close(value, state[name])


def test_embeddings_are_unit_float32(tiny_embedder):
    from PIL import Image

    text = tiny_embedder.embed_texts(["a", "b", "c"])
    result = tiny_embedder.embed_images([Image.new("RGB", (40, 30), "gold"), b"not an image"])
    assert text.dtype == np.float32 and np.allclose(np.linalg.norm(text, axis=1), 1, atol=1e-5)
    assert result.ok == [0] and 1 in result.failures and "not a readable image" in str(result.failures[1])
    assert np.allclose(np.linalg.norm(result.vectors, axis=1), 1, atol=1e-5)


def test_trimmed_text_encoder_matches_open_clip(tiny_embedder):
    """Stopping at the longest prompt must give open_clip's own full-context vectors."""
    texts = ["ring", "a product photo of vintage pearl drop earrings in rose gold", "钻戒"]
    with torch.inference_mode():
        full = tiny_embedder.model.encode_text(tiny_embedder.tokenizer(texts)).numpy()
    full /= np.linalg.norm(full, axis=1, keepdims=True)
    np.testing.assert_allclose(tiny_embedder.embed_texts(texts), full, atol=1e-5)
