"""Evaluate zero-shot and few-shot categorisation on a labelled image set.

Protocol. Images are deduplicated by content hash, then by near-duplicate group (labelled.py; a duplicate
with another label is dropped with it; a duplicate across splits is kept only in the test split). Labels are
matched to registry categories (any case, singular or plural); a label no category matches becomes a category
by name only. Zero-shot classifies every test image among the dataset's categories by text prototypes alone.
Few-shot samples N-way K-shot episodes from the test split and compares, on the same episodes, the baselines
of baselines.py (zero-shot where the model's text side is real, the photo prototype, the prototype blend, a
linear probe) and MAML meta-trained on the training split. Cross-source: with a second labelled set, MAML is
meta-trained on that set alone (minus copies of evaluation photos) and every photo of the first set is a test
photo. The held-out mode removes categories from meta-training altogether and measures them when added by
name only and by K photos. Without a split column, each class is split in two halves by content hash.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field, replace

import numpy as np

from assistant.categories import baselines
from assistant.categories.baselines import LinearProbeConfig
from assistant.categories.classifier import clip_logit_scale
from assistant.categories.episodes import EpisodeSampler
from assistant.categories.fewshot import EpisodeTensors, Maml, MamlConfig, MetaTrainReport, meta_train_head
from assistant.categories.labelled import (
    LabelledImage,
    LabelledSetError,
    assign_splits,
    deduplicate,
    remove_overlap,
    resolve_categories,
)
from assistant.categories.prototypes import PrototypeBuilder, category_prompts
from assistant.categories.registry import CategoryRegistry
from assistant.clip.embedder import Embedder
from assistant.errors import TrainingDataError
from assistant.metalearning import final_loss

METHODS = ("zero_shot", "prototype", "prototype_blend", "linear_probe", "maml")
#: The few-shot method the product uses once a head is meta-trained (it won the evaluation; README "Categories").
DEFAULT_FEWSHOT_METHOD = "maml"
EPISODE_CHUNK = 50
Z95 = 1.959964


@dataclass
class EvalSettings:
    shots: Sequence[int] = (1, 5)
    episodes: int = 200
    ways: int = 5
    queries: int = 15
    holdout: Sequence[str] = ()
    maml: MamlConfig = field(default_factory=MamlConfig)
    linear_probe: LinearProbeConfig = field(default_factory=LinearProbeConfig)
    seed: int = 0


def methods_for(embedder: Embedder) -> tuple[str, ...]:
    """The methods worth comparing with this model: zero-shot only where its text side is real."""
    return tuple(m for m in METHODS if m != "zero_shot" or not embedder.spec.image_only)


# ---------------------------------------------------------------------- metrics
def mean_ci95(values: Sequence[float]) -> tuple[float, list[float]]:
    """Mean and normal-approximation 95% interval of per-episode accuracies, clipped to [0, 1]."""
    values = np.asarray(values, dtype=np.float64)
    mean = float(values.mean())
    half = Z95 * float(values.std(ddof=1)) / math.sqrt(len(values)) if len(values) > 1 else 0.0
    return mean, [max(0.0, mean - half), min(1.0, mean + half)]


def zero_shot_report(predicted: np.ndarray, truth: np.ndarray, class_names: list[str]) -> dict:
    confusion = np.zeros((len(class_names), len(class_names)), dtype=int)
    np.add.at(confusion, (truth, predicted), 1)
    per_class = {
        name: round(float(confusion[i, i] / confusion[i].sum()), 4) if confusion[i].sum() else None
        for i, name in enumerate(class_names)
    }
    return {
        "top1": round(float((predicted == truth).mean()), 4),
        "images": len(truth),
        "per_class": per_class,
        "confusion": {"labels": class_names, "matrix": confusion.tolist()},
    }


# ---------------------------------------------------------------------- evaluation
class CategoryEvaluation:
    """Embeds a labelled set once, then runs the zero-shot, few-shot and held-out evaluations on it.

    With ``train_items`` (another labelled set), meta-training uses only those and every one of ``items`` is a
    test image."""

    def __init__(
        self,
        embedder: Embedder,
        items: list[LabelledImage],
        registry: CategoryRegistry | None = None,
        settings: EvalSettings | None = None,
        progress: Callable[[str, int, int], None] | None = None,
        train_items: list[LabelledImage] | None = None,
    ):
        self.embedder = embedder
        self.settings = settings or EvalSettings()
        self.progress = progress
        self.registry = registry or CategoryRegistry.defaults()
        self.methods = methods_for(embedder)
        items, self.dedup = deduplicate(items)
        self.train_source: dict | None = None
        if train_items is None:
            assign_splits(items)
        else:
            items = self._cross_source(items, train_items)
        self.categories, self.label_map = resolve_categories([i.label for i in items], self.registry)
        self.class_names = [c.name for c in self.categories]
        result = embedder.embed_images([i.path for i in items], progress=self._reporter("embedding images"))
        self.unreadable = {str(items[i].path): message for i, message in result.failures.items()}
        self.items = [items[i] for i in result.ok]
        self.vectors = result.vectors
        position = {n: i for i, n in enumerate(self.class_names)}
        self.item_classes = np.array([position[self.label_map[i.label]] for i in self.items], dtype=int)
        self.is_test = np.array([i.split == "test" for i in self.items])
        builder = PrototypeBuilder(embedder)
        self.class_text = np.stack([builder.text_prototype(category_prompts(c)) for c in self.categories])
        self.logit_scale = clip_logit_scale(embedder)
        #: stage -> what each meta-training run saw (classes and items), for audits of the held-out mode.
        self.meta_trained: dict[str, MetaTrainReport] = {}

    def _cross_source(self, items: list[LabelledImage], train_items: list[LabelledImage]) -> list[LabelledImage]:
        """Training images from the other set only, without copies of any evaluation photo."""
        train_items, train_dedup = deduplicate(train_items)
        train_items, overlap = remove_overlap(train_items, items)
        for item in items:
            item.split = "test"
        for item in train_items:
            item.split = "train"
        self.train_source = {**asdict(train_dedup), "copies_of_test_images_removed": overlap}
        return train_items + items

    def _reporter(self, stage: str):
        return (lambda done, total: self.progress(stage, done, total)) if self.progress else None

    def _class_indices(self, names: Sequence[str]) -> list[int]:
        """Dataset categories by name or synonym, any case, singular or plural."""
        dataset = CategoryRegistry([replace(c, parent=None) for c in self.categories])  # parents may be absent
        wanted = []
        for name in names:
            category = dataset.match_label(name)
            if category is None:
                raise LabelledSetError(
                    f"held-out category {name!r} is not among the dataset's categories ({', '.join(self.class_names)})"
                )
            wanted.append(self.class_names.index(category))
        return wanted

    def run(self) -> dict:
        held = self._class_indices(self.settings.holdout)  # a bad name fails before minutes of work
        report = {
            "model": self.embedder.spec.name,
            "dataset": {
                **asdict(self.dedup),
                "unreadable": self.unreadable,
                "train_images": int((~self.is_test).sum()),
                "test_images": int(self.is_test.sum()),
                "test_per_class": {
                    n: int(((self.item_classes == i) & self.is_test).sum()) for i, n in enumerate(self.class_names)
                },
                "train_source": self.train_source,
            },
            "text_side_real": not self.embedder.spec.image_only,
            "methods": list(self.methods),
            "label_map": self.label_map,
            "zero_shot": self.zero_shot(),
            "few_shot": {},
            "default_method": DEFAULT_FEWSHOT_METHOD,
            "maml": {**asdict(self.settings.maml), "logit_scale_start": self.logit_scale},
        }
        for shots in self.settings.shots:
            report["few_shot"][str(shots)] = self.few_shot(shots)
        if held:
            report["held_out"] = self.held_out(held)
        return report

    def zero_shot(self) -> dict:
        test = np.flatnonzero(self.is_test)
        predicted = (self.vectors[test] @ self.class_text.T).argmax(axis=1)
        return zero_shot_report(predicted, self.item_classes[test], self.class_names)

    def _test_pool(self, shots: int) -> tuple[list[int], int, int]:
        """Classes with enough test images for K shots and at least one query, the ways and the queries."""
        counts = np.bincount(self.item_classes[self.is_test], minlength=len(self.class_names))
        classes = [c for c in range(len(self.class_names)) if counts[c] > shots]
        if len(classes) < 2:
            raise LabelledSetError(f"{shots}-shot episodes need two categories with more than {shots} test images each")
        queries = int(min(self.settings.queries, min(counts[c] for c in classes) - shots))
        return classes, min(self.settings.ways, len(classes)), queries

    def _meta_train(self, shots: int, classes: list[int], stage: str) -> tuple[Maml, dict]:
        """MAML meta-trained on training-split images of ``classes`` only."""
        train = np.flatnonzero(~self.is_test & np.isin(self.item_classes, classes))
        # Meta-training sees only these rows: held-out or test images cannot enter an episode.
        pool_classes = np.full(len(self.items), -1)
        pool_classes[train] = self.item_classes[train]
        config = replace(self.settings.maml, shots=shots)
        try:
            maml, trained = meta_train_head(
                self.vectors, pool_classes, self.class_text, self.logit_scale, config, self._reporter(stage)
            )
        except TrainingDataError as exc:
            raise TrainingDataError(f"{stage}: {exc}") from exc
        self.meta_trained[stage] = trained
        seen = {
            "classes": sorted(self.class_names[c] for c in trained.classes_seen),
            "items": len(trained.items_seen),
            "test_items_seen": int(self.is_test[sorted(trained.items_seen)].sum()),
            "final_loss": final_loss(trained.losses),
        }
        return maml, seen

    def _predict(self, method: str, batch: EpisodeTensors, maml: Maml) -> np.ndarray:
        """Predicted episode labels [E, N*Q] of one method for a batch of episodes."""
        if method == "maml":
            return maml.predict(batch)
        if method == "linear_probe":
            return baselines.linear_probe(batch, self.settings.linear_probe)
        return getattr(baselines, method)(batch)

    def _episode_accuracies(self, sampler: EpisodeSampler, maml: Maml, focus: list[int] = ()) -> dict:
        """Per-method mean accuracy with 95% CI over the sampler's episodes (and on the ``focus`` classes' queries)."""
        episodes = sampler.batch(self.settings.episodes)
        correct = {m: [] for m in self.methods}
        focus_hits = {m: [] for m in self.methods}
        for start in range(0, len(episodes), EPISODE_CHUNK):
            chunk = episodes[start : start + EPISODE_CHUNK]
            batch = EpisodeTensors.build(chunk, self.vectors, self.class_text)
            for method in self.methods:
                for episode, predicted in zip(chunk, self._predict(method, batch, maml)):
                    hits = predicted == episode.query_labels
                    correct[method].append(hits.mean())
                    focus_hits[method].extend(hits[np.isin(episode.classes[episode.query_labels], focus)].tolist())
        out = {}
        for method in self.methods:
            mean, ci = mean_ci95(correct[method])
            out[method] = {"accuracy": round(mean, 4), "ci95": [round(x, 4) for x in ci]}
            if focus:
                out[method]["held_out_accuracy"] = round(float(np.mean(focus_hits[method])), 4)
        return out

    def few_shot(self, shots: int) -> dict:
        classes, ways, queries = self._test_pool(shots)
        # One set: meta-train on the evaluated categories' training images. Two sets: on every category the
        # training set has, as a shop's head would be trained on its own photos.
        meta_classes = classes if self.train_source is None else list(range(len(self.class_names)))
        maml, seen = self._meta_train(shots, meta_classes, f"meta-training MAML, {shots}-shot")
        test_classes = np.where(self.is_test, self.item_classes, -1)
        sampler = EpisodeSampler(test_classes, classes, ways, shots, queries, seed=self.settings.seed + shots)
        methods = self._episode_accuracies(sampler, maml)
        best = max(self.methods, key=lambda m: methods[m]["accuracy"])
        return {
            **methods[DEFAULT_FEWSHOT_METHOD],
            "method": DEFAULT_FEWSHOT_METHOD,
            "best": best,
            "episodes": self.settings.episodes,
            "ways": ways,
            "queries_per_class": queries,
            "methods": methods,
            "meta_training": seen,
        }

    def held_out(self, held: list[int]) -> dict:
        """Remove ``held`` from meta-training; add them back by name only and by K photos."""
        names = [self.class_names[c] for c in held]
        known = [c for c in range(len(self.class_names)) if c not in held]
        zero = self.zero_shot()
        out = {
            "categories": names,
            "name_only": {"per_class": {n: zero["per_class"][n] for n in names}, "top1_all": zero["top1"]},
            "few_shot": {},
        }
        for shots in self.settings.shots:
            classes, ways, queries = self._test_pool(shots)
            if not set(held) <= set(classes):
                raise LabelledSetError(f"held-out categories need more than {shots} test images each")
            maml, seen = self._meta_train(shots, known, f"meta-training MAML without {', '.join(names)}, {shots}-shot")
            leaked = sorted(set(seen["classes"]) & set(names))
            test_classes = np.where(self.is_test, self.item_classes, -1)
            if len(held) > ways:
                raise LabelledSetError(
                    f"hold out at most {ways} categories: every {ways}-way test episode includes all of them"
                )
            sampler = EpisodeSampler(
                test_classes, classes, ways, shots, queries, seed=self.settings.seed + 100 + shots, always_include=held
            )
            out["few_shot"][str(shots)] = {
                "methods": self._episode_accuracies(sampler, maml, focus=held),
                "meta_training": seen,
                "held_out_seen_in_meta_training": leaked,
            }
        return out
