"""What the app shows before it can be a shop: setup problems (missing weights) and an empty catalog."""

from __future__ import annotations

import logging
import tempfile
from collections.abc import Callable
from pathlib import Path

import streamlit as st

from assistant.catalog.ingest import ingest_csv
from assistant.catalog.synthetic import write_synthetic_catalog
from assistant.clip.factory import ModelWeightsMissing

from .i18n import t
from .resources import Shop, current_settings

DEMO_PRODUCTS = 120
log = logging.getLogger(__name__)


def setup_problem_page(problem: Exception, details: bool = True) -> Callable[[], None]:
    """A page that explains why the app cannot start and how to fix it: the loader's message, no traceback.
    Without ``details`` (a public deployment) it only says that the shop is closed: no paths, no settings."""

    def setup_needed() -> None:
        if not details:
            log.error("the shop cannot start: %s", problem)
            st.title(t("setup.closed_title"))
            st.info(t("setup.closed_text"))
            return
        settings = current_settings()
        st.title(t("setup.title"))
        st.error(t("setup.no_weights" if isinstance(problem, ModelWeightsMissing) else "setup.cannot_open"))
        st.code(str(problem), language=None, wrap_lines=True)
        catalog = t("setup.catalog", location=settings.catalog_location)
        model = t("setup.model", spec=settings.model_spec)
        st.markdown(f"- {catalog}\n- {model}\n\n{t('setup.fix')}")

    return setup_needed


def fill_with_demo_products(shop: Shop, n: int = DEMO_PRODUCTS) -> str:
    """Ingest n synthetic demo products (drawn pictures, sku SYN-...) with a progress bar; returns a summary."""
    bar = st.progress(0.0, text=t("demo.drawing"))
    with tempfile.TemporaryDirectory(prefix="assistant-demo-") as tmp:
        csv_path = write_synthetic_catalog(Path(tmp), n=n)
        report = ingest_csv(
            shop.catalog,
            shop.embedder,
            csv_path,
            Path(tmp) / "images",
            progress=lambda done, total: bar.progress(
                done / max(total, 1), text=t("demo.embedding", done=done, total=total)
            ),
        )
    bar.empty()
    return t("demo.added", n=report.added)
