"""``eval search``: ranking metrics by hand, and near-duplicates removed before anything is counted."""

from __future__ import annotations

import csv
import io
import json

import numpy as np
import pytest
from category_shapes import SHAPES, write_shapes_dataset
from PIL import Image

from assistant.categories.labelled import read_labels
from assistant.cli.main import main
from assistant.clip.embedder import Embedder
from assistant.search.evaluation import SearchEvaluation, rank_scores


def test_rank_scores_by_hand():
    similarity = np.array([[-np.inf, 0.9, 0.8, 0.1], [0.2, 0.3, 0.9, 0.5]])
    relevant = np.array([[True, False, True, True], [True, False, False, True]])
    scores = rank_scores(similarity, relevant, k=2)
    # row 0 (itself left out): ranking 1 (no), 2 (yes), 3 (yes) -> AP = (1/2 + 2/3) / 2
    # row 1: ranking 2 (no), 3 (yes), 1 (no), 0 (yes) -> AP = (1/2 + 2/4) / 2
    np.testing.assert_allclose(scores.p_at_1, [0, 0])
    np.testing.assert_allclose(scores.p_at_k, [0.5, 0.5])
    np.testing.assert_allclose(scores.average_precision, [(1 / 2 + 2 / 3) / 2, 0.5])


def _noise_set_with_copies(root, n: int = 24) -> tuple:
    """Photos of pure noise (no category signal) in 4 labels, each with a re-encoded JPEG copy beside it."""
    rng = np.random.default_rng(0)
    (root / "images").mkdir(parents=True)
    rows = []
    for i in range(n):
        image = Image.fromarray(rng.integers(0, 256, (64, 64, 3), dtype=np.uint8))
        image.save(root / f"images/noise_{i}.png")
        buffer = io.BytesIO()
        image.save(buffer, format="JPEG", quality=90)
        (root / f"images/noise_{i}_copy.jpg").write_bytes(buffer.getvalue())
        label = list(SHAPES)[i % 4].upper()
        rows += [(f"images/noise_{i}.png", label), (f"images/noise_{i}_copy.jpg", label)]
    labels = root / "labels.csv"
    with open(labels, "w", newline="") as f:
        csv.writer(f).writerows([("path", "label"), *rows])
    return labels, n


def test_near_duplicates_are_removed_before_counting(tmp_path, tiny_embedder):
    """With every photo's copy in the gallery P@1 would be perfect; after deduplication it is near chance."""
    labels, n = _noise_set_with_copies(tmp_path)
    items = read_labels(labels, tmp_path)
    evaluation = SearchEvaluation(tiny_embedder, items)
    report = evaluation.run()
    assert report["dataset"]["near_duplicates_removed"] == n and report["dataset"]["photos"] == n
    kept = {i.path.name.split(".")[0].removesuffix("_copy") for i in evaluation.items}
    assert kept == {f"noise_{i}" for i in range(n)}  # one of each pair
    image = report["image_to_image"]
    assert image["queries"] == n and image["p_at_1"] < 0.6  # chance is 5/23
    # the same set with the copies left in: every query finds its own copy first
    everything = tiny_embedder.embed_images([i.path for i in items]).vectors
    similarity = everything @ everything.T
    np.fill_diagonal(similarity, -np.inf)
    classes = np.array([i.label for i in items])
    assert rank_scores(similarity, classes[:, None] == classes[None, :]).p_at_1.mean() == 1.0


def test_eval_search_cli_on_shapes(tmp_path, capsys):
    labels = write_shapes_dataset(tmp_path, per_class=12, duplicates=3)
    out = tmp_path / "search.json"
    rc = main(
        [
            "--model",
            "tiny-test",
            "eval",
            "search",
            "--images",
            str(tmp_path),
            "--labels",
            str(labels),
            "--json",
            str(out),
        ]
    )
    assert rc == 0
    report = json.loads(out.read_text())
    data = report["dataset"]
    assert data["duplicates_removed"] == 3 and data["photos"] == 60 - data["near_duplicates_removed"]
    image = report["image_to_image"]
    assert set(image["per_category"]) == set(SHAPES)
    assert sum(c["queries"] for c in image["per_category"].values()) == image["queries"] == data["photos"]
    assert image["p_at_1"] > 2 * image["chance"]  # coloured shapes: even random features retrieve by colour
    for result in (image, report["text_to_image"]):
        for key in ("p_at_1", "p_at_10", "map", "map_macro", "chance"):
            assert 0.0 <= result[key] <= 1.0
    assert report["text_to_image"]["queries"] == 5
    printed = capsys.readouterr().out
    assert "image -> image (leave-one-out)" in printed and "P@10" in printed and "mAP" in printed


@pytest.mark.devdata
def test_real_features_retrieve_jc5_photos_by_category(tmp_path, jc5):
    """lite0-imagenet on 20 deduplicated jc5 photos per class: photo search is far above chance (0.2)."""
    with open(jc5 / "labels.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    picked, seen_groups = [], set()
    for row in rows:
        group = (row["label"], row["neardup_group"])
        if group not in seen_groups and sum(r["label"] == row["label"] for r in picked) < 20:
            seen_groups.add(group)
            picked.append(row)
    labels = tmp_path / "labels.csv"
    with open(labels, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=["path", "label", "neardup_group"])
        writer.writeheader()
        writer.writerows({k: r[k] for k in writer.fieldnames} for r in picked)
    report = SearchEvaluation(Embedder.from_spec("lite0-imagenet"), read_labels(labels, jc5)).run()
    image = report["image_to_image"]
    assert report["dataset"]["near_duplicates_by"] == "group column" and image["queries"] >= 95
    assert image["p_at_1"] > 0.6 and image["map"] > 2 * image["chance"]
    assert report["text_to_image"] is None  # the text side is random
