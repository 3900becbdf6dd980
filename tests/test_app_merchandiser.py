"""Merchandiser page: preview a draft category then discard (nothing changes) or apply (saved), counts, low
confidence."""

from __future__ import annotations

from app_support import card_titles, folder_snapshot, rerun, run_app, shown

from assistant.categories import CategoryRegistry
from assistant.categories.fewshot import Maml

MERCHANDISER = "app_pages/merchandiser.py"


def preview_draft(at, name: str, description: str, photo: bytes | None = None):
    next(t for t in at.text_input if t.label == "Name").input(name)
    next(t for t in at.text_area if t.label == "Description").input(description)
    if photo is not None:
        next(f for f in at.file_uploader if f.label.startswith("Example photos")).set_value(
            [("example.png", photo, "image/png")]
        )
    next(b for b in at.button if b.label == "Preview").click()
    return rerun(at)


def category_table(at):
    return next(d.value for d in at.dataframe if "tagged in CSV" in d.value.columns)


def test_preview_then_discard_leaves_the_catalog_unchanged(monkeypatch, app_catalog, synthetic_source):
    at = run_app(monkeypatch, app_catalog, MERCHANDISER, signed_in=True)
    before = folder_snapshot(app_catalog)  # after the first load, which labels the catalog once
    photo = (synthetic_source.parent / "images" / "SYN-00004.png").read_bytes()

    preview_draft(at, "cocktail ring", "a large statement ring with a big coloured stone", photo)

    metrics = {m.label: m.value for m in at.metric}
    taken = int(metrics["Products taken"])
    assert shown(at.subheader[0].value) == f"“Cocktail ring” would take {taken} of 60 products"
    assert metrics["Nearest category"] and metrics["Tells apart from the nearest"] in (
        "Clearly",
        "Somewhat",
        "Hardly",
        "Nothing taken",
    )
    assert not any("p 0." in m.value or "card-score" in m.value for m in at.markdown), "no raw probabilities"
    assert len(card_titles(at.tabs[0])) == min(taken, 24)
    if taken:
        taken_from = next(d.value for d in at.dataframe if "category now" in d.value.columns)
        assert taken_from["products"].sum() == taken

    at.button(key="merch-discard").click()
    rerun(at)

    assert [shown(s.value) for s in at.success] == ["Discarded the draft “cocktail ring”; nothing was saved."]
    assert folder_snapshot(app_catalog) == before
    assert "cocktail ring" not in CategoryRegistry.load(app_catalog)
    assert "cocktail ring" not in category_table(at)["category"].tolist()


def test_preview_then_apply_saves_the_category(monkeypatch, app_catalog):
    at = run_app(monkeypatch, app_catalog, MERCHANDISER, signed_in=True)
    preview_draft(at, "Cocktail Ring", "a large statement ring with a big coloured stone")
    taken = int(next(m.value for m in at.metric if m.label == "Products taken"))

    at.button(key="merch-apply").click()
    rerun(at)

    assert "cocktail ring" in CategoryRegistry.load(app_catalog)
    table = category_table(at).set_index("category")
    assert table.loc["cocktail ring", "products"] == taken
    assert table["products"].sum() == 60, "every product is in one category or unknown"


def test_a_bad_draft_is_explained(monkeypatch, app_catalog):
    at = run_app(monkeypatch, app_catalog, MERCHANDISER, signed_in=True)
    preview_draft(at, "unknown", "anything")
    assert "reserved" in shown(at.error[0].value)
    assert not at.metric


def test_low_confidence_products_show_their_top_labels(monkeypatch, app_catalog):
    at = run_app(monkeypatch, app_catalog, MERCHANDISER, signed_in=True)
    unsure_tab = at.tabs[2]
    assert len(card_titles(unsure_tab)) == 24
    reasons = [m.value for m in unsure_tab.markdown if 'class="card-reason"' in m.value]
    assert len(reasons) == 24 and all("%" in r for r in reasons)


def test_a_broken_registry_file_is_explained(monkeypatch, app_catalog):
    registry = app_catalog / "categories" / "registry.json"
    registry.parent.mkdir(exist_ok=True)
    registry.write_text('{"categories": [{"name": "ring", "colour": "gold"}]}')
    at = run_app(monkeypatch, app_catalog, signed_in=True)
    at.text_input(key="shop-query").input("珍珠耳环")
    rerun(at)
    assert card_titles(at) and not at.exception, "the shop still searches (without translation)"
    at.switch_page(MERCHANDISER)
    rerun(at)
    assert "cannot be read" in shown(at.error[0].value) and "colour" in shown(at.error[0].value)


def test_an_unusable_few_shot_head_is_explained(monkeypatch, app_catalog, tiny_embedder):
    head = app_catalog / "categories" / "fewshot_head.pt"
    head.parent.mkdir(exist_ok=True)
    Maml(tiny_embedder.dim, 14.3).save(head, "ViT-B-32:laion2b_s34b_b79k", {"source": "another model"})
    at = run_app(monkeypatch, app_catalog, MERCHANDISER, signed_in=True)
    assert len(at.warning) == 1
    warning = shown(at.warning[0].value)
    assert "few-shot category head" in warning and "'ViT-B-32:laion2b_s34b_b79k'" in warning
    assert "python -m assistant --model tiny-test train categories" in warning and "prototype blend" in warning
    assert category_table(at)["products"].sum() == 60, "the catalog is still labelled (by the prototype blend)"


def test_a_category_can_be_edited_and_removed(monkeypatch, app_catalog):
    at = run_app(monkeypatch, app_catalog, MERCHANDISER, signed_in=True)
    at.selectbox(key="merch-edit-name").set_value("pendant")
    rerun(at)
    next(t for t in at.text_input if t.label == "Chinese names" and t.value).input("吊坠, 坠子")
    next(b for b in at.button if b.label == "Save changes").click()
    rerun(at)
    assert CategoryRegistry.load(app_catalog).get("pendant").zh == ["吊坠", "坠子"]
    assert shown(at.success[0].value) == "Saved “pendant”; the catalog's labels are updated."

    at.selectbox(key="merch-edit-name").set_value("pendant")
    rerun(at)
    assert at.button(key="delete-category-pendant").disabled, "removing needs the confirmation box ticked"
    at.checkbox(key="merch-remove-ok-pendant").check()
    rerun(at)
    at.button(key="delete-category-pendant").click()
    rerun(at)
    assert "pendant" not in CategoryRegistry.load(app_catalog)
    assert "pendant" not in category_table(at)["category"].tolist()
