"""CLI commands for undo and accountability: ``restore``, ``purge``, ``trash``, ``audit`` and ``undo``.

Writes from the command line are audited as the operating-system user (``assistant.catalog.audit``).
"""

from __future__ import annotations

import argparse
import json
import sys

from assistant.catalog import audit
from assistant.catalog.records import AuditQuery
from assistant.catalog.trash import purge, restore_product, trash_days_from_env, trashed
from assistant.cli.common import print_table
from assistant.errors import AssistantError
from assistant.services import open_existing_catalog


def cmd_restore(args: argparse.Namespace) -> int:
    catalog = open_existing_catalog(args.settings)
    failed = 0
    for sku in dict.fromkeys(args.skus):
        try:
            restore_product(catalog, sku)
            print(f"restored {sku}")
        except AssistantError as exc:
            print(f"error: {exc}", file=sys.stderr)
            failed += 1
    return 1 if failed else 0


def cmd_purge(args: argparse.Namespace) -> int:
    catalog = open_existing_catalog(args.settings)
    gone = purge(catalog, trash_days_from_env() if args.expired else None)
    print(f"purged {len(gone)} product(s) from the trash for good")
    return 0


def cmd_trash(args: argparse.Namespace) -> int:
    products = trashed(open_existing_catalog(args.settings))
    if not products:
        print("the trash is empty")
        return 0
    rows = [[p.sku, p.title[:48], p.deleted_at, p.deleted_by] for p in products]
    print_table(rows, ["sku", "title", "deleted", "by"])
    return 0


def cmd_audit(args: argparse.Namespace) -> int:
    query = AuditQuery(action=args.action, actor=args.actor, target=args.target, since=args.since, limit=args.limit)
    entries = audit.entries(open_existing_catalog(args.settings), query)
    if args.json:
        json.dump([e.__dict__ for e in entries], sys.stdout, indent=2, ensure_ascii=False, default=str)
        print()
        return 0
    rows = [[e.id, e.at, e.actor, e.action, e.target, audit.summary(e)[:80]] for e in entries]
    print_table(rows, ["#", "when", "who", "action", "what", "details"])
    return 0


def cmd_undo(args: argparse.Namespace) -> int:
    from assistant.categories import CatalogCategories
    from assistant.clip.embedder import Embedder
    from assistant.undo import undo

    catalog = open_existing_catalog(args.settings)

    def categories() -> CatalogCategories:  # only a category change or the category head needs the model
        return CatalogCategories(catalog, Embedder.from_spec(catalog.model_spec, cache_dir=args.settings.model_cache))

    done = undo(catalog, args.entry, categories)
    print(f"undid #{args.entry} ({done.details['undone action']} by {done.details['undone by']}): audit entry "
          f"#{done.id}; undo that with: python -m assistant undo {done.id}")  # fmt: skip
    return 0


def register(commands, evals, trains) -> None:
    p = commands.add_parser("restore", help="bring deleted products back from the trash, by sku")
    p.add_argument("skus", nargs="+")
    p.set_defaults(handler=cmd_restore)

    p = commands.add_parser("purge", help="empty the trash: deleted products are gone for good")
    p.add_argument(
        "--expired", action="store_true", help="only what has been in the trash longer than ASSISTANT_TRASH_DAYS"
    )
    p.set_defaults(handler=cmd_purge)

    commands.add_parser("trash", help="list the deleted products that can be restored").set_defaults(handler=cmd_trash)

    p = commands.add_parser("audit", help="who changed what in the catalog, newest first")
    p.add_argument("--action", choices=audit.ACTIONS)
    p.add_argument("--actor", help="only this person (as listed)")
    p.add_argument("--target", help="only entries whose target contains this, e.g. a sku")
    p.add_argument("--since", help="only entries at or after this ISO date, e.g. 2026-11-30")
    p.add_argument("--limit", type=int, default=100)
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=cmd_audit)

    p = commands.add_parser(
        "undo", help="undo one change by its audit entry number (the '#' of `audit`), unless changed again since"
    )
    p.add_argument("entry", type=int, metavar="AUDIT_ID")
    p.set_defaults(handler=cmd_undo)
