"""The command line gives the same answers as Python, and the documented exit codes."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from postgres_server import both_stores

from assistant.catalog import Catalog, Filters
from assistant.cli.main import main
from assistant.search import SearchEngine

REPO = Path(__file__).resolve().parents[1]


def run_cli(*args: str, env_catalog: str | Path | None = None) -> subprocess.CompletedProcess:
    env = {"PATH": "/usr/bin:/bin", "HOME": str(Path.home()), "ASSISTANT_MODEL": "tiny-test"}
    if "ASSISTANT_CACHE_DIR" in os.environ:  # a database catalog's cache folder (the catalog_location fixture's)
        env["ASSISTANT_CACHE_DIR"] = os.environ["ASSISTANT_CACHE_DIR"]
    if env_catalog:
        env["ASSISTANT_CATALOG"] = str(env_catalog)
    return subprocess.run(
        [sys.executable, "-m", "assistant", *args], cwd=REPO, capture_output=True, text=True, env=env, timeout=300
    )


@pytest.fixture
def bad_csv(tmp_path, synthetic_source) -> Path:
    with open(synthetic_source, newline="", encoding="utf-8") as handle:
        rows = list(csv.reader(handle))
    rows[3][6] = "cheap"  # row 4 gets a bad price
    path = tmp_path / "with-bad-row.csv"
    with open(path, "w", newline="", encoding="utf-8") as f:
        csv.writer(f).writerows(rows[:11])
    return path


@pytest.mark.slow
@both_stores
def test_ingest_search_info_delete_from_the_shell(catalog_location, bad_csv, synthetic_source, tiny_embedder):
    root = catalog_location
    images = str(synthetic_source.parent / "images")
    ingest = run_cli("ingest", str(bad_csv), "--images", images, env_catalog=root)
    assert ingest.returncode == 0, ingest.stderr
    assert "added 9" in ingest.stdout and "rejected 1" in ingest.stdout
    assert "SYN-00003" in ingest.stdout and "4" in ingest.stdout and "price" in ingest.stdout

    strict = run_cli("--catalog", str(root), "ingest", str(bad_csv), "--images", images, "--strict")
    assert strict.returncode == 1 and "unchanged 9" in strict.stdout

    found = run_cli("--catalog", str(root), "search", "rose gold hoops", "--k", "5", "--max-price", "2000", "--json")
    hits = json.loads(found.stdout)
    assert {"sku", "title", "category", "price", "score"} <= set(hits[0])
    python_hits = SearchEngine(Catalog.open(root, "tiny-test"), tiny_embedder).search(
        "rose gold hoops", filters=Filters(max_price=2000), k=5
    )
    assert [h["sku"] for h in hits] == [h.product.sku for h in python_hits]
    assert [h["score"] for h in hits] == pytest.approx([h.score for h in python_hits], abs=1e-5)

    by_photo = json.loads(
        run_cli("--catalog", str(root), "search", "--image", f"{images}/SYN-00002.png", "--json").stdout
    )
    assert len(by_photo) == 9

    info = json.loads(run_cli("--catalog", str(root), "info", "--json").stdout)
    assert (info["products"], info["indexed"], info["model"], info["index_kind"]) == (9, 9, "tiny-test", "flat")

    assert run_cli("--catalog", str(root), "delete", "SYN-00001").returncode == 0
    assert run_cli("--catalog", str(root), "delete", "NOPE").returncode == 1
    assert json.loads(run_cli("--catalog", str(root), "info", "--json").stdout)["indexed"] == 8


def test_user_errors_print_one_line_not_a_traceback(tmp_path, capsys):
    assert main(["--catalog", str(tmp_path / "none"), "--model", "tiny-test", "info"]) == 2
    assert main(["--catalog", str(tmp_path / "c"), "--model", "NoSuchArch:x", "search", "ring"]) == 2
    assert (
        main(["--catalog", str(tmp_path / "c"), "--model", "tiny-test", "ingest", str(tmp_path / "missing.csv")]) == 2
    )
    err = capsys.readouterr().err
    assert "no catalog at" in err and "unknown architecture" in err and "missing.csv" in err
    assert "Traceback" not in err


@pytest.mark.slow
def test_model_mismatch_from_the_shell_names_the_fix(catalog):
    # Both models are random-weight configs that load offline, so only the mismatch can fail this search.
    result = run_cli("--catalog", str(catalog.root), "--model", "tiny-test-wide", "search", "ring")
    assert result.returncode == 2
    assert "was built with model 'tiny-test', not 'tiny-test-wide'" in result.stderr
    fix = f"--catalog {catalog.root} --model tiny-test-wide reindex"
    assert fix in result.stderr
    assert run_cli(*fix.split()).returncode == 0  # the named fix works: the catalog is now tiny-test-wide's
    searched = run_cli("--catalog", str(catalog.root), "--model", "tiny-test-wide", "search", "ring", "--json")
    hits = json.loads(searched.stdout)
    assert hits


@pytest.mark.slow
@both_stores
def test_chinese_query_from_the_shell_searches_its_english_terms(catalog, catalog_location):
    chinese = json.loads(run_cli("--catalog", catalog_location, "search", "玫瑰金 珍珠 耳环", "--json").stdout)
    english = json.loads(run_cli("--catalog", catalog_location, "search", "rose gold pearl earring", "--json").stdout)
    assert [h["sku"] for h in chinese] == [h["sku"] for h in english]
