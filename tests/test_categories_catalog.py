"""Categories of a real catalog: incremental re-classification, preview/apply/discard, low confidence, MAML head,
CLI."""

from __future__ import annotations

import json

import numpy as np
import pytest
from postgres_server import both_stores

from assistant.categories import UNKNOWN, CatalogCategories, Category, RegistryError, preview_category
from assistant.categories.catalog_labels import CATEGORY, head_path
from assistant.categories.fewshot import Maml, MamlConfig
from assistant.categories.training import catalog_training_set, train_catalog_head
from assistant.cli.main import main


def state_files(catalog) -> dict[str, bytes]:
    folder = catalog.root / "categories"
    return (
        {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}
        if folder.exists()
        else {}
    )


@both_stores
def test_classification_is_refreshed_incrementally_and_persisted(catalog, tiny_embedder):
    owner = CatalogCategories(catalog, tiny_embedder)
    first = owner.refresh()
    assert first.rows_recomputed and set(first.columns_recomputed) == {"category", "metal", "stone", "style"}
    assert owner.refresh().columns_recomputed == {}  # nothing changed: nothing recomputed
    before = owner.table(CATEGORY)

    report = owner.add(Category(name="ear cuff", description="an ear cuff clipped to the outer ear", parent="earring"))
    assert not report.rows_recomputed and report.columns_recomputed == {"category": ["ear cuff"]}
    after = owner.table(CATEGORY)
    assert after.keys == [*before.keys, "ear cuff"]
    assert np.array_equal(after.matrix[:, :-1], before.matrix)  # old columns kept as they were
    _, vectors = catalog.vectors()
    new_column = vectors @ owner.label_set().vectors[-1]
    assert np.allclose(after.column("ear cuff"), new_column, atol=1e-5)
    assert sum(owner.counts().values()) == catalog.count() == 60

    reopened = CatalogCategories(catalog, tiny_embedder)  # another process: the saved table is reused
    assert reopened.refresh().columns_recomputed == {}
    assert reopened.product_labels() == owner.product_labels()

    catalog.update_fields("SYN-00001", title="Vintage gold ring, re-titled")  # a catalog write
    assert reopened.refresh().rows_recomputed

    owner.remove("ear cuff")
    assert "ear cuff" not in owner.table().keys and "ear cuff" not in owner.counts()


@both_stores
def test_classify_vectors_and_unknown_threshold(catalog, tiny_embedder):
    owner = CatalogCategories(catalog, tiny_embedder)
    _, vectors = catalog.vectors()
    results = owner.classify(vectors[:5], top_k=4)
    assert all(len(r.top) == 4 and r.top[0][1] >= r.top[1][1] for r in results)
    owner.registry.unknown_below = 1.0  # nothing is ever that sure
    assert all(r.label == UNKNOWN for r in owner.classify(vectors[:5]))
    assert owner.counts()[UNKNOWN] == 60
    owner.registry.unknown_below = 0.0
    assert owner.counts()[UNKNOWN] == 0
    metals = owner.counts("metal")
    assert set(metals) == {"yellow gold", "white gold", "rose gold", "silver", "platinum", UNKNOWN}


@both_stores
def test_low_confidence_lists_the_least_sure_products_first(catalog, tiny_embedder):
    owner = CatalogCategories(catalog, tiny_embedder)
    owner.registry.unknown_below = 0.15
    unsure = owner.low_confidence(limit=60)
    assert len(unsure) == 60
    unknown = [u.classification.is_unknown for u in unsure]
    assert unknown == sorted(unknown, reverse=True)  # unknown products first
    known = [u.classification.probability for u in unsure if not u.classification.is_unknown]
    assert known == sorted(known)
    assert owner.low_confidence(limit=3)[0].product.id == unsure[0].product.id


