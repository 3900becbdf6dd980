"""CLI commands for catalogs kept in PostgreSQL: migrate (bring its schema up to date), copy (folder <-> database)."""

from __future__ import annotations

import argparse
import sys

from assistant.catalog import Catalog, CatalogError
from assistant.cli.common import progress_bar
from assistant.services import stored_manifest
from assistant.settings import Settings
from assistant.staff.accounts import StaffAccounts


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


def shared_file_names() -> tuple[list[str], list[str]]:
    """The files a copy carries besides products (registry, few-shot head, personaliser), and the folders
    (category example photos) whose every file it carries."""
    from assistant.categories.catalog_labels import HEAD_NAME
    from assistant.categories.registry import CATEGORIES_DIR, EXAMPLES_DIR, REGISTRY_NAME
    from assistant.personalization.checkpoint import CHECKPOINT_NAME

    names = [f"{CATEGORIES_DIR}/{REGISTRY_NAME}", f"{CATEGORIES_DIR}/{HEAD_NAME}", CHECKPOINT_NAME]
    return names, [f"{CATEGORIES_DIR}/{EXAMPLES_DIR}"]


def open_copy_ends(source: str, destination: str) -> tuple[Catalog, Catalog]:
    """The source catalog (with the model it was built with) and the destination, created like it if absent."""
    manifest = stored_manifest(Settings.resolve(source))
    if manifest is None:
        raise CatalogError(f"no catalog at {source} to copy from")
    src = Catalog.open(source, manifest.model_spec, create=False)
    dst = Catalog.open(destination, manifest.model_spec, manifest.dim, index_kind=manifest.index_kind)
    if dst.manifest.image_weight != manifest.image_weight:
        if dst.count():
            raise CatalogError(
                f"{dst.location} blends photos at weight {dst.manifest.image_weight}, {src.location} at "
                f"{manifest.image_weight}; copy into a new catalog"
            )
        dst.manifest.image_weight = manifest.image_weight
        dst.save_manifest()
    return src, dst


def cmd_copy(args: argparse.Namespace) -> int:
    from assistant.catalog.transfer import copy_catalog
    from assistant.staff.account_copy import check_accounts_copyable, copy_accounts, verify_accounts

    source, destination = open_copy_ends(args.source, args.destination)
    files, folders = shared_file_names()
    check_accounts_copyable(source, destination)
    with progress_bar("copying products") as progress:
        report = copy_catalog(source, destination, files, folders, progress=progress)
    accounts = copy_accounts(source, destination)
    problems = report.problems + verify_accounts(source, destination)
    print(
        f"{source.location} -> {destination.location}: copied {report.copied} products, {report.unchanged} already "
        f"there; {len(report.files)} shared files ({', '.join(report.files) or 'none'}); {accounts} staff accounts"
    )
    if problems:
        for problem in problems:
            print(f"verification failed: {problem}", file=sys.stderr)
        return 1
    count = len(StaffAccounts.of_catalog(destination).hashes())
    print(f"verified: {destination.count()} products and {count} staff accounts, every digest and hash matches")
    return 0


def register(commands, evals, trains) -> None:
    migrate = commands.add_parser(
        "migrate",
        help="bring a PostgreSQL catalog's schema up to date (safe to repeat; one transaction)",
        description="Apply the schema migrations this program ships that the catalog database lacks, in order, in "
        "one transaction. Run it once before starting app servers of a new version.",
    )
    migrate.set_defaults(handler=cmd_migrate)
    copy = commands.add_parser(
        "copy",
        help="copy a catalog between a folder and a PostgreSQL database, either way (resumable, verified)",
        description="Copy products (vectors and photos included), the category registry, its example photos, "
        "trained heads and staff accounts (password hashes only) from SRC to DST, a folder or a postgresql:// URL "
        "each. DST is created like SRC when absent. Run it again after an interruption: products already copied "
        "are skipped. It ends by comparing counts and "
        "content hashes of both sides; exit status 1 if they differ. Indexes and caches are rebuilt, not copied.",
    )
    copy.add_argument("--from", dest="source", required=True, metavar="SRC", help="catalog folder or URL to copy")
    copy.add_argument("--to", dest="destination", required=True, metavar="DST", help="catalog folder or URL to fill")
    copy.set_defaults(handler=cmd_copy)
