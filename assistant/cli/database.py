"""CLI commands for a catalog kept in PostgreSQL: migrate (bring its schema up to date)."""

from __future__ import annotations

import argparse


def cmd_migrate(args: argparse.Namespace) -> int:
    settings = args.settings
    if not settings.catalog_url:
        print(f"catalog folder {settings.catalog_dir}: nothing to migrate (a folder's schema is kept current on open)")
        return 0
    from assistant.catalog.postgres.connection import redacted
    from assistant.catalog.postgres.migrations import latest_version, migrate

    applied = migrate(settings.catalog_url)
    where = redacted(settings.catalog_url)
    if applied:
        names = ", ".join(m.path.name for m in applied)
        print(f"{where}: applied {names}; schema version {applied[-1].version}")
    else:
        print(f"{where}: schema version {latest_version()} is current; nothing to do")
    return 0


def register(commands, evals, trains) -> None:
    migrate = commands.add_parser(
        "migrate",
        help="bring a PostgreSQL catalog's schema up to date (safe to repeat; one transaction)",
        description="Apply the schema migrations this program ships that the catalog database lacks, in order, in "
        "one transaction. Run it once before starting app servers of a new version.",
    )
    migrate.set_defaults(handler=cmd_migrate)
