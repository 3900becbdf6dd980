"""Cold start of a category held out of meta-training entirely: shoppers, the no-leak audit, the CLI."""

from __future__ import annotations

import json

import numpy as np
import pytest

from assistant.cli.main import main
from assistant.personalization import cold_start
from assistant.personalization.evaluation import EvaluationError
from assistant.personalization.items import ItemTable
from assistant.personalization.maml import MetaTrainConfig

METHODS = {"maml", "popularity", "centroid", "logreg", "prior", "finetune"}


@pytest.fixture(scope="module")
def items() -> ItemTable:
    return ItemTable.synthetic_items(300, dim=32, seed=0)


def test_test_shoppers_click_other_items_first_and_are_scored_on_the_category(items):
    support, skips, held_out, tried = cold_start.cold_start_shoppers(items, "necklace", 30, k_max=5)
    category = np.array(items.category)
    assert len(support) == 30 and tried >= 30
    for s, k, h in zip(support, skips, held_out):
        assert len(s) == 5 and (category[s] != "necklace").all() and (category[k] != "necklace").all()
        assert 1 <= len(h) <= 10 and (category[h] == "necklace").all()
    # shoppers who favour necklaces click them far more than the catalog's share (1 in 5) would give
    shares = [len(h) / (len(h) + len(s)) for s, h in zip(support, held_out)]
    assert np.mean(shares) > 0.4


@pytest.mark.slow
def test_no_item_of_the_held_out_category_reaches_training(items, monkeypatch):
    seen_tables = []
    original = cold_start.train_rankers

    def audited(table, features, vocab, train, validation, *rest):
        seen_tables.append(table)
        for sessions in (train, validation):
            for rows in [*sessions.clicks, *sessions.skips]:
                assert all(table.category[r] != "necklace" for r in rows)
        assert "necklace" not in vocab.values["category"] and features.shape[0] == len(table)
        return original(table, features, vocab, train, validation, *rest)

    monkeypatch.setattr(cold_start, "train_rankers", audited)
    report = cold_start.evaluate_cold_start(
        items, "Necklace", 120, 40, 30, (1, 3), MetaTrainConfig(meta_steps=10), {"inner_steps": 2}
    )
    assert len(seen_tables) == 1 and len(seen_tables[0]) == 240 and "necklace" not in seen_tables[0].category
    assert report["category"] == "necklace" and report["setup"]["held_out_items"] == 60
    assert report["setup"]["shoppers"]["test"] == 30
    for k in ("1", "3"):
        assert set(report["k_clicks"][k]) == METHODS
        for result in report["k_clicks"][k].values():
            assert 0.0 <= result["ndcg@10"] <= 1.0
        # popularity was counted without the category: its never-clicked items cannot enter the top 10
        assert report["k_clicks"][k]["popularity"]["hr@10"] == 0.0
    with pytest.raises(EvaluationError, match="tiara"):
        cold_start.evaluate_cold_start(items, "tiara", 10, 10, 5, (1,), MetaTrainConfig(meta_steps=1), {})


@pytest.mark.slow
def test_cli_adds_the_cold_start_to_the_report(catalog, tmp_path, capsys):
    out = tmp_path / "report.json"
    args = ["--model", "tiny-test", "--catalog", str(catalog.root), "eval", "personalization", "--clicks", "1", "2"]
    fast = ["--shoppers", "20", "--steps", "10", "--train-shoppers", "100", "--json", str(out)]
    category = next(c for c in catalog.facet_values("category") if c)
    assert main([*args, *fast, "--holdout-category", category]) == 0
    report = json.loads(out.read_text())
    assert report["cold_start"]["category"] == category and set(report["cold_start"]["k_clicks"]) == {"1", "2"}
    assert f"cold start of {category!r}" in capsys.readouterr().out
    assert main([*args, *fast, "--holdout-category", category, "--log", str(tmp_path / "events.csv")]) == 2
    assert "cannot be used with --log" in capsys.readouterr().err
