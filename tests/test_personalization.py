"""MAML personalisation on synthetic items: inner loop, determinism, a rose-gold shopper, evaluation splits."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from assistant.personalization.baselines import CentroidRanker, popularity_counts
from assistant.personalization.evaluation import (
    EvaluationError,
    EvaluationSetup,
    assert_disjoint,
    evaluate,
    format_table,
    ranking_metrics,
)
from assistant.personalization.head import support_loss
from assistant.personalization.items import AttributeVocab, ItemTable
from assistant.personalization.maml import MetaTrainConfig, adapted_users, batch_scores, head_state
from assistant.personalization.simulator import ShopperSimulator, ShopperTaste
from assistant.personalization.tasks import evaluation_batch, make_batch, query_similarities
from assistant.personalization.training import new_head, train_maml

FAST_META = MetaTrainConfig(meta_steps=60, meta_batch=16, seed=0)


@pytest.fixture(scope="module")
def items() -> ItemTable:
    return ItemTable.synthetic_items(n=300, dim=32, seed=0)


@pytest.fixture(scope="module")
def simulator(items) -> ShopperSimulator:
    return ShopperSimulator(items, seed=0)


@pytest.fixture(scope="module")
def trained(items, simulator):
    """A small MAML head meta-trained on 300 simulated shoppers (a few seconds)."""
    train = simulator.sessions("train", 300)
    vocab = AttributeVocab.from_items(items)
    features = items.features(vocab, popularity_counts(train, len(items)))
    head, losses = train_maml(items, features, vocab, train, FAST_META)
    return head, features, losses


def support_losses(head, features, batch, steps: int) -> torch.Tensor:
    state = head_state(head)
    with torch.no_grad():
        embeddings = head(features)
        users = adapted_users(head, state, embeddings, batch, steps=steps)
        return torch.stack(
            [
                support_loss(
                    users[t],
                    embeddings,
                    batch.query_similarity[t],
                    state["query_weight"],
                    batch.positives[t],
                    batch.positive_mask[t],
                    batch.log_weights[t],
                )
                for t in range(len(batch))
            ]
        )


def test_inner_loop_lowers_support_loss(items, simulator, trained):
    head, features, _ = trained
    test = simulator.sessions("test", 40, n_clicks=15, n_skips=5, query_rate=0.0)
    batch = evaluation_batch(items, test, k=5, k_max=5, skip_weight=head.config.skip_weight)
    before = support_losses(head, features, batch, steps=0)
    after = support_losses(head, features, batch, steps=head.config.inner_steps)
    assert (after < before).all(), "every shopper's support loss should drop after the inner steps"
    assert after.mean() < 0.9 * before.mean()


def test_meta_training_improves_the_prior_and_adaptation_improves_on_it(items, simulator, trained):
    """On validation shoppers never trained on: meta-learned prior > random-init prior; adapted > prior."""
    head, features, _ = trained
    untrained = new_head(features, AttributeVocab.from_items(items), seed=FAST_META.seed)
    validation = simulator.sessions("validation", 100, n_clicks=15, n_skips=5, query_rate=0.0)
    batch = evaluation_batch(items, validation, k=5, k_max=5, skip_weight=head.config.skip_weight)

    def ndcg(model, adapt: bool) -> float:
        return float(ranking_metrics(batch_scores(model, features, batch, adapt=adapt), batch)["ndcg@10"].mean())

    assert ndcg(head, adapt=False) > ndcg(untrained, adapt=False)
    assert ndcg(head, adapt=True) > ndcg(head, adapt=False)


def test_second_order_gradients_differ_from_first_order(items, simulator):
    """Second-order MAML differentiates through the inner loop; first-order does not."""
    from assistant.personalization.maml import meta_loss
    from assistant.personalization.tasks import training_batch

    train = simulator.sessions("train", 50)
    vocab = AttributeVocab.from_items(items)
    features = items.features(vocab)
    head = new_head(features, vocab)
    batch = training_batch(items, train, np.random.default_rng(0), 8, head.config.skip_weight)
    grads = {}
    for first_order in (True, False):
        head.zero_grad()
        meta_loss(head, head_state(head), features, batch, first_order).backward()
        grads[first_order] = head.body[0].weight.grad.clone()
    assert not torch.allclose(grads[True], grads[False])


def test_adaptation_and_training_are_deterministic_under_a_seed(items, simulator, trained):
    head, features, _ = trained
    test = simulator.sessions("test", 20, n_clicks=12, query_rate=0.0)
    batch = evaluation_batch(items, test, k=3, k_max=3, skip_weight=head.config.skip_weight)
    assert torch.equal(batch_scores(head, features, batch), batch_scores(head, features, batch))

    train = simulator.sessions("train", 100)
    vocab = AttributeVocab.from_items(items)
    config = MetaTrainConfig(meta_steps=5, meta_batch=8, seed=3)
    first, _ = train_maml(items, features, vocab, train, config)
    second, _ = train_maml(items, features, vocab, train, config)
    for (name, a), (_, b) in zip(first.state_dict().items(), second.state_dict().items()):
        assert torch.equal(a, b), name
    # the simulator too: same seed, same shoppers and clicks
    again = ShopperSimulator(items, seed=0).sessions("test", 20, n_clicks=12, query_rate=0.0)
    assert all(np.array_equal(a, b) for a, b in zip(test.clicks, again.clicks))


def test_rose_gold_shopper_gets_rose_gold_ranked_up_after_three_clicks(items, simulator, trained):
    head, features, _ = trained
    fan = ShopperTaste("rose-gold-fan", {"metal": {"rose gold": 4.0}})
    clicks, _, _ = simulator.session(fan, np.random.default_rng(7), n_clicks=3, n_skips=0, with_query=False)
    rose = np.array([m == "rose gold" for m in items.metal])
    assert rose[clicks].all(), "the simulated fan clicks rose gold only"
    batch = make_batch(
        items,
        [clicks],
        [np.zeros(0, np.int64)],
        [np.zeros(0, np.int64)],
        [clicks],
        query_similarities(items, [None]),
        head.config.skip_weight,
    )

    def rose_share_in_top(scores: torch.Tensor, top: int = 20) -> float:
        ranked = torch.argsort(scores[0].masked_fill(~batch.candidate_mask[0], -1e9), descending=True)[:top]
        return float(rose[ranked.numpy()].mean())

    cold = rose_share_in_top(batch_scores(head, features, batch, adapt=False))
    adapted = rose_share_in_top(batch_scores(head, features, batch))
    assert adapted > cold
    assert adapted >= 0.8, f"only {adapted:.0%} of the top 20 are rose gold (base rate {rose.mean():.0%})"


def test_simulated_splits_are_disjoint_and_overlap_is_refused(simulator):
    train = simulator.sessions("train", 30)
    test = simulator.sessions("test", 30)
    assert not set(train.shopper_ids) & set(test.shopper_ids)
    assert all(s.startswith("sim-") for s in train.shopper_ids + test.shopper_ids), "synthetic shoppers say so"
    assert train.synthetic and test.synthetic
    # same index, different split: different tastes and clicks
    assert simulator.taste("train", 0) != simulator.taste("test", 0)
    assert_disjoint({"train": train, "test": test})
    with pytest.raises(EvaluationError, match=r"sim-train-00003.*train.*test"):
        assert_disjoint({"train": train, "test": train.subset([3, 4])})


def test_evaluation_uses_only_training_shoppers_for_training(items, simulator, monkeypatch):
    """Popularity and meta-training see the train split only; validation and test shoppers are held out."""
    import assistant.personalization.evaluation as evaluation

    train = simulator.sessions("train", 120)
    validation = simulator.sessions("validation", 40, n_clicks=14, n_skips=4, query_rate=0.0)
    test = simulator.sessions("test", 60, n_clicks=14, n_skips=4, query_rate=0.0)
    trained_on = []
    real_train_maml = evaluation.train_maml

    def spy(items_, features, vocab, sessions, *args, **kwargs):
        trained_on.append(list(sessions.shopper_ids))
        return real_train_maml(items_, features, vocab, sessions, *args, **kwargs)

    monkeypatch.setattr(evaluation, "train_maml", spy)
    setup = EvaluationSetup(
        items, train, validation, test, clicks=(1, 3), meta=MetaTrainConfig(meta_steps=10, meta_batch=8)
    )
    report = evaluate(setup)
    assert trained_on == [train.shopper_ids]
    assert report["setup"]["shoppers"] == {"train": 120, "validation": 40, "test": 60}
    for k in ("1", "3"):
        assert set(report["k_clicks"][k]) == {"maml", "popularity", "centroid", "logreg", "prior", "finetune"}
        for metrics in report["k_clicks"][k].values():
            assert 0.0 <= metrics["ndcg@10"] <= 1.0 and 0.0 <= metrics["mrr"] <= 1.0
            assert metrics["ci95"][0] <= metrics["ndcg@10"] <= metrics["ci95"][1]
    # the prior ignores clicks, the centroid does not
    assert report["k_clicks"]["1"]["prior"] == report["k_clicks"]["3"]["prior"]
    assert "K=3" in format_table(report)

    with pytest.raises(EvaluationError, match="both the train and the test"):
        evaluate(EvaluationSetup(items, train, validation, train.subset(range(5)), clicks=(1,)))


def test_ranking_metrics_by_hand(items):
    """One shopper, held-out items 5 and 7 of 300; item 5 ranked 1st and item 7 ranked 3rd."""
    batch = make_batch(
        items,
        [np.array([0])],
        [np.zeros(0, np.int64)],
        [np.array([5, 7])],
        [np.array([0])],
        query_similarities(items, [None]),
        10.0,
    )
    scores = torch.zeros(1, len(items))
    scores[0, 5], scores[0, 9], scores[0, 7], scores[0, 0] = 3.0, 2.0, 1.0, 99.0  # item 0 is excluded
    m = ranking_metrics(scores, batch)
    ideal = 1 + 1 / np.log2(3)
    assert m["ndcg@10"][0] == pytest.approx((1 + 1 / np.log2(4)) / ideal)
    assert m["hr@10"][0] == 1.0 and m["mrr"][0] == 1.0


def test_centroid_ranks_neighbours_of_the_clicks_first(items):
    batch = make_batch(
        items,
        [np.array([10])],
        [np.zeros(0, np.int64)],
        [np.zeros(0, np.int64)],
        [np.zeros(0, np.int64)],
        query_similarities(items, [None]),
        10.0,
    )
    scores = CentroidRanker(items).scores(batch)
    assert int(scores[0].argmax()) == 10


def test_early_stopping_keeps_the_best_validated_state(items, simulator):
    from assistant.personalization.maml import meta_train

    train = simulator.sessions("train", 60)
    vocab = AttributeVocab.from_items(items)
    features = items.features(vocab)
    head = new_head(features, vocab)
    scores = iter([0.1, 0.9, 0.2, 0.3])
    seen = []

    def validate(model) -> float:
        seen.append({k: v.clone() for k, v in model.state_dict().items()})
        return next(scores)

    meta_train(
        head, items, features, train, MetaTrainConfig(meta_steps=8, meta_batch=8), validate=validate, validate_every=2
    )
    assert len(seen) == 4  # after steps 2, 4, 6 and 8
    best = seen[1]
    assert all(torch.equal(v, best[k]) for k, v in head.state_dict().items())
    assert not torch.equal(seen[3]["user"], best["user"])
