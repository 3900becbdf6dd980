"""CLI commands for staff accounts: ``staff add|passwd|remove|list`` (the accounts of the --catalog folder or
database, which every app server of that catalog signs staff in with).

Passwords are read without echo from the terminal (twice, to catch typos) or, with ``--password-stdin``,
as the first line of standard input for scripts; they are never taken as an argument (shell history,
``ps``) and never printed.
"""

from __future__ import annotations

import argparse
import getpass
import sys

from assistant.cli.common import print_table
from assistant.errors import UsageError
from assistant.settings import Settings
from assistant.staff.accounts import MIN_PASSWORD_LENGTH, StaffAccounts
from assistant.staff.storage import STAFF_DB


def read_password(args: argparse.Namespace) -> str:
    if args.password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
        if not password:
            raise UsageError("--password-stdin: standard input holds no password (one line expected)")
        return password
    if not sys.stdin.isatty():
        raise UsageError("no terminal to ask for the password on; pipe it in with --password-stdin")
    password = getpass.getpass(f"password for {args.name} (at least {MIN_PASSWORD_LENGTH} characters): ")
    if getpass.getpass("the same password again: ") != password:
        raise UsageError("the two passwords differ; nothing was changed")
    return password


def accounts_of(args: argparse.Namespace) -> StaffAccounts:
    return StaffAccounts(args.settings.catalog_location)


def cmd_add(args: argparse.Namespace) -> int:
    accounts = accounts_of(args)
    name = accounts.add(args.name, read_password(args))
    print(f"added staff account {name!r} to {accounts.where}")
    return 0


def cmd_passwd(args: argparse.Namespace) -> int:
    name = accounts_of(args).set_password(args.name, read_password(args))
    print(f"changed the password of {name!r}; its open sessions end at their next click")
    return 0


def cmd_remove(args: argparse.Namespace) -> int:
    name = accounts_of(args).remove(args.name)
    print(f"removed staff account {name!r}; its open sessions end at their next click")
    return 0


def cmd_list(args: argparse.Namespace) -> int:
    store = accounts_of(args)
    accounts = store.accounts()
    _note_accounts_left_behind(args.settings)
    if not accounts:
        print(f"no staff accounts in {store.where}; add one with: python -m assistant staff add NAME")
        return 0
    rows = [[a.name, a.created_at, a.last_sign_in or "never"] for a in accounts]
    print_table(rows, ["name", "created", "last sign-in"])
    return 0


def _note_accounts_left_behind(settings: Settings) -> None:
    """Before accounts moved into a shared catalog's database, each server kept its own in its cache folder; say
    that those are no longer read, so that nobody wonders why an old password stopped working."""
    left_behind = settings.catalog_dir / STAFF_DB
    if settings.catalog_url and left_behind.exists():
        print(
            f"note: {left_behind} holds accounts this machine kept before they moved into the database; they are not "
            "read any more: add them again with: staff add NAME, then delete that file",
            file=sys.stderr,
        )


def register(commands, evals, trains) -> None:
    staff = commands.add_parser("staff", help="staff accounts for the app's Merchandiser and Catalog pages")
    actions = staff.add_subparsers(dest="staff_command", required=True, metavar="ACTION")
    for action, handler, help_text in (
        ("add", cmd_add, "create an account (asks for its password)"),
        ("passwd", cmd_passwd, "set a new password (ends the account's open sessions)"),
    ):
        p = actions.add_parser(action, help=help_text)
        p.add_argument("name", help="staff name: letters, digits, '.', '_', '-' or '@'")
        p.add_argument("--password-stdin", action="store_true", help="read the password from standard input")
        p.set_defaults(handler=handler)
    p = actions.add_parser("remove", help="delete an account (ends its open sessions)")
    p.add_argument("name")
    p.set_defaults(handler=cmd_remove)
    actions.add_parser("list", help="the accounts, when created, last sign-in").set_defaults(handler=cmd_list)
