"""Serving over a real catalog: checkpoints (round trip, model-spec mismatch), shopper sessions, reasons."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from postgres_server import both_stores

from assistant.personalization.checkpoint import (
    CheckpointError,
    CheckpointModelMismatch,
    default_checkpoint_path,
    load_checkpoint,
    save_checkpoint,
)
from assistant.personalization.explain import Explainer
from assistant.personalization.items import ItemTable
from assistant.personalization.maml import MetaTrainConfig
from assistant.personalization.serving import Personalizer
from assistant.personalization.training import train_for_catalog

SMALL = MetaTrainConfig(meta_steps=30, meta_batch=16, seed=0)


@pytest.fixture
def trained_catalog(catalog):
    """The 60-product synthetic catalog with a small personaliser checkpoint at its default path."""
    checkpoint, _ = train_for_catalog(catalog, shoppers=150, meta=SMALL)
    save_checkpoint(default_checkpoint_path(catalog.root), checkpoint)
    return catalog


def rose_gold_ids(catalog) -> list[int]:
    return [p.id for p in catalog.products() if p.metal == "rose gold"]


def test_checkpoint_round_trip_and_atomic_write(trained_catalog):
    path = default_checkpoint_path(trained_catalog.root)
    assert path.name == "personalizer.pt" and path.parent == trained_catalog.root
    assert not [p for p in trained_catalog.root.iterdir() if p.name.endswith(".tmp")]
    loaded = load_checkpoint(path, trained_catalog.model_spec)
    assert loaded.model_spec == "tiny-test"
    assert (
        loaded.trained_on["synthetic_shoppers"]
        and "simulated shoppers (synthetic)" in loaded.trained_on["shoppers_source"]
    )
    assert loaded.popularity == {}, "simulated popularity must not steer real rankings"
    again_path = trained_catalog.root / "copy.pt"
    save_checkpoint(again_path, loaded)
    again = load_checkpoint(again_path, "tiny-test")
    for (name, a), (_, b) in zip(loaded.head.state_dict().items(), again.head.state_dict().items()):
        assert torch.equal(a, b), name
    assert again.vocab == loaded.vocab

    liked = rose_gold_ids(trained_catalog)[:3]
    rankings = []
    for checkpoint_path in (path, again_path):
        session = Personalizer.load(checkpoint_path, "tiny-test").session(trained_catalog)
        for pid in liked:
            session.like(pid)
        rankings.append(session.rank(k=10))
    assert rankings[0] == rankings[1]


def test_checkpoint_of_another_model_spec_is_refused_clearly(trained_catalog, tmp_path):
    path = default_checkpoint_path(trained_catalog.root)
    with pytest.raises(
        CheckpointModelMismatch,
        match=r"trained on vectors of model 'tiny-test'.*'ViT-B-32:laion2b_s34b_b79k'.*train personalizer",
    ):
        load_checkpoint(path, "ViT-B-32:laion2b_s34b_b79k")
    with pytest.raises(CheckpointModelMismatch):
        Personalizer.load(path, "ViT-B-32:laion2b_s34b_b79k")
    junk = tmp_path / "junk.pt"
    junk.write_bytes(b"not a checkpoint")
    with pytest.raises(CheckpointError, match="not a readable personaliser checkpoint"):
        load_checkpoint(junk, "tiny-test")
    with pytest.raises(CheckpointError, match="train personalizer"):
        load_checkpoint(tmp_path / "absent.pt", "tiny-test")


@both_stores
def test_without_checkpoint_the_centroid_fallback_serves(catalog):
    personalizer = Personalizer.for_catalog(catalog)
    assert personalizer.method == "centroid" and "no personaliser trained yet" in personalizer.description
    session = personalizer.session(catalog)
    cold = session.rank(k=5)
    assert len(cold) == 5 and all(r.reasons == [] for r in cold)
    liked = catalog.products()[7].id
    session.like(liked)
    ranked = session.rank(k=3)
    assert ranked[0].product_id == liked  # nothing is closer to a liked item than itself
    assert ranked[0].score >= ranked[1].score >= ranked[2].score


@both_stores
def test_session_adapts_to_rose_gold_likes_and_explains(trained_catalog):
    personalizer = Personalizer.for_catalog(trained_catalog)
    assert personalizer.method == "maml"
    session = personalizer.session(trained_catalog)
    metal = {p.id: p.metal for p in trained_catalog.products()}
    rose = rose_gold_ids(trained_catalog)
    cold_share = np.mean([metal[r.product_id] == "rose gold" for r in session.rank(k=10)])
    for pid in rose[:3]:
        session.like(pid)
    ranked = session.rank(k=10, exclude_seen=True)
    assert not {r.product_id for r in ranked} & set(rose[:3])
    share = np.mean([metal[r.product_id] == "rose gold" for r in ranked])
    assert share > cold_share and share >= 0.6
    top_rose = next(r for r in ranked if metal[r.product_id] == "rose gold")
    assert "rose gold, like all 3 of your picks" in top_rose.reasons
    assert all(len(r.reasons) <= 3 for r in ranked)

    # deterministic: a second session with the same likes ranks identically
    other = personalizer.session(trained_catalog)
    for pid in rose[:3]:
        other.like(pid)
    assert other.rank(k=10, exclude_seen=True) == ranked

    session.reset()
    assert session.likes == [] and session.rank(k=10) == personalizer.session(trained_catalog).rank(k=10)


def test_like_skip_candidates_query_and_unknown_products(trained_catalog, tiny_embedder):
    session = Personalizer.for_catalog(trained_catalog).session(trained_catalog)
    ids = [p.id for p in trained_catalog.products()]
    session.like(ids[0])
    session.skip(ids[0])  # a like becomes a skip
    assert session.likes == [] and session.skips == [ids[0]]
    session.like(ids[1])
    session.like(ids[1])
    assert session.likes == [ids[1]]
    with pytest.raises(KeyError, match="not in the catalog"):
        session.like(999_999)
    subset = session.rank(candidate_ids=[ids[5], ids[9], 999_999, ids[2]], k=None)
    assert sorted(r.product_id for r in subset) == sorted([ids[5], ids[9], ids[2]])
    query = tiny_embedder.embed_text("a necklace")
    with_query = session.rank(query_vector=query, k=5)
    assert with_query != session.rank(k=5)
    with pytest.raises(ValueError, match="dimensions"):
        session.rank(query_vector=np.ones(3, np.float32))


@both_stores
def test_catalog_changes_are_picked_up(trained_catalog):
    session = Personalizer.for_catalog(trained_catalog).session(trained_catalog)
    first = trained_catalog.products()[0]
    session.like(first.id)
    trained_catalog.delete([first.sku])
    ranked = session.rank(k=None)
    assert first.id not in {r.product_id for r in ranked}
    assert session.likes == [] and len(ranked) == 59


def test_reasons_in_words():
    items = ItemTable.synthetic_items(n=200, dim=16, seed=2)
    explainer = Explainer(items)
    pearl_earrings = [n for n in range(len(items)) if items.stone[n] == "pearl" and items.category[n] == "earring"]
    liked = pearl_earrings[:1]
    similar = int(np.argsort(-(items.centred @ items.centred[liked[0]]))[1])
    reasons = explainer.reasons([similar], liked)[0]
    assert "looks like the pearl earring you liked" in reasons

    same_metal = [n for n in range(len(items)) if items.metal[n] == items.metal[0]]
    picks, other = same_metal[:3], same_metal[3]
    reasons = explainer.reasons([other], picks)[0]
    assert f"{items.metal[0]}, like all 3 of your picks" in reasons

    every_reason = Explainer(items, max_reasons=10)
    prices = items.prices[picks]
    inside = [n for n in range(len(items)) if prices.min() <= items.prices[n] <= prices.max() and n not in picks]
    outside = [n for n in range(len(items)) if not prices.min() * 0.85 <= items.prices[n] <= prices.max() * 1.15]
    assert inside and outside  # synthetic prices span silver charms to diamond necklaces
    assert "in your price range" in every_reason.reasons(inside[:1], picks)[0]
    assert "in your price range" not in every_reason.reasons(outside[:1], picks)[0]

    popular = Explainer(items, popularity=np.arange(len(items), dtype=np.float32))
    assert popular.reasons([len(items) - 1], [])[0] == ["popular with shoppers"]
    assert popular.reasons([0], [])[0] == []
