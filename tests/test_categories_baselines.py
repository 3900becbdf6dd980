"""Few-shot baselines (zero-shot, photo prototype, prototype blend, linear probe), near-duplicate removal, and
``eval categories`` across two labelled sets and with the image-only ``lite0-imagenet`` model."""

from __future__ import annotations

import csv
import io
import json

import numpy as np
import pytest
from category_shapes import SHAPES, write_shapes_dataset
from PIL import Image

from assistant.categories import baselines
from assistant.categories.blend import blend_prototype
from assistant.categories.episodes import EpisodeSampler
from assistant.categories.fewshot import EpisodeTensors
from assistant.categories.labelled import deduplicate, read_labels, remove_overlap
from assistant.cli.main import main
from assistant.clip.embedder import normalize

DIM, CLASSES, PER_CLASS = 32, 6, 30


@pytest.fixture(scope="module")
def episodes():
    """Vectors around class centres with noisy text prototypes, and 20 5-way 3-shot episodes over them."""
    rng = np.random.default_rng(0)
    centres = normalize(rng.normal(size=(CLASSES, DIM)))
    item_classes = np.repeat(np.arange(CLASSES), PER_CLASS)
    vectors = normalize(centres[item_classes] + 0.35 * rng.normal(size=(len(item_classes), DIM)))
    text = normalize(centres + 0.5 * rng.normal(size=(CLASSES, DIM)))
    sampled = EpisodeSampler(item_classes, range(CLASSES), ways=5, shots=3, queries=6, seed=1).batch(20)
    return sampled, vectors, text, EpisodeTensors.build(sampled, vectors, text)


def accuracy(predicted: np.ndarray, sampled) -> float:
    return float(np.mean([(p == e.query_labels).mean() for p, e in zip(predicted, sampled)]))


def test_prototype_is_the_nearest_photo_mean_and_ignores_text(episodes):
    sampled, vectors, _, batch = episodes
    predicted = baselines.prototype(batch)
    for episode, labels in zip(sampled, predicted):
        means = normalize(np.stack([vectors[episode.support[episode.support_labels == n]].mean(0) for n in range(5)]))
        np.testing.assert_array_equal(labels, (vectors[episode.query] @ means.T).argmax(1))
    scrambled = EpisodeTensors(batch.text.flip(1), batch.support, batch.support_labels, batch.query, None)
    np.testing.assert_array_equal(baselines.prototype(scrambled), predicted)
    assert accuracy(predicted, sampled) > 0.6  # chance is 0.2


def test_blend_and_zero_shot_match_the_catalog_formulas(episodes):
    sampled, vectors, text, batch = episodes
    blended, zero = baselines.prototype_blend(batch), baselines.zero_shot(batch)
    for episode, blend_labels, zero_labels in zip(sampled, blended, zero):
        classes_text = text[episode.classes]
        support = vectors[episode.support]
        protos = np.stack([blend_prototype(classes_text[n], support[episode.support_labels == n]) for n in range(5)])
        query = vectors[episode.query]
        np.testing.assert_array_equal(blend_labels, (query @ protos.T).argmax(1))
        np.testing.assert_array_equal(zero_labels, (query @ classes_text.T).argmax(1))


def test_linear_probe_fits_its_shots_and_generalises(episodes):
    sampled, _, _, batch = episodes
    on_support = EpisodeTensors(batch.text, batch.support, batch.support_labels, batch.support, None)
    fitted = baselines.linear_probe(on_support)
    assert (fitted == batch.support_labels.numpy()).mean() >= 0.95  # regularised: nearly all shots fitted
    loose = baselines.linear_probe(on_support, baselines.LinearProbeConfig(inverse_regularisation=1e4))
    assert (loose == batch.support_labels.numpy()).all()  # separable shots, barely regularised: fitted exactly
    assert accuracy(baselines.linear_probe(batch), sampled) > 0.6
    weak = baselines.LinearProbeConfig(steps=0)  # untrained: every logit equal, so always class 0
    assert (baselines.linear_probe(batch, weak) == 0).all()


def _jpeg_copy(source, target, size: int) -> None:
    buffer = io.BytesIO()
    Image.open(source).convert("RGB").resize((size, size)).save(buffer, format="JPEG", quality=70)
    target.write_bytes(buffer.getvalue())


