"""Staff accounts, sign-in throttling, single sign-on's allow-list, page sets, and output that stays text."""

from __future__ import annotations

import csv
import io
import sqlite3
from pathlib import Path

import pytest
from postgres_server import both_stores

from assistant.catalog import Catalog, ProductRecord
from assistant.cli.main import main
from assistant.errors import SettingsError, UsageError
from assistant.plaintext import csv_text, markdown_literal, terminal_text
from assistant.staff.accounts import SignInRefused, StaffAccounts
from assistant.staff.pages import page_sets_from_env, routes
from assistant.staff.session import StaffSession, idle_minutes_from_env
from assistant.staff.sso import allowed_staff_email
from assistant.staff.storage import STAFF_DB
from assistant.staff.throttle import FREE_TRIES, Throttle, delay_after

PASSWORD = "correct horse battery"


@pytest.fixture
def accounts(catalog_location) -> StaffAccounts:
    """Anna's account in a catalog folder's staff.db, or (under ``both_stores``) in a catalog database."""
    accounts = StaffAccounts(catalog_location)
    accounts.add("Anna", PASSWORD)
    return accounts


def test_passwords_are_stored_as_argon2id_hashes_only(accounts, catalog_location):
    staff_db = Path(catalog_location) / STAFF_DB
    rows = sqlite3.connect(staff_db).execute("SELECT name, password_hash FROM accounts").fetchall()
    assert rows[0][0] == "anna" and rows[0][1].startswith("$argon2id$")
    assert PASSWORD.encode() not in staff_db.read_bytes()
    assert staff_db.stat().st_mode & 0o077 == 0, "the accounts file is readable by its owner only"


@both_stores
def test_the_right_password_signs_in_and_a_wrong_one_is_refused(accounts):
    assert accounts.sign_in("ANNA ", PASSWORD).name == "anna"
    with pytest.raises(SignInRefused, match="Wrong name or password"):
        accounts.sign_in("anna", "not the password")
    with pytest.raises(SignInRefused, match="Wrong name or password"):
        accounts.sign_in("nobody", PASSWORD)


@both_stores
def test_after_five_failures_a_name_waits_longer_and_longer_even_with_the_right_password(accounts):
    now = 1_000_000.0
    for _ in range(FREE_TRIES):
        with pytest.raises(SignInRefused) as refused:
            accounts.sign_in("anna", "wrong guess", now)
    assert refused.value.wait_seconds == delay_after(FREE_TRIES) > 0
    with pytest.raises(SignInRefused, match="try again in 2 s") as refused:
        accounts.sign_in("anna", PASSWORD, now)  # not even checked while the name waits
    later = now + refused.value.wait_seconds
    with pytest.raises(SignInRefused):
        accounts.sign_in("anna", "wrong again", later)
    assert delay_after(FREE_TRIES + 1) == 2 * delay_after(FREE_TRIES)
    with pytest.raises(SignInRefused, match="try again in 3 s"):
        accounts.sign_in("anna", PASSWORD, later + 1)
    assert accounts.sign_in("anna", PASSWORD, later + 4).name == "anna", "the right password after the wait"
    accounts.sign_in("anna", PASSWORD, later + 5)  # and the count starts over


@both_stores
def test_unknown_names_are_throttled_like_known_ones(accounts):
    for _ in range(FREE_TRIES):
        with pytest.raises(SignInRefused):
            accounts.sign_in("ghost", "guess", 50.0)
    with pytest.raises(SignInRefused, match="try again"):
        accounts.sign_in("ghost", "guess", 50.5)


def test_throttle_grows_to_a_ceiling_and_forgets_after_a_day():
    throttle = Throttle()
    for _ in range(40):
        throttle.failed(100.0)
    assert throttle.wait_left(100.0) == 15 * 60
    assert throttle.wait_left(100.0 + 2 * 24 * 3600) == 0


@both_stores
def test_a_password_change_or_removal_ends_open_sessions(accounts):
    signed_in = accounts.sign_in("anna", PASSWORD)
    assert accounts.still_valid(signed_in)
    accounts.set_password("anna", "another long password")
    assert not accounts.still_valid(signed_in)
    signed_in = accounts.sign_in("anna", "another long password")
    accounts.remove("anna")
    assert not accounts.still_valid(signed_in) and not accounts.any()


@both_stores
def test_account_names_and_passwords_are_checked(accounts):
    with pytest.raises(UsageError, match="too short"):
        accounts.add("bob", "short")
    with pytest.raises(UsageError, match="not a usable staff name"):
        accounts.add("bob smith", PASSWORD)
    with pytest.raises(UsageError, match="exists already"):
        accounts.add("anna", PASSWORD)
    with pytest.raises(UsageError, match="no staff account"):
        accounts.set_password("carol", PASSWORD)


