"""Staff sign-in in the app: signed-out staff URLs show only the form; throttling; sign out and idle end;
the kiosk-only deployment; catalog values that stay text; the rejected-rows CSV neutralises formulas."""

from __future__ import annotations

import csv
import io
import types

import pytest
from app_support import (
    APP,
    RUN_TIMEOUT,
    STAFF_PASSWORD,
    add_staff_account,
    delete_on_page,
    password_fields,
    record_navigation,
    rerun,
    run_app,
    shown,
    sign_in,
)
from streamlit.testing.v1 import AppTest

import ui.staff
from assistant.catalog import Catalog, audit
from assistant.catalog.records import AuditQuery
from assistant.catalog.upload import rejected_rows_csv
from assistant.clip.factory import TEST_MODEL_SPEC
from assistant.shop.display import facet_label

STAFF_PAGES = ["app_pages/catalog.py", "app_pages/merchandiser.py"]


def page_text(at) -> str:
    kinds = ("markdown", "caption", "code", "info", "warning", "error", "success")
    parts = [e.value for kind in kinds for e in at.get(kind)]
    return " ".join(str(p) for p in parts)


def assert_only_the_sign_in_form(at, catalog_dir) -> None:
    assert len(password_fields(at)) == 1
    assert not at.get("file_uploader") and not at.metric and not at.dataframe and not at.selectbox
    text = page_text(at)
    assert "SYN-" not in text and str(catalog_dir) not in text and catalog_dir.name not in text
    assert [b.label for b in at.main.button] == ["Sign in"]


@pytest.mark.parametrize("page", STAFF_PAGES)
def test_a_signed_out_staff_url_shows_the_sign_in_form_and_nothing_of_the_page(monkeypatch, app_catalog, page):
    add_staff_account(app_catalog)
    menus = record_navigation(monkeypatch)
    at = run_app(monkeypatch, app_catalog, page)
    assert_only_the_sign_in_form(at, app_catalog)
    menu, position = menus[-1]
    assert position == "top"
    assert menu == {"Shop": ["Shop", "Kiosk"], "Staff": ["Staff sign-in"]}, "the shop's navigation lists no staff page"


def test_without_any_account_the_staff_pages_say_how_to_create_one(monkeypatch, app_catalog):
    at = run_app(monkeypatch, app_catalog, "app_pages/catalog.py")
    assert "No staff account exists yet" in at.warning[0].value
    assert [c.value for c in at.code] == ["python -m assistant staff add NAME"]
    assert not password_fields(at) and str(app_catalog) not in page_text(at)


def test_a_wrong_password_is_refused_and_throttled_after_five(monkeypatch, app_catalog):
    add_staff_account(app_catalog)
    # the page's clock stands still: the first wait is 2 s, and a loaded machine's page run can take longer
    monkeypatch.setattr(ui.staff, "time", types.SimpleNamespace(time=lambda: 1_800_000_000.0))
    at = run_app(monkeypatch, app_catalog, "app_pages/catalog.py")
    for attempt in range(1, 6):
        sign_in(at, password="not the password")
        assert at.error[0].value.startswith("Wrong name or password.")
        assert ("try again in" in at.error[0].value) == (attempt == 5), "the fifth failure says how long to wait"
        assert_only_the_sign_in_form(at, app_catalog)
    sign_in(at)  # the right password, too soon: not even checked
    assert "Too many failed sign-ins: try again in" in at.error[0].value
    assert_only_the_sign_in_form(at, app_catalog)


