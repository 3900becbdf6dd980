"""CLI: ``train personalizer`` and ``eval personalization`` with the documented interface and JSON."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from postgres_server import both_stores

import assistant.cli.personalization as commands
from assistant.catalog import Catalog
from assistant.cli.main import main
from assistant.personalization.checkpoint import load_checkpoint

FAST = ["--steps", "20", "--train-shoppers", "150"]


def checkpoint_on_a_new_server(location: str, tmp_path: Path, monkeypatch) -> Path:
    """The catalog's personaliser file as a freshly started server finds it: a folder's own file, or a database
    catalog's copy mirrored into a new, empty cache folder (so it must have come from the database)."""
    monkeypatch.setenv("ASSISTANT_CACHE_DIR", str(tmp_path / "new-server-cache"))
    reopened = Catalog.open(location, "tiny-test", create=False)
    reopened.close()
    return reopened.root / "personalizer.pt"


@pytest.mark.slow
@both_stores
def test_eval_personalization_writes_the_documented_json(catalog, catalog_location, tmp_path, capsys):
    out = tmp_path / "report.json"
    code = main(
        [
            "--model",
            "tiny-test",
            "--catalog",
            catalog_location,
            "eval",
            "personalization",
            "--clicks",
            "1",
            "3",
            "5",
            "--shoppers",
            "40",
            *FAST,
            "--json",
            str(out),
        ]
    )
    assert code == 0
    report = json.loads(out.read_text())
    assert set(report["k_clicks"]) == {"1", "3", "5"}
    for methods in report["k_clicks"].values():
        assert set(methods) == {"maml", "popularity", "centroid", "logreg", "prior", "finetune"}
        for m in methods.values():
            assert {"ndcg@10", "hr@10", "mrr", "ci95"} <= set(m)
            assert isinstance(m["ndcg@10"], float) and len(m["ci95"]) == 2
    assert report["setup"]["shoppers"]["test"] == 40
    assert report["setup"]["shoppers_source"] == "simulated shoppers (synthetic)"
    printed = capsys.readouterr().out
    assert "nDCG@10" in printed and "K=3: MAML" in printed and "K=5: MAML" in printed


@pytest.mark.slow
def test_eval_without_a_catalog_generates_a_synthetic_one_and_says_so(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(commands, "SYNTHETIC_EVAL_PRODUCTS", 80)
    out = tmp_path / "report.json"
    code = main(
        [
            "--model",
            "tiny-test",
            "--catalog",
            str(tmp_path / "none"),
            "eval",
            "personalization",
            "--clicks",
            "1",
            "3",
            "--shoppers",
            "30",
            *FAST,
            "--json",
            str(out),
        ]
    )
    assert code == 0
    captured = capsys.readouterr()
    assert "generating a synthetic one" in captured.err
    report = json.loads(out.read_text())
    assert "synthetic" in report["setup"]["catalog"] and report["setup"]["synthetic_items"] is True
    assert not (tmp_path / "none").exists(), "the generated catalog is temporary"


def test_eval_requires_json_out(catalog):
    with pytest.raises(SystemExit) as exit_info:
        main(["--model", "tiny-test", "--catalog", str(catalog.root), "eval", "personalization"])
    assert exit_info.value.code == 2


@both_stores
def test_train_personalizer_writes_the_catalog_checkpoint(catalog, catalog_location, tmp_path, monkeypatch, capsys):
    code = main(
        [
            "--model",
            "tiny-test",
            "--catalog",
            catalog_location,
            "train",
            "personalizer",
            "--shoppers",
            "150",
            "--steps",
            "20",
            "--first-order",
        ]
    )
    assert code == 0
    checkpoint = load_checkpoint(checkpoint_on_a_new_server(catalog_location, tmp_path, monkeypatch), "tiny-test")
    assert checkpoint.trained_on["meta"]["first_order"] is True
    assert "wrote" in capsys.readouterr().out


@both_stores
def test_train_personalizer_on_an_event_log_reports_bad_rows(catalog, catalog_location, tmp_path, monkeypatch, capsys):
    skus = [p.sku for p in catalog.products()]
    lines = ["user_id,product_id,event_type,timestamp"]
    for user in range(30):
        for n in range(4):
            lines.append(f"u{user},{skus[(user * 7 + n * 3) % len(skus)]},click,2024-05-01T10:{n:02d}:00")
    lines.append("u1,SYN-99999,click,2024-05-01T11:00:00")
    lines.append("u2,SYN-00001,teleport,2024-05-01T11:00:00")
    log = tmp_path / "events.csv"
    log.write_text("\n".join(lines) + "\n")
    code = main(
        [
            "--model",
            "tiny-test",
            "--catalog",
            catalog_location,
            "train",
            "personalizer",
            "--log",
            str(log),
            "--steps",
            "10",
        ]
    )
    assert code == 0
    err = capsys.readouterr().err
    assert "skipped 2 bad row(s)" in err
    assert "events.csv, row 122, product_id: product 'SYN-99999' is not in the catalog" in err
    assert "events.csv, row 123, event_type: unknown event type 'teleport'" in err
    checkpoint = load_checkpoint(checkpoint_on_a_new_server(catalog_location, tmp_path, monkeypatch), "tiny-test")
    assert not checkpoint.trained_on["synthetic_shoppers"] and checkpoint.popularity  # real popularity kept


@both_stores
def test_train_personalizer_without_products_is_a_user_error(catalog_location, capsys):
    code = main(["--model", "tiny-test", "--catalog", catalog_location, "train", "personalizer"])
    assert code == 2
    assert "no products in catalog" in capsys.readouterr().err


@pytest.mark.slow
def test_eval_personalization_on_an_event_log(catalog, tmp_path, capsys):
    """A log written from simulated sessions (labelled synthetic) over the catalog's skus, one bad row."""
    from assistant.personalization.items import ItemTable
    from assistant.personalization.simulator import ShopperSimulator

    items = ItemTable.from_catalog(catalog)
    sessions = ShopperSimulator(items, seed=5).sessions("train", 200, n_clicks=12, n_skips=6)
    lines = ["user_id,product_id,event_type,timestamp"]
    for user, clicks, skips in zip(sessions.shopper_ids, sessions.clicks, sessions.skips):
        events = [(items.skus[s], "view") for s in skips] + [(items.skus[c], "click") for c in clicks]
        lines += [f"{user},{sku},{kind},{1714557600 + t}" for t, (sku, kind) in enumerate(events)]
    lines.append("sim-x,SYN-00001,click,not-a-time")
    log = tmp_path / "synthetic-events.csv"
    log.write_text("\n".join(lines) + "\n")
    out = tmp_path / "report.json"
    code = main(
        [
            "--model",
            "tiny-test",
            "--catalog",
            str(catalog.root),
            "eval",
            "personalization",
            "--clicks",
            "1",
            "3",
            "--log",
            str(log),
            "--steps",
            "20",
            "--json",
            str(out),
        ]
    )
    assert code == 0
    report = json.loads(out.read_text())
    shoppers = report["setup"]["shoppers"]
    assert shoppers["test"] > 5 and shoppers["train"] > 100 and sum(shoppers.values()) <= 200
    assert report["setup"]["shoppers_source"] == f"event log {log}"
    assert report["setup"]["rejected_rows"] == 1
    assert "not-a-time" in capsys.readouterr().err
