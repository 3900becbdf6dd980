"""Per-product categories and attributes of a catalog, kept up to date incrementally.

For each vocabulary (the categories, and metal/stone/style) the catalog keeps a similarity table:
the cosine of every product to every prototype, in ``<catalog>/categories/labels.npz``. Labels and
probabilities are derived from it on demand (a softmax over a few dozen columns). When one category
changes, only its prototype is embedded and only its column recomputed; when products change (the
catalog generation moves), the rows are recomputed from cached prototypes, with no text embedding.
"""

from __future__ import annotations

import io
import logging
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from assistant.atomic import atomic_write_bytes
from assistant.catalog import Catalog, Product, audit, history
from assistant.categories.attributes import AttributeVocabulary, load_attributes
from assistant.categories.classifier import Classification, Classifier, Decisions, LabelSet
from assistant.categories.fewshot import Maml
from assistant.categories.prototypes import PRIOR_STRENGTH, PrototypeBuilder, VectorCache
from assistant.categories.registry import (
    CATEGORIES_DIR,
    EXAMPLES_DIR,
    REGISTRY_NAME,
    UNKNOWN,
    Category,
    CategoryRegistry,
    RegistryError,
)
from assistant.categories.translate import QueryTranslator
from assistant.checkpoints import CheckpointError
from assistant.clip.embedder import Embedder, ImageSource
from assistant.images import read_image_bytes
from assistant.reasons import Reason, reason_of

log = logging.getLogger(__name__)

CATEGORY = "category"
LABELS_NAME = "labels.npz"
HEAD_NAME = "fewshot_head.pt"


def _definition(category: dict) -> dict:
    """A category's definition without its timestamps, to compare."""
    return {k: v for k, v in category.items() if k not in audit.TIMESTAMPS}


def head_path(catalog: Catalog):
    return catalog.root / CATEGORIES_DIR / HEAD_NAME


def load_head(catalog: Catalog) -> Maml | None:
    """The catalog's meta-trained few-shot head (``train categories``); None when there is none, CheckpointError
    when the file cannot be used (another model's, damaged, from a newer program)."""
    path = head_path(catalog)
    return Maml.load(path, catalog.model_spec) if path.exists() else None


@dataclass
class SimilarityTable:
    """Cosines of products (rows, by id) to the prototypes of one vocabulary (columns, by key)."""

    ids: np.ndarray  # [N] int64 product ids
    keys: list[str]
    fingerprints: list[str]  # digest of the prototype each column was computed from
    matrix: np.ndarray  # [N, C] float32
    generation: int  # catalog generation the rows belong to
    query: str  # digest of the query transform the rows were computed with

    def column(self, key: str) -> np.ndarray:
        return self.matrix[:, self.keys.index(key)]


@dataclass
class RefreshReport:
    """What a refresh had to recompute: whole rows (products changed) or just some columns."""

    rows_recomputed: bool = False
    columns_recomputed: dict[str, list[str]] = field(default_factory=dict)


@dataclass
class ProductLabel:
    product: Product
    classification: Classification


