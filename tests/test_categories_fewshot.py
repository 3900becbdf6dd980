"""Episodes, MAML with torch.func (inner loop, first/second order, head in the product space), held-out audit."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from category_shapes import write_shapes_dataset

from assistant.categories import Classifier, LabelSet
from assistant.categories.blend import blend_prototype
from assistant.categories.episodes import EpisodeSampler
from assistant.categories.evaluation import CategoryEvaluation, EvalSettings
from assistant.categories.fewshot import EpisodeTensors, Maml, MamlConfig, meta_train_head
from assistant.categories.labelled import read_labels
from assistant.checkpoints import CheckpointModelMismatch
from assistant.clip.embedder import normalize
from assistant.errors import TrainingDataError

DIM, CLASSES, PER_CLASS = 32, 8, 30


@pytest.fixture(scope="module")
def clusters():
    """Vectors around class centres, and noisy text prototypes of those centres (as CLIP's would be)."""
    rng = np.random.default_rng(0)
    centres = normalize(rng.normal(size=(CLASSES, DIM)))
    item_classes = np.repeat(np.arange(CLASSES), PER_CLASS)
    vectors = normalize(centres[item_classes] + 0.35 * rng.normal(size=(len(item_classes), DIM)))
    text = normalize(centres + 0.5 * rng.normal(size=(CLASSES, DIM)))
    return vectors, item_classes, text


def test_episodes_come_only_from_the_pool_they_are_given(clusters):
    _, item_classes, _ = clusters
    sampler = EpisodeSampler(item_classes, classes=[0, 1, 2, 3], ways=3, shots=2, queries=4, seed=1, always_include=[3])
    for episode in sampler.batch(20):
        assert 3 in episode.classes and set(episode.classes) <= {0, 1, 2, 3}
        assert set(item_classes[episode.items]) <= {0, 1, 2, 3}
        assert len(set(episode.items)) == len(episode.items) == 3 * (2 + 4)
        assert (episode.classes[episode.support_labels] == item_classes[episode.support]).all()
        assert (episode.classes[episode.query_labels] == item_classes[episode.query]).all()
    with pytest.raises(TrainingDataError, match="fewer than"):
        EpisodeSampler(item_classes, [0, 1], ways=2, shots=20, queries=20)


@pytest.mark.parametrize("first_order", [False, True])
def test_inner_loop_reduces_support_loss(clusters, first_order):
    vectors, item_classes, text = clusters
    maml = Maml(DIM, logit_scale=14.3, config=MamlConfig(first_order=first_order))
    batch = EpisodeTensors.build(EpisodeSampler(item_classes, range(CLASSES), 5, 3, 5, seed=2).batch(4), vectors, text)
    for e in range(4):
        losses = [
            maml.support_loss(batch.text[e], batch.support[e], batch.support_labels[e], steps) for steps in (0, 1, 5)
        ]
        assert losses[2] < losses[1] < losses[0]


def test_without_inner_steps_a_new_head_is_the_prototype_blend(clusters):
    vectors, item_classes, text = clusters
    episodes = EpisodeSampler(item_classes, range(CLASSES), 5, 3, 6, seed=3).batch(10)
    predicted = Maml(DIM, logit_scale=14.3).predict(EpisodeTensors.build(episodes, vectors, text), steps=0)
    for episode, maml_labels in zip(episodes, predicted):
        prototypes = np.stack(
            [
                blend_prototype(text[c], vectors[episode.support[episode.support_labels == n]])
                for n, c in enumerate(episode.classes)
            ]
        )
        assert (maml_labels == (vectors[episode.query] @ prototypes.T).argmax(1)).all()


def test_second_order_gradients_flow_through_the_inner_loop(clusters):
    vectors, item_classes, text = clusters
    batch = EpisodeTensors.build(EpisodeSampler(item_classes, range(CLASSES), 4, 2, 4, seed=4).batch(3), vectors, text)
    grads = {}
    for first_order in (False, True):
        torch.manual_seed(0)
        maml = Maml(DIM, 14.3, MamlConfig(first_order=first_order))
        loss = torch.func.vmap(maml._episode_loss, in_dims=(None, 0, 0, 0, 0, 0))(
            maml.params(), batch.text, batch.support, batch.support_labels, batch.query, batch.query_labels
        ).mean()
        loss.backward()
        grads[first_order] = maml.head.classes.weight.grad.clone()
    # the class adapter is reached only by differentiating through the inner updates of the class weights
    assert not torch.allclose(grads[False], grads[True])


def test_meta_training_learns_and_the_head_classifies_through_faiss(tmp_path, clusters):
    vectors, item_classes, text = clusters
    train_classes = np.where(item_classes < 5, item_classes, -1)  # classes 5..7 are never seen
    maml, report = meta_train_head(
        vectors,
        train_classes,
        text,
        14.3,
        MamlConfig(shots=3, meta_steps=40, meta_batch=4, meta_lr=0.02, inner_steps=2),
    )
    assert report.classes_seen == {0, 1, 2, 3, 4}
    assert np.mean(report.losses[-10:]) < np.mean(report.losses[:10])

    # The product path (prototypes + bias + query gain in a LabelSet) decides exactly like the head itself.
    episode = EpisodeSampler(item_classes, [5, 6, 7], 3, 3, 8, seed=5).sample()
    head_labels = maml.predict(EpisodeTensors.build([episode], vectors, text))[0]
    prototypes, bias = maml.class_prototypes(text[episode.classes], vectors[episode.support], episode.support_labels)
    labels = LabelSet(
        ["a", "b", "c"], prototypes, logit_scale=maml.logit_scale, bias=bias, query_gain=maml.feature_gain
    )
    decided = Classifier(labels, 0.0).decide(labels.similarities(vectors[episode.query]))
    assert (decided.probabilities.argmax(1) == head_labels).all()

    maml.save(tmp_path / "head.pt", "tiny-test", {"source": "test"})
    loaded = Maml.load(tmp_path / "head.pt", "tiny-test")
    assert loaded.trained_on == {"source": "test"} and np.allclose(loaded.feature_gain, maml.feature_gain)
    with pytest.raises(CheckpointModelMismatch, match=r"model 'tiny-test'.*--model ViT-B-32:\S+ train categories"):
        Maml.load(tmp_path / "head.pt", "ViT-B-32:laion2b_s34b_b79k")


def test_held_out_categories_never_enter_meta_training(tmp_path, tiny_embedder):
    labels = write_shapes_dataset(tmp_path, per_class=12)
    settings = EvalSettings(
        shots=[1], episodes=20, holdout=["Green Triangles"], maml=MamlConfig(meta_steps=4, meta_batch=2)
    )
    evaluation = CategoryEvaluation(tiny_embedder, read_labels(labels, tmp_path), settings=settings)
    report = evaluation.run()

    held = evaluation.class_names.index("green triangle")
    runs = {stage: r for stage, r in evaluation.meta_trained.items() if "without" in stage}
    assert runs, "the held-out mode meta-trained nothing"
    for trained in runs.values():
        items = np.array(sorted(trained.items_seen))
        assert held not in trained.classes_seen
        assert not (evaluation.item_classes[items] == held).any()  # no photo of the held-out category
        assert not evaluation.is_test[items].any()  # and no test photo at all
    # the normal mode does meta-train on it, so the audit above is not vacuous
    assert held in evaluation.meta_trained["meta-training MAML, 1-shot"].classes_seen
    result = report["held_out"]["few_shot"]["1"]
    assert result["held_out_seen_in_meta_training"] == []
    assert "green triangle" not in result["meta_training"]["classes"]
    assert 0.0 <= result["methods"]["maml"]["held_out_accuracy"] <= 1.0
