"""Entry point of the ``rerank`` command: one subcommand per module in COMMAND_MODULES."""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from collections.abc import Sequence

from rerank.errors import MissingDependencyError, ModelLoadError

__all__ = ["build_parser", "main"]

# Each module defines register(subparsers) adding one subcommand whose handler is set with set_defaults(run=...).
COMMAND_MODULES = ("rerank_cli.score", "rerank_cli.search", "rerank_cli.evaluate", "rerank_cli.export")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="rerank", description="NLI reranking for retrieval pipelines.")
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress details")
    subparsers = parser.add_subparsers(dest="command", required=True)
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, format="%(levelname)s %(message)s")
    try:
        return int(args.run(args) or 0)
    except (ModelLoadError, MissingDependencyError, FileNotFoundError, ValueError, TypeError) as error:
        print(f"rerank {args.command}: error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