class CatalogCategories:
    """A catalog's category registry, prototypes and product labels; every edit refreshes incrementally."""

    def __init__(
        self,
        catalog: Catalog,
        embedder: Embedder,
        registry: CategoryRegistry | None = None,
        attributes: AttributeVocabulary | None = None,
    ):
        if embedder.spec.name != catalog.model_spec:
            raise ValueError(f"embedder {embedder.spec.name!r} does not match catalog model {catalog.model_spec!r}")
        self.catalog = catalog
        self.embedder = embedder
        self.registry = registry or CategoryRegistry.load(catalog.root)
        self.attributes = attributes or load_attributes()
        # An image-only model's text prior is noise: its categories learn from their photos alone ("prototype").
        prior = 0.0 if embedder.spec.image_only else PRIOR_STRENGTH
        self.builder = PrototypeBuilder(embedder, VectorCache.for_catalog(catalog.root, catalog.model_spec), prior)
        #: Why the catalog's few-shot head is not used (``head_problem`` in English); None when it is, or there is none.
        self.head_reason: Reason | None = None
        self.head = self._load_head()
        self._tables: dict[str, SimilarityTable] = {}
        self._labels: dict[str, LabelSet] = {}
        self._vectors: tuple[int, np.ndarray, np.ndarray] | None = None  # (generation, ids, vectors)
        self._lock = threading.RLock()  # the app shares one instance between sessions' threads
        self._load_tables()

    @property
    def kinds(self) -> list[str]:
        return [CATEGORY, *self.attributes.kinds]

    @property
    def labels_path(self):
        return self.catalog.root / CATEGORIES_DIR / LABELS_NAME

    # ---------------------------------------------------------------- prototypes
    @property
    def method(self) -> str:
        """How categories with photos are learned: "maml" once a head is meta-trained (it beat the baselines on real
        photos, README "Categories"), else the prototype blend -- or the photo prototype for an image-only model."""
        if self.head is not None:
            return "maml"
        return "prototype" if self.embedder.spec.image_only else "prototype_blend"

    def _load_head(self) -> Maml | None:
        try:
            return load_head(self.catalog)
        except CheckpointError as exc:
            method = "photo_prototype" if self.embedder.spec.image_only else "prototype_blend"
            fallback = Reason(f"categories.fallback.{method}")
            self.head_reason = Reason("categories.head_fallback", {"problem": reason_of(exc), "fallback": fallback})
            log.warning("%s", self.head_reason)
            return None

    @property
    def head_problem(self) -> str | None:
        """Why the catalog's few-shot head is not used, as an English sentence for staff; None when it is."""
        return str(self.head_reason) if self.head_reason else None

    def label_set(self, kind: str = CATEGORY) -> LabelSet:
        if kind == CATEGORY:
            return self.builder.category_labels(self.registry, self.head)
        return self.builder.attribute_labels(self.attributes[kind])

    def install_head(self, maml: Maml, trained_on: dict) -> RefreshReport:
        """Save a meta-trained head with the catalog; categories switch to MAML and are re-classified. The head
        it replaces is kept, so the training can be undone (``assistant.undo``)."""
        path = head_path(self.catalog)
        previous = history.keep(self.catalog, path)
        maml.save(path, self.catalog.model_spec, trained_on)
        self.catalog.publish_file(f"{CATEGORIES_DIR}/{HEAD_NAME}")
        maml.trained_on = trained_on
        self.head, self.head_reason = maml, None
        report = self.refresh()
        details = dict(trained_on) | history.training_details(self.catalog, path, previous)
        audit.record(self.catalog, audit.TRAIN_CATEGORIES, "few-shot category head", details)
        return report

    def reload_head(self) -> RefreshReport:
        """Use the head file as it is now (put back by an undo) and re-classify."""
        self.head_reason = None
        self.head = self._load_head()
        return self.refresh()

    def remove_head(self) -> RefreshReport:
        """Go back to the prototype blend."""
        head_path(self.catalog).unlink(missing_ok=True)
        self.catalog.publish_file(f"{CATEGORIES_DIR}/{HEAD_NAME}")
        self.head, self.head_reason = None, None
        return self.refresh()

    def classifier(self, kind: str = CATEGORY) -> Classifier:
        return Classifier(self.label_set(kind), self.registry.unknown_below)

    def classify(self, vectors: np.ndarray, top_k: int = 3, kind: str = CATEGORY) -> list[Classification]:
        """Top labels with probabilities for unit vectors (e.g. an uploaded photo); "unknown" below threshold."""
        return self.classifier(kind).classify(vectors, top_k)

    def translator(self) -> QueryTranslator:
        """Chinese jewelry terms -> English from this catalog's categories and the attribute vocabularies."""
        return QueryTranslator.from_vocabularies(self.registry, self.attributes)

    # ---------------------------------------------------------------- product table
    def product_vectors(self) -> tuple[np.ndarray, np.ndarray]:
        generation = self.catalog.generation
        if self._vectors is None or self._vectors[0] != generation:
            ids, vectors = self.catalog.vectors()
            self._vectors = (generation, ids, vectors)
        return self._vectors[1], self._vectors[2]

    def refresh(self) -> RefreshReport:
        """Bring every vocabulary's table up to date with the catalog and the registry; saves what changed."""
        with self._lock:
            return self._refresh()

    def _refresh(self) -> RefreshReport:
        report = RefreshReport()
        generation = self.catalog.generation
        for kind in self.kinds:
            labels = self._labels[kind] = self.label_set(kind)
            table = self._tables.get(kind)
            fingerprints, query = labels.column_fingerprints(), labels.query_fingerprint()
            rows_fresh = table is not None and table.generation == generation and table.query == query
            if rows_fresh and table.keys == labels.keys and table.fingerprints == fingerprints:
                continue
            ids, vectors = self.product_vectors()
            if not rows_fresh or not np.array_equal(table.ids, ids):
                report.rows_recomputed = True
                matrix = labels.similarities(vectors) if len(ids) else np.zeros((0, len(labels)), np.float32)
                report.columns_recomputed[kind] = list(labels.keys)
            else:
                matrix, report.columns_recomputed[kind] = self._update_columns(table, labels, fingerprints, vectors)
            self._tables[kind] = SimilarityTable(ids, list(labels.keys), fingerprints, matrix, generation, query)
        if report.columns_recomputed:
            self.builder.cache.save()
            self._save_tables()
        return report

    @staticmethod
    def _update_columns(
        table: SimilarityTable, labels: LabelSet, fingerprints: list[str], vectors: np.ndarray
    ) -> tuple[np.ndarray, list[str]]:
        """Keep columns whose prototype is unchanged; compute only the new or changed ones."""
        old = {(key, print_): j for j, (key, print_) in enumerate(zip(table.keys, table.fingerprints))}
        matrix = np.empty((len(table.ids), len(labels)), dtype=np.float32)
        changed = [j for j, key in enumerate(labels.keys) if (key, fingerprints[j]) not in old]
        for j, key in enumerate(labels.keys):
            if (key, fingerprints[j]) in old:
                matrix[:, j] = table.matrix[:, old[(key, fingerprints[j])]]
        if changed and len(vectors):
            matrix[:, changed] = labels.prepare(vectors) @ labels.vectors[changed].T
        return matrix, [labels.keys[j] for j in changed]

    def table(self, kind: str = CATEGORY) -> SimilarityTable:
        with self._lock:
            self._refresh()
            return self._tables[kind]

    def decisions(self, kind: str = CATEGORY) -> tuple[SimilarityTable, Decisions]:
        with self._lock:
            table, labels = self.table(kind), self._labels[kind]
        return table, Classifier(labels, self.registry.unknown_below).decide(table.matrix)

    def product_labels(self, kind: str = CATEGORY) -> dict[int, str]:
        """Product id -> label ("unknown" below the threshold), for every product of the catalog."""
        table, decided = self.decisions(kind)
        return {int(i): (table.keys[c] if c >= 0 else UNKNOWN) for i, c in zip(table.ids, decided.label_index)}

    def counts(self, kind: str = CATEGORY) -> dict[str, int]:
        """How many products each label holds (sub-categories counted on their own), unknown included."""
        table, decided = self.decisions(kind)
        counts = {key: 0 for key in table.keys} | {UNKNOWN: 0}
        for c in decided.label_index:
            counts[table.keys[c] if c >= 0 else UNKNOWN] += 1
        return counts

    def explain(self, product_ids: Sequence[int], kind: str = CATEGORY, top_k: int = 3) -> list[ProductLabel]:
        """Classifications of the given products, from the stored table."""
        with self._lock:
            table, labels = self.table(kind), self._labels[kind]
        row = {int(i): n for n, i in enumerate(table.ids)}
        products = [p for p in self.catalog.get(product_ids) if p.id in row]
        if not products:
            return []
        classifications = Classifier(labels, self.registry.unknown_below).explain(
            table.matrix[[row[p.id] for p in products]], top_k
        )
        return [ProductLabel(p, c) for p, c in zip(products, classifications)]

    def low_confidence(self, limit: int = 50, kind: str = CATEGORY) -> list[ProductLabel]:
        """The products the classifier is least sure of (unknown first, then lowest probability)."""
        table, decided = self.decisions(kind)
        order = np.lexsort((decided.label_probability, decided.label_index >= 0))[:limit]
        return self.explain(table.ids[order].tolist(), kind)

    # ---------------------------------------------------------------- edits
    def _store_photos(self, photos: Sequence[ImageSource] | None) -> list[str]:
        """Embed example photos (failing before anything is stored), then keep them with the catalog.
        Returns their file names (content hashes); their vectors go straight into the prototype cache."""
        photos = list(photos or [])
        vectors = self.builder.photo_vectors(photos)
        names = []
        for n, (photo, vector) in enumerate(zip(photos, vectors)):
            if isinstance(photo, bytes):
                name = self.registry.store_example(photo, f"photo{n}.img")
            elif hasattr(photo, "save"):  # a PIL image
                buffer = io.BytesIO()
                photo.convert("RGB").save(buffer, format="PNG")
                name = self.registry.store_example(buffer.getvalue(), f"photo{n}.png")
            else:
                name = self.registry.store_example(read_image_bytes(photo), str(photo))
            self.builder.cache.put("photo:" + name, vector)
            self.catalog.publish_file(f"{CATEGORIES_DIR}/{EXAMPLES_DIR}/{name}")
            names.append(name)
        return names

    def _commit(self) -> RefreshReport:
        with self._lock:
            self.registry.save()
            self.catalog.publish_file(f"{CATEGORIES_DIR}/{REGISTRY_NAME}")
            return self._refresh()

    def add(self, category: Category, photos: Sequence[ImageSource] | None = None) -> RefreshReport:
        """Add a category (with optional example photos), save the registry and re-classify incrementally."""
        with self._lock:
            CategoryRegistry([*self.registry, category])  # refuse a duplicate or bad parent before storing photos
            category.examples = [*category.examples, *self._store_photos(photos)]
        report, details = self._add(category)
        audit.record(self.catalog, audit.CATEGORY_ADD, category.name, details)
        return report

    def update(self, name: str, photos: Sequence[ImageSource] | None = None, **changes) -> RefreshReport:
        """Change a category; ``photos`` are added to its examples."""
        with self._lock:
            if photos:
                examples = changes.get("examples", self.registry.get(name).examples)
                changes["examples"] = [*examples, *self._store_photos(photos)]
        report, details = self._update(name, **changes)
        audit.record(self.catalog, audit.CATEGORY_UPDATE, name, details)
        return report

    def remove(self, name: str) -> RefreshReport:
        """Remove a category; its audit entry keeps the whole definition, so it can be added back."""
        report, details = self._remove(name)
        audit.record(self.catalog, audit.CATEGORY_REMOVE, name, details)
        return report

    def _add(self, category: Category) -> tuple[RefreshReport, dict]:
        with self._lock:
            self.registry.add(category)
            return self._commit(), self.registry.get(category.name).to_dict()

    def _update(self, name: str, **changes) -> tuple[RefreshReport, dict]:
        with self._lock:
            before = self.registry.get(name).to_dict()
            self.registry.update(name, **changes)
            report = self._commit()
            return report, audit.edit_details(before, self.registry.get(name).to_dict())

    def _remove(self, name: str) -> tuple[RefreshReport, dict]:
        with self._lock:
            removed = self.registry.remove(name)
            return self._commit(), removed.to_dict()

    def undo(self, action: str, name: str, details: dict) -> tuple[str, dict]:
        """Reverse a category change (``action`` with its audit ``details``): remove an added category, add a
        removed one back (its example photos are still stored), put an updated one's fields back. Refused,
        changing nothing, when the category changed again since. Returns the change the undo amounts to (its
        action and details, which undo it again); the caller audits it."""
        current = self.registry.get(name).to_dict() if name in self.registry else None
        if action == audit.CATEGORY_ADD:
            self._check_unchanged(name, current is not None and _definition(current) == _definition(details))
            return audit.CATEGORY_REMOVE, self._remove(name)[1]
        if action == audit.CATEGORY_REMOVE:
            self._check_unchanged(name, current is None)
            return audit.CATEGORY_ADD, self._add(Category(**details))[1]
        if action == audit.CATEGORY_UPDATE:
            after = details.get("after", {})
            self._check_unchanged(name, current is not None and all(current.get(k) == v for k, v in after.items()))
            return audit.CATEGORY_UPDATE, self._update(name, **details.get("before", {}))[1]
        raise RegistryError(f"{action!r} is not a category change")

    @staticmethod
    def _check_unchanged(name: str, unchanged: bool) -> None:
        if not unchanged:
            raise RegistryError(
                f"category {name!r} changed again after this change (see the audit trail): undo the newer change "
                "first; nothing was undone"
            )

    # ---------------------------------------------------------------- state files
    def _save_tables(self) -> None:
        arrays: dict[str, np.ndarray] = {"model": np.array(self.catalog.model_spec)}
        for kind, table in self._tables.items():
            arrays[f"{kind}.ids"] = table.ids
            arrays[f"{kind}.keys"] = np.array(table.keys, dtype=str)
            arrays[f"{kind}.fingerprints"] = np.array(table.fingerprints, dtype=str)
            arrays[f"{kind}.matrix"] = table.matrix
            arrays[f"{kind}.generation"] = np.array(table.generation)
            arrays[f"{kind}.query"] = np.array(table.query)
        buffer = io.BytesIO()
        np.savez(buffer, **arrays)
        self.labels_path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_bytes(self.labels_path, buffer.getvalue())

    def _load_tables(self) -> None:
        if not self.labels_path.exists():
            return
        try:
            with np.load(self.labels_path, allow_pickle=False) as data:
                if str(data["model"]) != self.catalog.model_spec:
                    return
                for kind in self.kinds:
                    if f"{kind}.ids" in data:
                        self._tables[kind] = SimilarityTable(
                            ids=data[f"{kind}.ids"],
                            keys=data[f"{kind}.keys"].tolist(),
                            fingerprints=data[f"{kind}.fingerprints"].tolist(),
                            matrix=data[f"{kind}.matrix"],
                            generation=int(data[f"{kind}.generation"]),
                            query=str(data[f"{kind}.query"]),
                        )
        except (OSError, ValueError, KeyError) as exc:
            log.warning("ignoring unreadable %s (%s): labels will be recomputed", self.labels_path, exc)
            self._tables = {}