def test_the_right_password_opens_then_sign_out_and_idle_close(monkeypatch, app_catalog):
    add_staff_account(app_catalog)
    menus = record_navigation(monkeypatch)
    at = run_app(monkeypatch, app_catalog, "app_pages/catalog.py")
    sign_in(at, name="Tester", password=STAFF_PASSWORD)
    assert not password_fields(at) and at.metric[0].label == "Products"
    assert any("Signed in as tester" in c.value for c in at.main.caption)
    assert menus[-1] == ({"Shop": ["Shop", "Kiosk"], "Staff": ["Merchandiser", "Catalog"]}, "top")

    at.button(key="staff-sign-out").click()
    rerun(at)
    assert_only_the_sign_in_form(at, app_catalog)
    assert at.info[0].value == "You are signed out."

    sign_in(at)
    assert not password_fields(at)
    at.session_state["staff"].last_active -= 31 * 60  # half an hour without a click
    rerun(at)
    assert_only_the_sign_in_form(at, app_catalog)
    assert "signed out after 30 minutes without activity" in at.info[0].value


def test_removing_the_account_ends_its_session(monkeypatch, app_catalog):
    from assistant.staff.accounts import StaffAccounts

    at = run_app(monkeypatch, app_catalog, "app_pages/merchandiser.py", signed_in=True)
    StaffAccounts(app_catalog).remove("tester")
    rerun(at)
    assert "removed or its password changed" in at.info[0].value
    assert not password_fields(at), "no account left: the page says how to create one"


def test_a_kiosk_only_deployment_serves_the_kiosk_without_sidebar_or_sign_in(monkeypatch, app_catalog):
    add_staff_account(app_catalog)
    menus = record_navigation(monkeypatch)
    at = run_app(monkeypatch, app_catalog, ASSISTANT_PAGES="kiosk")
    assert any('class="kiosk-title"' in m.value for m in at.markdown)
    assert not at.sidebar.children and not password_fields(at)
    assert {position for _, position in menus} == {"hidden"}, "no navigation is drawn at all"
    assert not at.sidebar.get("page_link") and not at.main.get("page_link")
    at.switch_page("app_pages/kiosk.py")
    rerun(at)
    assert any('class="kiosk-title"' in m.value for m in at.markdown)


def test_a_markdown_image_in_a_category_renders_as_text_on_the_kiosk(monkeypatch, app_catalog):
    catalog = Catalog.open(app_catalog, TEST_MODEL_SPEC, create=False)
    evil = "![x](http://attacker.example/p.png)"
    catalog.update_fields("SYN-00001", category=evil)
    catalog.close()
    at = run_app(monkeypatch, app_catalog, "app_pages/kiosk.py")
    pills = next(g for g in at.get("button_group") if "looking for" in g.proto.label)
    labels = [o.content for o in pills.proto.options]
    value = evil.lower()
    assert shown(next(label for label in labels if "attacker" in label)) == facet_label(value)
    assert not any("![" in label or "](" in label for label in labels)


def test_the_rejected_rows_csv_neutralises_formulas(monkeypatch, app_catalog):
    at = run_app(monkeypatch, app_catalog, "app_pages/catalog.py", signed_in=True)
    header = "sku,title,description,category,metal,stone,price,currency,image\n"
    formula = "=cmd|' /C calc'!A0"
    at.file_uploader(key="import-csv").set_value(
        ("products.csv", (header + f'"{formula}",,no title,ring,gold,none,10,USD,\n').encode(), "text/csv")
    )
    rerun(at)
    at.button(key="import-run").click()
    rerun(at)
    report = at.session_state["import-report"]
    rows = list(csv.reader(io.StringIO(rejected_rows_csv(report))))
    assert rows[0] == ["file", "row", "sku", "column", "problem"]
    assert rows[1][:3] == ["products.csv", "2", "'" + formula], "a spreadsheet shows the text instead of running it"


