"""``python -m assistant eval categories`` end to end: generated coloured shapes, bad input, and jc5's test split."""

from __future__ import annotations

import csv
import json

import pytest
from category_shapes import SHAPES, write_shapes_dataset

from assistant.cli.main import main


def run_eval(tmp_path, images, labels, *extra: str) -> tuple[int, dict | None]:
    out = tmp_path / "report.json"
    rc = main(
        [
            "--model",
            "tiny-test",
            "eval",
            "categories",
            "--images",
            str(images),
            "--labels",
            str(labels),
            "--json",
            str(out),
            *extra,
        ]
    )
    return rc, (json.loads(out.read_text()) if out.exists() else None)


def test_eval_on_coloured_shapes_beats_chance_widely(tmp_path, capsys):
    labels = write_shapes_dataset(tmp_path, per_class=24, duplicates=3)
    rc, report = run_eval(
        tmp_path,
        tmp_path,
        labels,
        "--shots",
        "1",
        "5",
        "--episodes",
        "200",
        "--meta-steps",
        "10",
        "--inner-steps",
        "3",
        "--holdout",
        "purple bars",
    )
    assert rc == 0
    data = report["dataset"]
    assert data["duplicates_removed"] == 3 and data["kept"] + data["near_duplicates_removed"] == 5 * 24
    assert data["near_duplicates_by"].startswith("difference hash")
    assert report["label_map"] == {name.upper(): name for name in SHAPES}
    zero = report["zero_shot"]
    assert set(zero["per_class"]) == set(SHAPES) and 0.0 <= zero["top1"] <= 1.0
    assert sum(map(sum, zero["confusion"]["matrix"])) == zero["images"] == data["test_images"]
    assert data["test_images"] + data["train_images"] == data["kept"] and 55 <= data["test_images"] <= 60
    chance = 1 / 5
    for shots in ("1", "5"):
        result = report["few_shot"][shots]
        lo, hi = result["ci95"]
        assert lo <= result["accuracy"] <= hi and result["episodes"] == 200 and result["ways"] == 5
        assert result["method"] == report["default_method"]
        assert set(result["methods"]) == {"zero_shot", "prototype", "prototype_blend", "linear_probe", "maml"}
        # few-shot beats chance by a wide margin: the 95% interval lies far above 20%
        assert lo > chance + 0.25, (shots, result)
    assert (
        report["few_shot"]["5"]["methods"]["prototype_blend"]["accuracy"]
        > report["few_shot"]["1"]["methods"]["prototype_blend"]["accuracy"]
    )
    held = report["held_out"]
    assert held["categories"] == ["purple bar"]
    assert all(r["held_out_seen_in_meta_training"] == [] for r in held["few_shot"].values())
    printed = capsys.readouterr().out
    assert (
        "zero-shot top-1" in printed
        and "5-way 5-shot" in printed
        and "held out of meta-training: purple bar" in printed
    )


def test_eval_without_split_column_splits_each_class_in_halves(tmp_path):
    labels = write_shapes_dataset(tmp_path, per_class=10, with_split=False)
    rc, report = run_eval(tmp_path, tmp_path, labels, "--shots", "2", "--episodes", "20", "--meta-steps", "2")
    assert rc == 0
    data = report["dataset"]
    assert data["train_images"] + data["test_images"] == data["kept"] == 50 - data["near_duplicates_removed"]
    for label in SHAPES:  # each class alternates train/test: halves differ by at most one image
        assert abs(2 * data["test_per_class"][label] - (data["kept"] / 5)) <= 2


@pytest.mark.parametrize(
    "rows, message",
    [
        ("path,label\nimages/circle_000.png,\n", "row 2: empty label"),
        ("path,label\nimages/missing.png,RED CIRCLE\n", "row 2: image .*missing.png does not exist"),
        ("file,label\nimages/circle_000.png,RED CIRCLE\n", "missing column\\(s\\) path"),
        ("path,label,split\nimages/circle_000.png,RED CIRCLE,holdout\n", "row 2: split 'holdout'"),
    ],
)
def test_eval_bad_labels_name_the_row(tmp_path, capsys, rows, message):
    write_shapes_dataset(tmp_path, per_class=2)
    bad = tmp_path / "bad.csv"
    bad.write_text(rows)
    rc, report = run_eval(tmp_path, tmp_path, bad)
    assert rc == 2 and report is None
    assert __import__("re").search(message, capsys.readouterr().err)


def test_eval_runs_end_to_end_on_jc5_test_split(tmp_path, jc5):
    """The real jewelry photos: the whole test split plus a slice of training photos for meta-training."""
    with open(jc5 / "labels.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    taken: dict[str, int] = {}
    subset = []
    for row in rows:
        if row["split"] == "test" or taken.get(row["label"], 0) < 12:
            taken[row["label"]] = taken.get(row["label"], 0) + (row["split"] != "test")
            subset.append({"path": row["path"], "label": row["label"], "split": row["split"]})
    labels = tmp_path / "labels.csv"
    with open(labels, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=["path", "label", "split"])
        writer.writeheader()
        writer.writerows(subset)
    rc, report = run_eval(tmp_path, jc5, labels, "--episodes", "200", "--meta-steps", "5", "--holdout", "NECKLACE")
    assert rc == 0
    assert set(report["zero_shot"]["per_class"]) == {"bracelet", "earring", "necklace", "ring", "watch"}
    assert report["label_map"]["RINGS"] == "ring" and report["label_map"]["WRISTWATCH"] == "watch"
    assert report["dataset"]["duplicates_removed"] >= 2  # jc5's test split holds exact duplicates
    assert report["dataset"]["test_images"] == sum(report["dataset"]["test_per_class"].values())
    assert set(report["few_shot"]) == {"1", "5"}
    assert report["held_out"]["few_shot"]["5"]["held_out_seen_in_meta_training"] == []


def test_unknown_holdout_fails_before_any_work(tmp_path, capsys):
    labels = write_shapes_dataset(tmp_path, per_class=4)
    rc, report = run_eval(tmp_path, tmp_path, labels, "--holdout", "tiara")
    assert rc == 2 and report is None
    assert "held-out category 'tiara' is not among the dataset's categories" in capsys.readouterr().err


def test_labels_naming_subcategories_whose_parent_is_absent(tmp_path):
    labels = write_shapes_dataset(tmp_path, per_class=8)
    renamed = {name.upper(): new for name, new in zip(SHAPES, ["STUDS", "HOOPS", "BANGLES", "CHOKERS", "BANDS"])}
    text = labels.read_text()
    for old, new in renamed.items():
        text = text.replace(f",{old},", f",{new},")
    labels.write_text(text)
    rc, report = run_eval(
        tmp_path, tmp_path, labels, "--shots", "1", "--episodes", "10", "--meta-steps", "2", "--holdout", "stud"
    )
    assert rc == 0
    assert set(report["zero_shot"]["per_class"]) == {"stud", "hoop", "bangle", "choker", "band"}
    assert report["held_out"]["categories"] == ["stud"]