def test_idle_sessions_end():
    session = StaffSession("anna", last_active=1000.0)
    assert not session.is_idle(30, now=1000.0 + 29 * 60)
    assert session.is_idle(30, now=1000.0 + 31 * 60)
    assert idle_minutes_from_env({}) == 30
    with pytest.raises(SettingsError):
        idle_minutes_from_env({"ASSISTANT_STAFF_IDLE_MINUTES": "-1"})
    with pytest.raises(SettingsError, match="more than 0 minutes"):
        idle_minutes_from_env({"ASSISTANT_STAFF_IDLE_MINUTES": "0"})  # a session that ends at once is a mistake
    assert idle_minutes_from_env({"ASSISTANT_STAFF_IDLE_MINUTES": " 45 "}) == 45


def test_single_sign_on_lets_in_verified_allow_listed_emails_only():
    allow = ["Anna@Shop.example", " "]
    assert allowed_staff_email({"email": "anna@shop.example", "email_verified": True}, allow) == "anna@shop.example"
    assert allowed_staff_email({"email": "ANNA@shop.example"}, allow) == "anna@shop.example"
    assert allowed_staff_email({"email": "anna@shop.example", "email_verified": False}, allow) is None
    assert allowed_staff_email({"email": "mallory@shop.example"}, allow) is None
    assert allowed_staff_email({"name": "no e-mail"}, allow) is None
    assert allowed_staff_email({"email": "anna@shop.example"}, []) is None, "no list: nobody"


def test_page_sets_and_routes():
    assert page_sets_from_env({}) == {"shop", "kiosk", "staff"}
    assert page_sets_from_env({"ASSISTANT_PAGES": " Kiosk "}) == {"kiosk"}
    with pytest.raises(SettingsError, match="kisok"):
        page_sets_from_env({"ASSISTANT_PAGES": "shop,kisok"})
    kiosk_only = routes(frozenset({"kiosk"}), has_products=True)
    assert {r.target for r in kiosk_only} == {"kiosk"} and not any(r.staff_only for r in kiosk_only)
    public = routes(frozenset({"shop", "kiosk"}), has_products=True)
    assert {r.url: r.target for r in public}["catalog"] == "shop", "a staff URL on a public server shows the shop"
    back_office = {r.url: r for r in routes(frozenset({"staff"}), has_products=True)}
    assert back_office["catalog"].default and all(r.staff_only for r in back_office.values())
    assert {r.target for r in routes(frozenset({"shop"}), has_products=False)} == {"closed"}


def test_markdown_literal_leaves_no_markdown():
    value = "![x](http://host/p.png) **bold** :red[red] $x$ <b>"
    escaped = markdown_literal(value)
    assert "![" not in escaped and "](" not in escaped and "**" not in escaped
    assert escaped.replace("\\", "") == value


def test_a_formula_cell_comes_out_neutralised():
    text = csv_text(["sku", "problem"], [["=cmd|' /C calc'!A0", "+1"], ["-2", "@SUM(A1)"], ["\tx", "fine"]])
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[1:] == [["'=cmd|' /C calc'!A0", "'+1"], ["'-2", "'@SUM(A1)"], ["'\tx", "fine"]]


def test_terminal_text_strips_control_characters():
    assert terminal_text("a\x1b[31mred\x07\x9b\u202eb\nc", keep="\n") == "a[31mredb\nc"


def _product(tiny_embedder, sku: str, title: str) -> ProductRecord:
    return ProductRecord(sku=sku, title=title, vector=tiny_embedder.embed_texts([title])[0], content_hash=sku)


def test_the_cli_prints_no_control_characters(tmp_path, tiny_embedder, capsys):
    folder = tmp_path / "catalog"
    catalog = Catalog.open(folder, tiny_embedder.spec.name, tiny_embedder.dim)
    catalog.upsert([_product(tiny_embedder, "EVIL-1", "ring \x1b]0;owned\x07\x1b[2J\x9bcleared")])
    for command in (["search", "ring"], ["search", "ring", "--json"], ["info"]):
        assert main(["--catalog", str(folder), "--model", tiny_embedder.spec.name, *command]) == 0
        out = capsys.readouterr().out
        assert "EVIL-1" in out or "products" in out
        assert not any(c in out for c in "\x1b\x07\x9b"), command


@both_stores
def test_staff_cli_add_list_passwd_remove(catalog_location, monkeypatch, capsys):
    def staff(*args: str, stdin: str = "") -> int:
        monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
        return main(["--catalog", catalog_location, "staff", *args])

    assert staff("add", "Anna", "--password-stdin", stdin=PASSWORD + "\n") == 0
    assert staff("add", "bob", "--password-stdin", stdin="short\n") == 2
    assert staff("add", "bob") == 2, "no terminal and no --password-stdin: refused, not hanging"
    assert staff("list") == 0
    out = capsys.readouterr()
    assert "anna" in out.out and "never" in out.out and PASSWORD not in out.out + out.err
    assert "too short" in out.err and "--password-stdin" in out.err
    assert StaffAccounts(catalog_location).sign_in("anna", PASSWORD).name == "anna"
    assert staff("passwd", "anna", "--password-stdin", stdin="a brand new password\n") == 0
    assert StaffAccounts(catalog_location).sign_in("anna", "a brand new password").name == "anna"
    assert staff("remove", "anna") == 0 and staff("remove", "anna") == 2
    assert not StaffAccounts(catalog_location).any()