def test_a_delete_on_the_page_is_audited_as_the_staff_member_and_restored_from_the_trash_tab(monkeypatch, app_catalog):
    at = run_app(monkeypatch, app_catalog, "app_pages/catalog.py", signed_in=True)
    delete_on_page(at, "SYN-00004")
    catalog = Catalog.open(app_catalog, TEST_MODEL_SPEC, create=False)
    assert catalog.get_by_sku("SYN-00004") is None
    [entry] = audit.entries(catalog, AuditQuery(action="delete"))
    assert (entry.actor, entry.target) == ("tester", "SYN-00004")

    trash = next(d.value for d in at.dataframe if "deleted" in d.value.columns)
    assert trash["sku"].tolist() == ["SYN-00004"] and trash["by"].tolist() == ["tester"]
    at.selectbox(key="audit-action").set_value("delete")
    rerun(at)
    history = next(d.value for d in at.dataframe if "action" in d.value.columns)
    assert history[["who", "action", "what"]].values.tolist() == [["tester", "delete", "SYN-00004"]]

    at.button(key="trash-restore").click()
    rerun(at)
    assert [shown(s.value) for s in at.success] == ["Restored SYN-00004."]
    assert catalog.get_by_sku("SYN-00004") is not None and catalog.indexed_count() == 60
    assert [e.actor for e in audit.entries(catalog, AuditQuery(action="restore"))] == ["tester"]


def test_another_staff_member_undoes_an_edit_from_the_audit_trail(monkeypatch, app_catalog, tiny_embedder):
    from assistant.catalog.reembed import edit_product

    catalog = Catalog.open(app_catalog, TEST_MODEL_SPEC, create=False)
    before = catalog.get_by_sku("SYN-00006")
    with audit.acting_as("anna"):
        edit_product(catalog, tiny_embedder, "SYN-00006", price=0.01)
        edit_product(catalog, tiny_embedder, "SYN-00008", price=0.02)
    edit_6, edit_8 = reversed(audit.entries(catalog, AuditQuery(action="edit")))
    at = run_app(monkeypatch, app_catalog, "app_pages/catalog.py", signed_in=True)
    at.selectbox(key="audit-action").set_value("edit")
    rerun(at)
    table = next(d.value for d in at.dataframe if "action" in d.value.columns)
    assert table[["#", "undo"]].values.tolist() == [[edit_8.id, "can be undone"], [edit_6.id, "can be undone"]]
    at.selectbox(key="audit-undo-entry").set_value(edit_6.id)
    at.button(key="audit-undo").click()
    rerun(at)
    assert catalog.get_by_sku("SYN-00006") == before
    [done] = audit.entries(catalog, AuditQuery(action="undo"))
    assert (done.actor, done.details["undoes"], done.details["undone by"]) == ("tester", edit_6.id, "anna")
    assert shown(at.success[0].value).startswith(f"Undid #{edit_6.id} (edit of SYN-00006 by anna)")
    offered = at.selectbox(key="audit-undo-entry").options
    assert [o.split(" · ")[0] for o in offered] == [f"#{edit_8.id}"], "an undone change is not offered again"

    with audit.acting_as("carl"):  # a newer change to the same product: undoing anna's edit would clobber it
        edit_product(catalog, tiny_embedder, "SYN-00008", title="Carl's title")
    rerun(at)
    at.selectbox(key="audit-undo-entry").set_value(edit_8.id)
    at.button(key="audit-undo").click()
    rerun(at)
    assert "SYN-00008 changed again after this change" in shown(at.error[0].value)
    assert catalog.get_by_sku("SYN-00008").title == "Carl's title"


#: A complete ``[auth]`` section as README "Single sign-on" shows it, and the staff allow-list beside it.
SSO_SECRETS = {
    "auth": {
        "redirect_uri": "http://localhost:8501/oauth2callback",
        "cookie_secret": "a long random string for the test, never a real one",
        "client_id": "assistant-test",
        "client_secret": "not a real secret",
        "server_metadata_url": "https://id.shop.example/.well-known/openid-configuration",
    },
    "staff": {"emails": ["anna@shop.example", "ben@shop.example"]},
}


