"""The benchmarks run end to end at their smallest sizes and report well-formed figures (no timing asserted)."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from bench import embed, models, search


def test_embed_benchmark_reports_rates_and_ratios(capsys, tmp_path):
    result = embed.main(
        [
            *("--n", "8", "--size", "64", "--batch-size", "4", "--repeats", "1"),
            *("--cache-dir", str(tmp_path), "--text-queries", "5"),
        ]
    )

    names = {row["name"] for row in result["rows"]}
    assert names == {
        "open_clip loop: photos",
        "Embedder.embed_images",
        "Embedder.embed_images (onnx)",
        "open_clip loop: photos + texts",
        "ingest_csv (end to end)",
    }
    assert result["n"] == 8
    for row in result["rows"]:
        assert math.isfinite(row["images_per_s"]) and row["images_per_s"] > 0
        assert math.isfinite(row["ratio"]) and row["ratio"] > 0
        assert row["baseline"] is None or row["baseline"] in names
    # Both paths embed the same photos with the same model, so they agree up to float noise.
    assert result["agreement"] > 0.999
    assert result["runtime_agreement"] >= 0.99  # int8 weights, same model
    text = result["text"]
    assert text["cached_p50_ms"] > 0 and 0 < text["new_p50_ms"] <= text["new_p99_ms"]
    assert "Embedder.embed_images" in capsys.readouterr().out


def test_search_benchmark_reports_latency_recall_and_memory(capsys, tmp_path):
    out = tmp_path / "search.json"
    result = search.main(
        ["--sizes", "1200", "--dim", "16", "--queries", "20", "--selectivities", "0.01,0.5", "--json", str(out)]
    )

    assert [row["kind"] for row in result["rows"]] == ["flat", "hnsw", "ivf"]
    for row in result["rows"]:
        assert 0 < row["p50_ms"] <= row["p99_ms"]
        assert 0.0 <= row["recall@10"] <= 1.0 and row["p50_over_flat"] > 0
        assert row["build_s"] >= 0 and row["memory_mb"] > 0
        assert set(row["filtered"]) == {"0.01", "0.5"}
        assert all(0.0 <= f["recall@10"] <= 1.0 and f["p50_ms"] > 0 for f in row["filtered"].values())
    flat = result["rows"][0]
    assert flat["recall@10"] >= 0.99  # exact search (float rounding may swap a tie)
    assert all(f["recall@10"] >= 0.99 for f in flat["filtered"].values())
    assert json.loads(out.read_text())["rows"] == json.loads(json.dumps(result["rows"]))
    assert "recall@10" in capsys.readouterr().out


def test_search_benchmark_reads_features_from_a_npy_file(tmp_path):
    features = tmp_path / "features.npy"
    np.save(features, np.random.default_rng(0).standard_normal((300, 8)).astype(np.float32))
    result = search.main(["--data", str(features), "--sizes", "1000", "--queries", "20", "--kinds", "flat"])

    assert result["rows"][0]["n"] == 280  # the last 20 rows are the queries
    assert result["rows"][0]["recall@10"] >= 0.99


def test_models_benchmark_measures_what_it_can_build_and_reports_the_rest():
    result = models.main(["--archs", "tiny-test,NoSuchArch", "--photos", "4", "--batch-size", "2", "--queries", "3"])

    tiny, missing = result["rows"]
    assert tiny["photos_per_s"] > 0 and tiny["text_p50_ms"] > 0
    assert tiny["accuracy"] is None and result["best"] is None  # no published accuracy: never ranked
    assert "error" in missing


@pytest.mark.postgres
@pytest.mark.slow
def test_shared_catalog_benchmark_reports_startup_and_freshness(
    postgres_url, postgres_server_instance, tmp_path, monkeypatch, capsys
):
    from bench import shared_catalog

    monkeypatch.setenv("ASSISTANT_CACHE_DIR", str(tmp_path / "cache"))
    cli_url = postgres_server_instance.database("bench_cli")
    argv = ["--url", postgres_url, "--cli-url", cli_url, "--n", "300", "--dim", "16", "--writes", "2"]
    result = shared_catalog.main([*argv, "--cli-writes", "1"])
    assert [row[0].split(":")[0] for row in result["rows"]][-1] == "new server"
    assert all(float(row[1]) >= 0 for row in result["rows"])
    assert result["freshness"]["found"] == 2 and (result["freshness"]["from_call"] > 0).all()
    cli = result["cli"]  # a real `ingest` command; this test server keeps no commit timestamps
    assert cli["from_commit"] is None and cli["from_start"][0] > 0 and cli["command_s"][0] > 0
    out = capsys.readouterr().out
    assert "write -> this server's index holds it" in out and "`python -m assistant ingest` of one product" in out
    assert "from the ingest's commit: not available" in out


def test_shop_taps_benchmark_reports_every_action_against_the_rerender_baseline(capsys):
    import pytest

    from bench import shop_taps

    if not shop_taps.chromium_available():
        pytest.skip("needs Debian's chromium and chromium-driver")
    result = shop_taps.main(["--taps", "2", "--products", "30"])

    actions = [row["action"] for row in result["rows"]]
    assert actions == ["re-render only (baseline)", "search (Shop)", "like (Shop)", "shortlist (Kiosk)"]
    for row in result["rows"]:
        assert row["taps"] == 2 and 0 < row["p50_ms"] <= row["p99_ms"] and row["vs_rerender"] > 0
    assert "p50 vs re-render" in capsys.readouterr().out
