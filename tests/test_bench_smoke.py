"""The benchmarks run end to end at their smallest sizes and report well-formed figures (no timing asserted)."""

from __future__ import annotations

import math

import pytest

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


@pytest.mark.postgres
def test_shared_catalog_benchmark_reports_startup_and_freshness(postgres_url, tmp_path, monkeypatch, capsys):
    from bench import shared_catalog

    monkeypatch.setenv("ASSISTANT_CACHE_DIR", str(tmp_path / "cache"))
    result = shared_catalog.main(["--url", postgres_url, "--n", "300", "--dim", "16", "--writes", "2"])
    assert [row[0].split(":")[0] for row in result["rows"]][-1] == "new server"
    assert all(float(row[1]) >= 0 for row in result["rows"])
    assert result["freshness"]["found"] == 2 and (result["freshness"]["from_call"] > 0).all()
    assert "write -> this server's index holds it" in capsys.readouterr().out