def test_near_duplicates_are_removed_by_hash_or_by_the_group_column(tmp_path):
    labels = write_shapes_dataset(tmp_path, per_class=6)
    with open(labels, newline="") as f:
        rows = list(csv.DictReader(f))
    _jpeg_copy(tmp_path / rows[0]["path"], tmp_path / "images/recoded.jpg", 80)  # same photo, other size/encoding
    with open(labels, "a", newline="") as f:
        csv.writer(f).writerow(["images/recoded.jpg", rows[0]["label"], "test"])
    items = read_labels(labels, tmp_path)
    kept, report = deduplicate(items)
    paths = {i.path.name for i in kept}
    assert report.near_duplicates_removed >= 1 and report.near_duplicates_by.startswith("difference hash")
    assert "recoded.jpg" in paths and rows[0]["path"].split("/")[1] not in paths  # the test copy is kept
    _, exact_only = deduplicate(read_labels(labels, tmp_path), near_duplicate_bits=None)
    assert exact_only.kept == len(items) and exact_only.near_duplicates_removed == 0

    grouped = tmp_path / "grouped.csv"
    with open(grouped, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["path", "label", "split", "neardup_group"])
        for n, row in enumerate(rows):
            writer.writerow([row["path"], row["label"], row["split"], 0 if n < 3 else n])  # rows 0-2: one group
    kept, report = deduplicate(read_labels(grouped, tmp_path))
    assert report.near_duplicates_by == "group column" and report.near_duplicates_removed == 2
    assert len(kept) == len(rows) - 2


def test_overlap_between_training_and_test_sets_is_removed(tmp_path):
    train_labels = write_shapes_dataset(tmp_path / "a", per_class=4, seed=0)
    test_labels = write_shapes_dataset(tmp_path / "b", per_class=4, seed=1)
    with open(test_labels, newline="") as f:
        first = next(csv.DictReader(f))["path"]
    _jpeg_copy(tmp_path / "b" / first, tmp_path / "a/images/leak.jpg", 100)  # another shop's copy of a test photo
    with open(train_labels, "a", newline="") as f:
        csv.writer(f).writerow(["images/leak.jpg", "RED CIRCLE", "training"])
    train, _ = deduplicate(read_labels(train_labels, tmp_path / "a"), near_duplicate_bits=None)
    test, _ = deduplicate(read_labels(test_labels, tmp_path / "b"), near_duplicate_bits=None)
    kept, removed = remove_overlap(train, test)
    assert removed >= 1 and "leak.jpg" not in {i.path.name for i in kept}


def run_eval(tmp_path, *args: str) -> tuple[int, dict | None]:
    out = tmp_path / "report.json"
    rc = main([*args[:2], "eval", "categories", *args[2:], "--json", str(out)])
    return rc, (json.loads(out.read_text()) if out.exists() else None)


@pytest.mark.slow
def test_cross_source_meta_trains_on_one_set_and_tests_every_photo_of_the_other(tmp_path, capsys):
    train_labels = write_shapes_dataset(tmp_path / "shop_a", per_class=14, seed=0)
    test_labels = write_shapes_dataset(tmp_path / "shop_b", per_class=10, seed=1, with_split=False)
    rc, report = run_eval(
        tmp_path,
        "--model",
        "tiny-test",
        "--images",
        str(tmp_path / "shop_b"),
        "--labels",
        str(test_labels),
        "--train-images",
        str(tmp_path / "shop_a"),
        "--train-labels",
        str(train_labels),
        "--shots",
        "1",
        "--episodes",
        "20",
        "--meta-steps",
        "3",
    )
    assert rc == 0
    data = report["dataset"]
    train = data["train_source"]
    assert (
        data["test_images"] == data["kept"]
        and data["train_images"] + train["copies_of_test_images_removed"] == train["kept"]
    )
    result = report["few_shot"]["1"]
    assert result["meta_training"]["test_items_seen"] == 0 and set(result["meta_training"]["classes"]) == set(SHAPES)
    assert (
        set(result["methods"])
        == set(report["methods"])
        == {
            "zero_shot",
            "prototype",
            "prototype_blend",
            "linear_probe",
            "maml",
        }
    )
    assert "meta-trained on another set" in capsys.readouterr().out
    rc, _ = run_eval(tmp_path, "--model", "tiny-test", "--images", "x", "--labels", "y", "--train-images", "z")
    assert rc == 2 and "--train-labels" in capsys.readouterr().err


@pytest.mark.slow
def test_image_only_model_skips_zero_shot_and_says_it_is_an_evaluation_model(tmp_path, capsys, caplog):
    labels = write_shapes_dataset(tmp_path, per_class=8)
    rc, report = run_eval(
        tmp_path,
        "--model",
        "lite0-imagenet",
        "--images",
        str(tmp_path),
        "--labels",
        str(labels),
        "--shots",
        "1",
        "--episodes",
        "20",
        "--meta-steps",
        "2",
    )
    assert rc == 0 and report["model"] == "lite0-imagenet" and report["text_side_real"] is False
    assert "zero_shot" not in report["methods"] and "zero_shot" not in report["few_shot"]["1"]["methods"]
    assert report["few_shot"]["1"]["methods"]["prototype"]["accuracy"] > 0.6  # real features: far above 1/5
    assert "chance by design" in capsys.readouterr().out
    assert any("evaluation model" in r.getMessage() for r in caplog.records)  # the CLI logs it to stderr
