"""Entry point of the ``rerank`` command: one subcommand per module in COMMAND_MODULES.

Exit status: 0 on success; 2 for a usage or input error (a missing or malformed file, a bad flag value, a model
that cannot be loaded), reported as one line ``rerank <command>: error: ...`` on stderr; 1 for an internal error
(a bug), reported as one line that says so; 130 when interrupted; 141 when stdout is closed early (``| head``).
``rerank --debug <command> ...`` prints the full traceback of any error as well.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import logging
import os
import sqlite3
import sys
import traceback
from collections.abc import Iterator, Sequence

from pydantic import ValidationError

from rerank.errors import MissingDependencyError

__all__ = ["build_parser", "main"]

# Each module defines register(subparsers) adding one subcommand whose handler is set with set_defaults(run=...).
COMMAND_MODULES = (
    "rerank_cli.score",
    "rerank_cli.search",
    "rerank_cli.evaluate",
    "rerank_cli.export",
    "rerank_cli.calibrate",
    "rerank_cli.verify",
    "rerank_cli.groundedness",
    "rerank_cli.serve",
    "rerank_cli.classify",
    "rerank_cli.answers",
)
# Errors that mean the input was wrong (flags, files, models), not the program: exit 2 with their message. OSError
# covers missing or unreadable files and rerank.errors.ModelLoadError; ValueError covers malformed content.
INPUT_ERRORS = (ValueError, OSError, MissingDependencyError, sqlite3.DatabaseError)
# sqlite3 errors that come from this program's own SQL rather than from the file.
SQLITE_BUGS = (sqlite3.ProgrammingError, sqlite3.InterfaceError, sqlite3.InternalError)


class _Parser(argparse.ArgumentParser):
    """An ArgumentParser whose usage errors are one line (exit status 2), like every other input error."""

    def error(self, message: str):
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="rerank", description="NLI reranking for retrieval pipelines.")
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress details")
    parser.add_argument("--debug", action="store_true", help="print the full traceback of any error")
    subparsers = parser.add_subparsers(dest="command", required=True)  # subparsers are _Parser too
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(subparsers)
    return parser


def one_line(error: BaseException) -> str:
    """The error's message on one line; a pydantic ValidationError names each field and what was wrong with it."""
    if isinstance(error, ValidationError):
        parts = [
            f"{'.'.join(map(str, item['loc'])) or 'value'}: {item['msg'].removeprefix('Value error, ')} "
            f"(got {item.get('input')!r})"
            for item in error.errors()
        ]
        text = f"invalid {error.title}: " + "; ".join(parts)
    elif isinstance(error, OSError) and error.filename is not None and error.strerror:
        text = f"{error.filename}: {error.strerror}"  # "[Errno 21] Is a directory: 'x'" -> "x: Is a directory"
    else:
        text = str(error) or type(error).__name__
    return " ".join(line.strip() for line in text.splitlines() if line.strip())


def _is_input_error(error: BaseException) -> bool:
    return isinstance(error, INPUT_ERRORS) and not isinstance(error, SQLITE_BUGS)


def _loads_model(args: argparse.Namespace) -> bool:
    """Whether the command will load a transformers model (a reranker, or a dense retriever's encoder)."""
    if getattr(args, "no_rerank", False):
        return False
    return bool(getattr(args, "model", None)) or getattr(args, "retriever", "bm25") != "bm25"


@contextlib.contextmanager
def _model_loading_bars_hidden(hide: bool) -> Iterator[None]:
    """Hide transformers' own bars ("Loading weights"), which are not the command's progress, unless --verbose."""
    was_shown = False
    if hide:
        with contextlib.suppress(ImportError):
            from transformers.utils import logging as hf_logging

            was_shown = hf_logging.is_progress_bar_enabled()
    if was_shown:
        hf_logging.disable_progress_bar()
    try:
        yield
    finally:
        if was_shown:
            hf_logging.enable_progress_bar()


def _stdout_closed() -> int:
    """stdout was closed by the reader (``rerank search ... | head``): stop quietly, as Unix tools do."""
    with contextlib.suppress(OSError, ValueError):  # send the interpreter's final flush nowhere
        devnull = os.open(os.devnull, os.O_WRONLY)
        try:
            os.dup2(devnull, sys.stdout.fileno())
        finally:
            os.close(devnull)
    return 141


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, format="%(levelname)s %(message)s")
    try:
        with _model_loading_bars_hidden(_loads_model(args) and not args.verbose):
            return int(args.run(args) or 0)
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return _stdout_closed()
    except Exception as error:
        if args.debug:
            traceback.print_exc()
        if _is_input_error(error):
            where = (
                f"score cache {args.cache}: " if isinstance(error, sqlite3.Error) and vars(args).get("cache") else ""
            )
            print(f"rerank {args.command}: error: {where}{one_line(error)}", file=sys.stderr)
            return 2
        print(
            f"rerank {args.command}: internal error (a bug; please report it): {type(error).__name__}: "
            f"{one_line(error)}"
            + ("" if args.debug else f"; rerun as `rerank --debug {args.command} ...` for the traceback"),
            file=sys.stderr,
        )
        return 1


if __name__ == "__main__":
    sys.exit(main())
