"""Helpers for the app tests: run app.py in Streamlit's AppTest against a catalog folder with the tiny model."""

from __future__ import annotations

import hashlib
import html
import io
import re
import shutil
import sqlite3
from pathlib import Path

import pytest
from PIL import Image
from streamlit.proto.TextInput_pb2 import TextInput as TextInputProto
from streamlit.testing.v1 import AppTest

from assistant.catalog import Catalog
from assistant.catalog.ingest import ingest_csv
from assistant.clip.factory import TEST_MODEL_SPEC
from assistant.shop.i18n import LOCALES, messages
from assistant.staff.accounts import StaffAccounts

REPO = Path(__file__).resolve().parents[1]
APP = REPO / "app.py"
#: The first run loads the tiny model (a few seconds); later runs reuse it (st.cache_resource).
RUN_TIMEOUT = 60
#: The staff account ``run_app(signed_in=True)`` creates in the test's catalog and signs in with.
STAFF_NAME, STAFF_PASSWORD = "tester", "a long test password"


def build_catalog(root: Path, embedder, source_csv: Path) -> Path:
    """Ingest the synthetic source into ``root`` and close it, so that its folder can be copied."""
    catalog = Catalog.open(root, embedder.spec.name, embedder.dim)
    report = ingest_csv(catalog, embedder, source_csv, source_csv.parent / "images")
    assert report.added > 0 and not report.rejected
    catalog.close()
    return root


def copy_catalog(template: Path, target: Path) -> Path:
    shutil.copytree(template, target)
    return target


def run_app(
    monkeypatch: pytest.MonkeyPatch,
    catalog_dir: Path,
    page: str | None = None,
    model: str = TEST_MODEL_SPEC,
    signed_in: bool = False,
    **env: str,
) -> AppTest:
    """Start the app on ``catalog_dir`` (and switch to ``page``, e.g. "app_pages/kiosk.py"); fails on any exception.

    ``signed_in``: create a staff account in the catalog and sign in through the form first, as staff do."""
    monkeypatch.setenv("ASSISTANT_CATALOG", str(catalog_dir))
    monkeypatch.setenv("ASSISTANT_MODEL", model)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    at = AppTest.from_file(str(APP), default_timeout=RUN_TIMEOUT).run()
    assert not at.exception, [e.value for e in at.exception]
    if signed_in:
        add_staff_account(catalog_dir)
        rerun(at)  # the first page now offers the sign-in form when it is a staff page (an empty catalog's)
        if not password_fields(at):
            at.switch_page("app_pages/catalog.py").run()
            page = page or "app_pages/shop.py"  # back to the default page once signed in
        sign_in(at)
        assert not password_fields(at), [e.value for e in at.error]
    if page:
        at.switch_page(page).run()
        assert not at.exception, [e.value for e in at.exception]
    return at


def add_staff_account(catalog_dir: Path, name: str = STAFF_NAME, password: str = STAFF_PASSWORD) -> None:
    accounts = StaffAccounts(catalog_dir)
    if name not in [a.name for a in accounts.accounts()]:
        accounts.add(name, password)


def password_fields(at: AppTest) -> list:
    return [t for t in at.text_input if t.proto.type == TextInputProto.PASSWORD]


def sign_in(at: AppTest, name: str = STAFF_NAME, password: str = STAFF_PASSWORD) -> AppTest:
    """Fill in the staff sign-in form on the current page and submit it."""
    at.text_input(key="staff-name").input(name)
    at.text_input(key="staff-password").input(password)
    labels = {messages(language).text("staff.sign_in") for language in LOCALES}  # in the page's language
    next(b for b in at.button if b.label in labels).click()
    return rerun(at)


def delete_on_page(at: AppTest, sku: str) -> AppTest:
    """Delete a product as staff do on the Catalog page: choose it, tick the confirmation, press Delete."""
    at.selectbox(key="edit-sku").set_value(sku)
    rerun(at)
    at.checkbox(key=f"delete-confirm-{sku}").check()
    rerun(at)
    at.button(key=f"delete-{sku}").click()
    return rerun(at)


def rerun(at: AppTest) -> AppTest:
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def shown(markdown: str) -> str:
    """The text a reader sees for Markdown built with ``markdown_literal`` (backslash escapes removed)."""
    return re.sub(r"\\([!-/:-@\[-`{-~])", r"\1", markdown)


def card_titles(at) -> list[str]:
    """Titles of the product cards on the page (or in one block of it, e.g. a tab), in order."""
    matches = (re.search(r'<div class="card-title">(.*?)</div>', m.value) for m in at.markdown)
    return [html.unescape(m.group(1)) for m in matches if m]


def camera_photo(png_path: Path, marker: bytes = b"") -> bytes:
    """A JPEG like a camera's, optionally carrying a unique marker so that any copy of it on disk can be found."""
    out = io.BytesIO()
    Image.open(png_path).convert("RGB").save(out, format="JPEG", comment=marker)
    return out.getvalue()


def record_navigation(monkeypatch: pytest.MonkeyPatch) -> list[tuple[dict[str, list[str]], str]]:
    """Every ``st.navigation`` call of the app from now on, as (visible page titles by section, position);
    AppTest does not draw the navigation, so this is what a visitor's menu lists ("" = links outside a section)."""
    import streamlit as st

    calls: list[tuple[dict[str, list[str]], str]] = []
    navigation = st.navigation

    def recording(pages, position="sidebar", **options):
        sections = pages if isinstance(pages, dict) else {"": pages}
        visible = {name: [p.title for p in ps if p.visibility == "visible"] for name, ps in sections.items()}
        calls.append(({name: titles for name, titles in visible.items() if titles}, position))
        return navigation(pages, position=position, **options)

    monkeypatch.setattr(st, "navigation", recording)
    return calls


def database_digest(path: Path) -> str:
    """A hash of what the SQLite database holds (every table's rows), read without writing: when SQLite
    moves committed pages from its write-ahead log into the file, the bytes change but not the data."""
    connection = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return hashlib.sha256("\n".join(connection.iterdump()).encode()).hexdigest()
    finally:
        connection.close()


def folder_snapshot(*folders: Path) -> dict[str, str]:
    """Every file under the folders with a hash of its content; SQLite databases by what they hold, their
    write-ahead log and shared-memory index (SQLite housekeeping, counted in the database's content) left out.
    Raw bytes of a database would change whenever a connection closing (garbage collection, another thread)
    checkpoints the log into the file: a test comparing them fails at random on a busy machine."""
    return {
        str(path): database_digest(path) if path.suffix == ".db" else hashlib.sha256(path.read_bytes()).hexdigest()
        for folder in folders
        for path in sorted(folder.rglob("*"))
        if path.is_file() and not path.name.endswith(("-shm", "-wal"))
    }
