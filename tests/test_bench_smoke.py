"""The benchmarks run end to end at their smallest sizes and report well-formed figures (no timing asserted)."""

from __future__ import annotations

import math

from bench import embed, search


def test_embed_benchmark_reports_rates_and_ratios(capsys):
    result = embed.main(["--n", "8", "--size", "64", "--batch-size", "4", "--repeats", "1"])

    names = {row["name"] for row in result["rows"]}
    assert names == {
        "open_clip loop: photos",
        "Embedder.embed_images",
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
    assert "Embedder.embed_images" in capsys.readouterr().out


def test_search_benchmark_reports_latency_and_recall(capsys):
    result = search.main(["--sizes", "200", "--dim", "16", "--queries", "20", "--filter-fraction", "0.1"])

    assert [row["kind"] for row in result["rows"]] == ["flat", "hnsw"]
    for row in result["rows"]:
        assert 0 < row["p50_ms"] <= row["p99_ms"]
        assert 0.0 <= row["recall"] <= 1.0 and 0.0 <= row["filtered_recall"] <= 1.0
        assert row["p50_vs_flat"] > 0
    flat = result["rows"][0]
    assert flat["recall"] >= 0.99 and flat["filtered_recall"] >= 0.99  # exact search (float rounding may swap a tie)
    assert "recall@10" in capsys.readouterr().out


def test_shop_taps_benchmark_reports_every_action_against_the_rerender_baseline(capsys):
    import pytest

    from bench import shop_taps

    if not (shop_taps.CHROMIUM.exists() and shop_taps.CHROMEDRIVER.exists()):
        pytest.skip("needs Debian's chromium and chromium-driver")
    result = shop_taps.main(["--taps", "2", "--products", "30"])

    actions = [row["action"] for row in result["rows"]]
    assert actions == ["re-render only (baseline)", "search (Shop)", "like (Shop)", "shortlist (Kiosk)"]
    for row in result["rows"]:
        assert row["taps"] == 2 and 0 < row["p50_ms"] <= row["p99_ms"] and row["vs_rerender"] > 0
    assert "p50 vs re-render" in capsys.readouterr().out
