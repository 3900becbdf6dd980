"""Command line: ``python -m assistant [--catalog DIR] [--model SPEC] COMMAND ...``.

Each feature module owns its commands and registers them here through ``register(commands, evals,
trains)``; this file only parses the shared settings and reports errors the user can act on.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys

from assistant.cli.common import plain_stdout
from assistant.errors import AssistantError
from assistant.plaintext import terminal_text
from assistant.settings import ENV_CATALOG, ENV_MODEL, ENV_MODEL_CACHE, Settings

#: Modules with a ``register(commands, evals, trains)`` function, in help order.
COMMAND_MODULES = [
    "assistant.cli.catalog",
    "assistant.cli.categories",
    "assistant.cli.personalization",
    "assistant.cli.database",
    "assistant.cli.search",
    "assistant.cli.staff",
    "assistant.cli.trash",
]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m assistant",
        description="Multimodal, zero-shot jewelry shopping assistant: catalog, search, categories, personalisation.",
    )
    parser.add_argument(
        "--catalog",
        help=f"catalog folder, or a PostgreSQL URL postgresql://USER@HOST/DB (env {ENV_CATALOG}, default ./catalog)",
    )
    parser.add_argument(
        "--model", help=f"model spec, e.g. ViT-B-32:laion2b_s34b_b79k, ViT-B-32:/path/ckpt, tiny-test (env {ENV_MODEL})"
    )
    parser.add_argument("--model-cache", help=f"where downloaded weights are cached (env {ENV_MODEL_CACHE})")
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress details")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    evals = commands.add_parser("eval", help="evaluate categories, search or personalisation").add_subparsers(
        dest="eval_command", required=True, metavar="WHAT"
    )
    trains = commands.add_parser("train", help="train a model head").add_subparsers(
        dest="train_command", required=True, metavar="WHAT"
    )
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(commands, evals, trains)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, format="%(levelname)s %(message)s")
    args.settings = Settings.resolve(args.catalog, args.model, args.model_cache)
    try:
        with plain_stdout():  # catalog values can hold terminal escape sequences: none reach the terminal
            return int(args.handler(args) or 0)
    except AssistantError as exc:
        print(f"error: {terminal_text(exc, keep=chr(10))}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted; run the same command again to resume", file=sys.stderr)
        return 130