@both_stores
def test_preview_touches_nothing_until_apply(catalog, tiny_embedder, synthetic_source):
    owner = CatalogCategories(catalog, tiny_embedder)
    owner.refresh()
    saved = state_files(catalog)
    photo = synthetic_source.parent / "images" / "SYN-00001.png"
    preview = preview_category(
        catalog,
        tiny_embedder,
        "cocktail ring",
        "a large statement ring with a big coloured stone",
        photos=[photo],
        zh=["鸡尾酒戒指"],
        parent="ring",
    )
    assert state_files(catalog) == saved  # nothing written
    assert preview.category.name == "cocktail ring" and not preview.is_update
    assert sum(preview.taken_from.values()) == len(preview.taken)
    assert all(t.previous in owner.registry or t.previous == UNKNOWN for t in preview.taken)
    assert preview.nearest_category in owner.registry and -1.0 <= preview.nearest_similarity <= 1.0
    probabilities = [t.probability for t in preview.taken]
    assert probabilities == sorted(probabilities, reverse=True)

    preview.apply()
    applied = CatalogCategories(catalog, tiny_embedder)
    category = applied.registry.get("cocktail ring")
    assert category.zh == ["鸡尾酒戒指"] and len(category.examples) == 1
    assert (catalog.root / "categories" / "examples" / category.examples[0]).read_bytes() == photo.read_bytes()
    labels = applied.product_labels()
    assert sorted(i for i, label in labels.items() if label == "cocktail ring") == sorted(
        t.product.id for t in preview.taken
    )
    assert applied.translator()("鸡尾酒戒指") == "cocktail ring"
    with pytest.raises(RegistryError, match="already applied"):
        preview.apply()


def test_discarded_preview_and_preview_of_an_existing_category(catalog, tiny_embedder):
    owner = CatalogCategories(catalog, tiny_embedder)
    preview = owner_preview = preview_category(catalog, tiny_embedder, "anklet", "a chain worn around the ankle")
    assert owner_preview.is_update
    preview.discard()
    with pytest.raises(RegistryError, match="already discarded"):
        preview.apply()
    assert not (catalog.root / "categories" / "registry.json").exists()
    with pytest.raises(RegistryError, match="parent 'tiara' is not a category"):
        preview_category(catalog, tiny_embedder, "crown", parent="tiara")
    assert owner.registry.get("anklet").description != "a chain worn around the ankle"


@both_stores
def test_meta_trained_head_becomes_the_catalogs_method(catalog, tiny_embedder):
    owner = CatalogCategories(catalog, tiny_embedder)
    assert owner.method == "prototype_blend"
    data = catalog_training_set(catalog)
    assert len(data.labels) == 60 and set(data.labels) == {"ring", "earring", "necklace", "bracelet", "pendant"}
    summary = train_catalog_head(owner, data, MamlConfig(shots=2, meta_steps=3, meta_batch=2, inner_steps=2))
    assert head_path(catalog).exists() and owner.method == "maml"
    assert set(summary["categories"]) <= {"ring", "earring", "necklace", "bracelet", "pendant"}

    reopened = CatalogCategories(catalog, tiny_embedder)
    assert reopened.method == "maml"
    labels = reopened.label_set()
    assert labels.query_gain is not None and np.allclose(np.linalg.norm(labels.vectors, axis=1), 1.0, atol=1e-5)
    assert reopened.product_labels() == owner.product_labels()
    report = reopened.add(Category(name="ear cuff", description="an ear cuff"))
    assert "ear cuff" in report.columns_recomputed["category"]
    reopened.remove_head()
    assert reopened.method == "prototype_blend" and not head_path(catalog).exists()


