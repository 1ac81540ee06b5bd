"""Thin command-line front end: every subcommand lives in `effnet.commands.<name>` and calls the public API."""

from __future__ import annotations

import argparse
import importlib
import re
import sys
import warnings
from collections.abc import Collection, Sequence
from importlib.metadata import PackageNotFoundError, version
from typing import NoReturn

from .commands import SUMMARIES
from .errors import USER_ERRORS, for_cli
from .outputs import disk_full, printable

# Subcommand modules `effnet.commands.<name>`, each with `add_parser(subparsers)` that sets `func(args) -> int | None`.
COMMANDS = tuple(SUMMARIES)


def _version() -> str:
    try:
        return version("effnet")
    except PackageNotFoundError:
        return "unknown (not installed)"


class Parser(argparse.ArgumentParser):
    """argparse with the CLI's error rule (one line on stderr, exit code 2) and negative numbers in any notation
    (`--phi -1e9`, `--phi -.5`) read as values rather than as unknown options."""

    def __init__(self, *args, **kwargs) -> None:  # type: ignore[no-untyped-def]
        super().__init__(*args, **kwargs)
        self._negative_number_matcher = re.compile(r"^-(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$|^-(inf|infinity|nan)$", re.I)

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"effnet: error: {_one_line(message)} (see: {self.prog} --help)\n")


def make_parser(load: str | Collection[str] = COMMANDS) -> argparse.ArgumentParser:
    """The CLI's parser: the commands in `load` (one name or several) in full, the others as their one-line summary,
    which is all `effnet --help` and a mistyped command need, so `effnet info` never imports the trainer."""
    load = {load} if isinstance(load, str) else set(load)
    parser = Parser(prog="effnet", description="EfficientNet and compound model scaling.")
    parser.add_argument("--version", action="version", version=f"effnet {_version()}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, summary in SUMMARIES.items():
        if name in load:
            importlib.import_module(f"effnet.commands.{name}").add_parser(sub)
        else:
            sub.add_parser(name, help=summary)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; user errors become one line on stderr and exit code 2."""
    argv = list(sys.argv[1:] if argv is None else argv)
    first = next((arg for arg in argv if not arg.startswith("-")), None)
    parser = make_parser({first} & set(COMMANDS))
    args = parser.parse_args(argv)
    try:
        with warnings.catch_warnings():
            warnings.showwarning = _show_warning
            code = args.func(args)
    except USER_ERRORS as error:
        print(f"effnet: error: {_one_line(error)}", file=sys.stderr)
        return 2
    except OSError as error:
        if not disk_full(error):
            raise
        where = f" while writing {error.filename}" if error.filename else ""
        print(f"effnet: error: no space left on the device{where}; nothing was replaced", file=sys.stderr)
        return 2
    except BrokenPipeError:
        sys.stderr.close()
        return 0
    except KeyboardInterrupt:
        print("effnet: interrupted", file=sys.stderr)
        return 130
    return int(code or 0)


def _show_warning(message, category, filename, lineno, file=None, line=None) -> None:  # type: ignore[no-untyped-def]
    """Warnings as one line each, never a source excerpt."""
    print(f"effnet: warning: {_one_line(message)}", file=sys.stderr)


MAX_MESSAGE = 600  # characters of an error line: a message that quotes a huge value is cut, never megabytes


def _one_line(error: BaseException | str) -> str:
    raw = ValueError.__str__(error) if isinstance(error, ValueError) else str(error)  # before Python's spelling
    text = printable(for_cli(" ".join((raw.strip() or type(error).__name__).split())))
    return text if len(text) <= MAX_MESSAGE else text[: MAX_MESSAGE - 20] + f" ... ({len(text):,} characters)"


if __name__ == "__main__":
    sys.exit(main())