def single_sign_on_app(monkeypatch, catalog_dir, identity: dict) -> AppTest:
    """The Catalog page with single sign-on configured, as the provider's ``identity`` (st.user) for the browser."""
    monkeypatch.setenv("ASSISTANT_CATALOG", str(catalog_dir))
    monkeypatch.setenv("ASSISTANT_MODEL", TEST_MODEL_SPEC)
    at = AppTest.from_file(str(APP), default_timeout=RUN_TIMEOUT)
    at.secrets.update(SSO_SECRETS)
    at.user = identity
    rerun(at)
    at.switch_page("app_pages/catalog.py")
    return rerun(at)


def test_single_sign_on_signed_out_offers_the_provider_and_nothing_of_the_page(monkeypatch, app_catalog):
    at = single_sign_on_app(monkeypatch, app_catalog, {"is_logged_in": False})
    assert [b.label for b in at.main.button] == ["Sign in with single sign-on"]
    assert not at.metric and not at.warning, "no 'create an account' advice: single sign-on is how staff get in"
    assert "SYN-" not in page_text(at) and str(app_catalog) not in page_text(at)


def test_single_sign_on_opens_for_an_allow_listed_verified_email_and_names_it_in_the_audit(monkeypatch, app_catalog):
    anna = {"is_logged_in": True, "email": "Anna@Shop.example", "email_verified": True, "name": "Anna"}
    at = single_sign_on_app(monkeypatch, app_catalog, anna)
    assert at.metric[0].label == "Products" and not password_fields(at)
    assert any("Signed in as anna@shop.example" in shown(c.value) for c in at.main.caption)
    delete_on_page(at, "SYN-00007")
    catalog = Catalog.open(app_catalog, TEST_MODEL_SPEC, create=False)
    assert [e.actor for e in audit.entries(catalog, AuditQuery(action="delete"))] == ["anna@shop.example"]

    at.button(key="staff-sign-out").click()
    rerun(at)  # signing out of the app signs out of the provider too (else it would sign straight back in)
    assert at.user == {"is_logged_in": False}
    rerun(at)  # a browser reloads the page after the provider's sign-out
    assert [b.label for b in at.main.button] == ["Sign in with single sign-on"] and not at.metric


@pytest.mark.parametrize(
    "identity",
    [
        {"is_logged_in": True, "email": "mallory@shop.example", "email_verified": True},
        {"is_logged_in": True, "email": "anna@shop.example", "email_verified": False},
        {"is_logged_in": True, "name": "no e-mail claim"},
    ],
    ids=["not listed", "unverified", "no e-mail"],
)
def test_single_sign_on_refuses_an_identity_off_the_list(monkeypatch, app_catalog, identity):
    at = single_sign_on_app(monkeypatch, app_catalog, identity)
    assert "is not on the staff list." in at.error[0].value
    assert [b.label for b in at.main.button] == ["Sign out of single sign-on"]
    assert not at.metric and not at.dataframe and "SYN-" not in page_text(at)


def test_a_category_added_by_one_staff_member_is_undone_by_another_from_the_audit_trail(
    monkeypatch, app_catalog, tiny_embedder
):
    from assistant.categories import CatalogCategories, Category

    catalog = Catalog.open(app_catalog, TEST_MODEL_SPEC, create=False)
    with audit.acting_as("anna"):
        CatalogCategories(catalog, tiny_embedder).add(Category(name="ear cuff", description="a cuff worn on the ear"))
    added = audit.entries(catalog, AuditQuery(action="category add"))[0]
    at = run_app(monkeypatch, app_catalog, "app_pages/catalog.py", signed_in=True)
    at.selectbox(key="audit-undo-entry").set_value(added.id)
    at.button(key="audit-undo").click()
    rerun(at)
    assert "ear cuff" not in CatalogCategories(catalog, tiny_embedder).registry
    [done] = audit.entries(catalog, AuditQuery(action="undo"))
    assert (done.actor, done.details["undoes"], done.details["as"]) == ("tester", added.id, "category remove")
