"""The one checkpoint format of the meta-learned heads: round trip, version, model spec, damaged files."""

from __future__ import annotations

import io

import numpy as np
import pytest
import torch

from assistant.categories.fewshot import FEWSHOT_FORMAT, Maml, MamlConfig
from assistant.checkpoints import (
    CheckpointError,
    CheckpointFormat,
    CheckpointModelMismatch,
    read_checkpoint,
    write_checkpoint,
)
from assistant.errors import AssistantError
from assistant.personalization.checkpoint import PERSONALIZER_FORMAT

TOY = CheckpointFormat(tag="assistant.toy", version=2, noun="toy head", train_command="train toy")


def weights(payload: dict) -> torch.Tensor:
    return payload["weights"]


def test_round_trip_keeps_the_body_under_a_header(tmp_path):
    path = write_checkpoint(tmp_path / "sub" / "toy.pt", TOY, "tiny-test", {"weights": torch.arange(3.0)})
    assert torch.equal(read_checkpoint(path, TOY, "tiny-test", weights), torch.arange(3.0))
    payload = torch.load(path, weights_only=True)
    assert (payload["format"], payload["format_version"], payload["model_spec"]) == ("assistant.toy", 2, "tiny-test")
    assert [p.name for p in path.parent.iterdir()] == ["toy.pt"], "no temporary file left behind"


def test_every_unusable_file_is_an_assistant_error_that_names_the_file_and_the_fix(tmp_path):
    assert issubclass(CheckpointError, AssistantError) and issubclass(CheckpointModelMismatch, CheckpointError)
    path = write_checkpoint(tmp_path / "toy.pt", TOY, "tiny-test", {"weights": torch.zeros(2)})
    with pytest.raises(CheckpointModelMismatch, match=r"'tiny-test'.*uses 'ViT-B-32:x'.*--model ViT-B-32:x train toy"):
        read_checkpoint(path, TOY, "ViT-B-32:x", weights)

    newer = CheckpointFormat(tag=TOY.tag, version=3, noun=TOY.noun, train_command=TOY.train_command)
    write_checkpoint(path, newer, "tiny-test", {"weights": torch.zeros(2)})
    with pytest.raises(CheckpointError, match=r"newer version of this program \(toy head format 3.*up to 2\)"):
        read_checkpoint(path, TOY, "tiny-test", weights)

    write_checkpoint(path, PERSONALIZER_FORMAT, "tiny-test", {"weights": torch.zeros(2)})
    with pytest.raises(CheckpointError, match=r"is a 'assistant.personalizer' file, not a toy head.*train toy"):
        read_checkpoint(path, TOY, "tiny-test", weights)

    write_checkpoint(path, TOY, "tiny-test", {"other": 1})
    with pytest.raises(CheckpointError, match=r"damaged toy head \(KeyError.*train toy"):
        read_checkpoint(path, TOY, "tiny-test", weights)

    for junk in (b"not a checkpoint", b""):
        path.write_bytes(junk)
        with pytest.raises(CheckpointError, match=rf"{path.name} is not a readable toy head.*train toy"):
            read_checkpoint(path, TOY, "tiny-test", weights)
    buffer = io.BytesIO()
    torch.save([1, 2], buffer)
    path.write_bytes(buffer.getvalue())
    with pytest.raises(CheckpointError, match="is not a toy head"):
        read_checkpoint(path, TOY, "tiny-test", weights)
    with pytest.raises(CheckpointError, match=r"no toy head at .*train one with: python -m assistant train toy"):
        read_checkpoint(tmp_path / "absent.pt", TOY, "tiny-test", weights)


def fewshot_head() -> Maml:
    maml = Maml(8, 14.3, MamlConfig(inner_steps=2))
    with torch.no_grad():
        maml.head.features.weight.copy_(torch.linspace(0.5, 1.5, 8))
    return maml


def test_fewshot_head_round_trip_and_its_wrong_shaped_state(tmp_path):
    maml = fewshot_head()
    maml.save(tmp_path / "head.pt", "tiny-test", {"source": "test"})
    loaded = Maml.load(tmp_path / "head.pt", "tiny-test")
    assert loaded.trained_on == {"source": "test"} and loaded.config == maml.config
    assert np.array_equal(loaded.feature_gain, maml.feature_gain) and loaded.logit_scale == pytest.approx(14.3)
    payload = torch.load(tmp_path / "head.pt", weights_only=True)
    payload["dim"] = 4
    torch.save(payload, tmp_path / "head.pt")
    with pytest.raises(CheckpointError, match=r"damaged few-shot category head \(RuntimeError.*train categories"):
        Maml.load(tmp_path / "head.pt", "tiny-test")


def test_a_fewshot_head_saved_before_the_header_still_loads(tmp_path):
    """Heads written before the format had a header (version 0) keep working in catalogs that have one."""
    maml = fewshot_head()
    legacy = {
        "model_spec": "tiny-test",
        "dim": 8,
        "config": maml.config.__dict__,
        "state": maml.head.state_dict(),
        "trained_on": {"source": "old"},
    }
    assert set(legacy) == FEWSHOT_FORMAT.unversioned_keys
    torch.save(legacy, tmp_path / "head.pt")
    loaded = Maml.load(tmp_path / "head.pt", "tiny-test")
    assert loaded.trained_on == {"source": "old"} and np.array_equal(loaded.feature_gain, maml.feature_gain)
    with pytest.raises(CheckpointModelMismatch):
        Maml.load(tmp_path / "head.pt", "ViT-B-32:x")