def test_an_unusable_head_is_explained_and_the_prototype_blend_used(catalog, tiny_embedder, capsys):
    blend_labels = CatalogCategories(catalog, tiny_embedder).product_labels()
    Maml(tiny_embedder.dim, 14.3).save(head_path(catalog), "ViT-B-32:laion2b_s34b_b79k", {"source": "another model"})
    owner = CatalogCategories(catalog, tiny_embedder)
    assert owner.method == "prototype_blend" and owner.product_labels() == blend_labels
    assert "'ViT-B-32:laion2b_s34b_b79k'" in owner.head_problem
    assert "--model tiny-test train categories" in owner.head_problem
    assert owner.head_problem.endswith("learned by the prototype blend.")

    head_path(catalog).write_bytes(b"half a file")
    assert "is not a readable few-shot category head" in CatalogCategories(catalog, tiny_embedder).head_problem
    assert main(["--catalog", str(catalog.root), "categories", "list"]) == 0
    assert "example photos are learned by the prototype blend: " in capsys.readouterr().out

    summary = train_catalog_head(owner, catalog_training_set(catalog), MamlConfig(shots=2, meta_steps=2, meta_batch=2))
    assert summary["items_seen"] and owner.method == "maml" and owner.head_problem is None
    assert CatalogCategories(catalog, tiny_embedder).head_problem is None
    assert main(["--catalog", str(catalog.root), "categories", "list"]) == 0
    assert "example photos are learned by the MAML head" in capsys.readouterr().out


@both_stores
def test_category_cli(catalog, catalog_location, capsys, synthetic_source):
    args = ["--catalog", catalog_location]
    photo = str(synthetic_source.parent / "images" / "SYN-00003.png")
    assert (
        main(
            [
                *args,
                "categories",
                "add",
                "ear cuff",
                "--description",
                "an ear cuff",
                "--parent",
                "earring",
                "--zh",
                "耳夹",
                "--photo",
                photo,
                "--dry-run",
            ]
        )
        == 0
    )
    assert "dry run: nothing saved" in capsys.readouterr().out
    assert not (catalog.root / "categories" / "registry.json").exists()

    assert (
        main(
            [
                *args,
                "categories",
                "add",
                "ear cuff",
                "--description",
                "an ear cuff",
                "--parent",
                "earring",
                "--photo",
                photo,
            ]
        )
        == 0
    )
    assert "saved 'ear cuff'" in capsys.readouterr().out
    assert main([*args, "categories", "list", "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert any(
        c["name"] == "ear cuff" and c["parent"] == "earring" and len(c["examples"]) == 1 for c in listed["categories"]
    )

    assert main([*args, "categories", "classify", "--sku", "SYN-00003", "SYN-00004", "--json"]) == 0
    classified = json.loads(capsys.readouterr().out)
    assert [p["sku"] for p in classified["products"]] == ["SYN-00003", "SYN-00004"]
    assert sum(classified["counts"].values()) == 60
    assert main([*args, "categories", "classify", "--kind", "stone", "--low-confidence", "2"]) == 0
    assert "least confident stone" in capsys.readouterr().out

    assert main([*args, "categories", "add", "ear cuff"]) == 2
    assert "already exists" in capsys.readouterr().err
    assert main([*args, "categories", "classify", "--sku", "NOPE"]) == 2
    assert "not in the catalog: NOPE" in capsys.readouterr().err
    assert main([*args, "train", "categories", "--meta-steps", "2", "--shots", "2", "--inner-steps", "1"]) == 0
    assert "categories now use maml" in capsys.readouterr().out
    assert main([*args, "train", "categories", "--forget"]) == 0
    assert main([*args, "categories", "remove", "ear cuff"]) == 0
    assert main([*args, "categories", "remove", "ear cuff"]) == 2


def test_category_benchmark_reports_ratios_against_the_full_recompute(capsys):
    from bench import categories as bench_categories

    result = bench_categories.main(["--n", "300", "--repeats", "1"])
    rows = {row["name"]: row for row in result["rows"]}
    assert rows["full recompute (baseline)"]["ratio"] == 1.0
    assert all(row["seconds"] > 0 and row["n"] == 300 for row in rows.values())
    assert {
        "add category, warm (app)",
        "add category, cold (CLI)",
        "preview a draft, warm",
        "of which: embed its prompts",
        "add category, warm, MAML head",
    } <= set(rows)
    assert "vs full recompute" in capsys.readouterr().out
