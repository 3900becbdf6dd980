"""Staff accounts of a catalog in PostgreSQL: one set of accounts and one throttle for every server, carried by
``copy`` both ways (the account tests that run on both stores are in test_staff.py)."""

from __future__ import annotations

import io
import os
import subprocess
import sys
import threading
from pathlib import Path

import psycopg
import pytest

from assistant.catalog import Catalog
from assistant.catalog.location import cache_dir_for
from assistant.cli.main import main
from assistant.staff.accounts import SignInRefused, StaffAccounts
from assistant.staff.storage import STAFF_DB
from assistant.staff.throttle import FREE_TRIES

pytestmark = pytest.mark.postgres
REPO = Path(__file__).resolve().parents[1]
PASSWORD = "correct horse battery"


@pytest.fixture
def shared(postgres_url, tmp_path, monkeypatch, tiny_embedder) -> Catalog:
    """An empty catalog in a database of its own, opened as an app server opens it."""
    monkeypatch.setenv("ASSISTANT_CACHE_DIR", str(tmp_path / "cache"))
    catalog = Catalog.open(postgres_url, tiny_embedder.spec.name, tiny_embedder.dim)
    yield catalog
    catalog.close()


@pytest.mark.slow
def test_an_account_added_by_the_cli_process_signs_in_on_a_server(shared, postgres_url, tmp_path):
    env = {**os.environ, "ASSISTANT_CACHE_DIR": str(tmp_path / "cli-cache")}  # another machine's cache folder
    added = subprocess.run(
        [sys.executable, "-m", "assistant", "--catalog", postgres_url, "staff", "add", "Anna", "--password-stdin"],
        input=PASSWORD + "\n", cwd=REPO, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert added.returncode == 0, added.stderr
    assert "postgresql://" in added.stdout and "staff.db" not in added.stdout
    server = StaffAccounts.of_catalog(shared)  # the app's accounts: on the catalog's own connections
    assert server.sign_in("anna", PASSWORD).name == "anna"
    assert not (tmp_path / "cli-cache").exists() or not list((tmp_path / "cli-cache").rglob("staff.db"))
    with psycopg.connect(postgres_url) as conn:
        stored = conn.execute("SELECT password_hash, last_sign_in FROM accounts WHERE name = 'anna'").fetchone()
    assert stored[0].startswith("$argon2id$") and PASSWORD not in stored[0] and stored[1] is not None


def test_a_password_change_on_one_server_ends_the_session_on_another(shared, postgres_url):
    one, other = StaffAccounts.of_catalog(shared), StaffAccounts(postgres_url)  # two connections
    one.add("anna", PASSWORD)
    signed_in = other.sign_in("anna", PASSWORD)
    assert one.still_valid(signed_in)
    one.set_password("anna", "another long password")
    assert not other.still_valid(signed_in)


def test_failed_sign_ins_are_counted_once_for_every_server(shared, postgres_url):
    StaffAccounts(postgres_url).add("anna", PASSWORD)
    servers = [StaffAccounts(postgres_url) for _ in range(FREE_TRIES + 1)]  # a connection each
    now, outcomes = 1_000_000.0, []

    def guess(accounts: StaffAccounts) -> None:
        try:
            accounts.sign_in("anna", "a wrong guess", now)
        except SignInRefused as refused:
            outcomes.append(str(refused))

    threads = [threading.Thread(target=guess, args=(server,)) for server in servers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    # Each try waits for the one before it on the same name: the first five are counted, the sixth waits.
    assert sorted(outcomes) == sorted(["Wrong name or password."] * FREE_TRIES + ["Too many failed sign-ins: try "
                                                                                  "again in 2 s."])  # fmt: skip
    with pytest.raises(SignInRefused, match="try again"):
        StaffAccounts.of_catalog(shared).sign_in("anna", PASSWORD, now + 1)  # the right password, another server
    assert StaffAccounts.of_catalog(shared).sign_in("anna", PASSWORD, now + 3).name == "anna"


def test_staff_cli_on_an_empty_database_migrates_it_and_list_creates_nothing(postgres_url, monkeypatch, capsys):
    assert main(["--catalog", postgres_url, "staff", "list"]) == 0
    assert "no staff accounts in postgresql://" in capsys.readouterr().out
    with psycopg.connect(postgres_url) as conn:
        assert conn.execute("SELECT to_regclass('schema_version')").fetchone()[0] is None, "a read made a schema"
    monkeypatch.setattr("sys.stdin", io.StringIO(PASSWORD + "\n"))
    assert main(["--catalog", postgres_url, "staff", "add", "anna", "--password-stdin"]) == 0
    assert StaffAccounts(postgres_url).sign_in("anna", PASSWORD).name == "anna"


def test_copy_carries_accounts_both_ways_and_refuses_foreign_ones(catalog, postgres_url, tmp_path, monkeypatch,
                                                                 capsys):  # fmt: skip
    monkeypatch.setenv("ASSISTANT_CACHE_DIR", str(tmp_path / "cache"))
    folder_accounts = StaffAccounts(catalog.root)
    folder_accounts.add("anna", PASSWORD)
    folder_accounts.add("ben", "ben's long password")
    signed_in = folder_accounts.sign_in("anna", PASSWORD)
    assert main(["copy", "--from", str(catalog.root), "--to", postgres_url]) == 0
    out = capsys.readouterr().out
    assert "2 staff accounts" in out and "verified: 60 products and 2 staff accounts" in out
    database_accounts = StaffAccounts(postgres_url)
    assert database_accounts.still_valid(signed_in), "the copy keeps the password's date: sessions stay valid"
    assert database_accounts.sign_in("ben", "ben's long password").name == "ben"
    assert main(["copy", "--from", str(catalog.root), "--to", postgres_url]) == 0
    assert "; 0 staff accounts" in capsys.readouterr().out, "copying again copies nothing"

    back = tmp_path / "back"
    assert main(["copy", "--from", postgres_url, "--to", str(back)]) == 0
    assert "verified: 60 products and 2 staff accounts" in capsys.readouterr().out
    assert StaffAccounts(back).sign_in("anna", PASSWORD).name == "anna"

    folder_accounts.remove("ben")  # the database now holds an account the folder lacks
    assert main(["copy", "--from", str(catalog.root), "--to", postgres_url]) == 2
    err = capsys.readouterr().err
    assert "1 staff accounts that" in err and "(ben)" in err
    assert StaffAccounts(postgres_url).sign_in("ben", "ben's long password").name == "ben", "refused: nothing changed"


def test_staff_list_says_that_a_servers_old_accounts_file_is_not_read(postgres_url, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("ASSISTANT_CACHE_DIR", str(tmp_path / "cache"))
    old = cache_dir_for(postgres_url)  # where this server kept accounts before they moved into the database
    StaffAccounts(old).add("anna", PASSWORD)
    assert main(["--catalog", postgres_url, "staff", "list"]) == 0
    captured = capsys.readouterr()
    assert "no staff accounts in postgresql://" in captured.out
    assert f"{old / STAFF_DB} holds accounts" in captured.err and "add them again" in captured.err
