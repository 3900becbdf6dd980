"""First run and setup problems: an empty catalog explains how to fill it; missing weights explain how to get them."""

from __future__ import annotations

import torch
from app_support import rerun, run_app

from assistant.catalog import Catalog
from assistant.clip.factory import TEST_MODEL_SPEC


def test_empty_catalog_says_how_to_fill_it_and_offers_labelled_demo_products(monkeypatch, tmp_path):
    folder = tmp_path / "new-catalog"
    at = run_app(monkeypatch, folder, signed_in=True)

    page = " ".join(m.value for m in at.markdown)
    assert "The catalog is empty" in page and "synthetic demo products" in page
    assert any("ingest products.csv --images photos/" in c.value and str(folder) in c.value for c in at.code)
    page_buttons = [b.label for b in at.main.button if b.key != "staff-sign-out"]  # Sign out sits at the top
    assert page_buttons == ["Add 120 synthetic demo products"]

    at.button(key="welcome-demo").click()
    rerun(at)

    catalog = Catalog.open(folder, TEST_MODEL_SPEC, create=False)
    assert catalog.count() == 120 and all(p.sku.startswith("SYN-") for p in catalog.products())
    assert [s.value for s in at.success] == ["Added 120 synthetic demo products."]
    assert any("Your catalog is ready" in m.value for m in at.markdown)


def test_missing_weights_show_the_loaders_message_not_a_traceback(monkeypatch, tmp_path):
    checkpoint = tmp_path / "no-such-checkpoint.safetensors"
    at = run_app(monkeypatch, tmp_path / "catalog", model=f"ViT-B-32:{checkpoint}")

    assert [t.value for t in at.title] == ["Setup needed"]
    assert "weights are not on this machine" in at.error[0].value
    message = at.code[0].value
    assert "Model weights for" in message and str(checkpoint) in message and "local-dir:" in message
    assert not at.exception


def test_a_catalog_built_with_another_model_is_explained(monkeypatch, catalog_template, tiny_embedder, tmp_path):
    checkpoint = tmp_path / "tiny-copy.pt"  # same architecture, weights from a file: another model spec
    torch.save(tiny_embedder.model.state_dict(), checkpoint)
    at = run_app(monkeypatch, catalog_template, model=f"tiny-test:{checkpoint}")

    assert [t.value for t in at.title] == ["Setup needed"]
    assert "cannot open its catalog" in at.error[0].value
    message = at.code[0].value
    assert "was built with model 'tiny-test'" in message and "reindex" in message
