"""Thin command-line front end: every subcommand lives in `effnet.commands.<name>` and calls the public API."""

from __future__ import annotations

import argparse
import importlib
import re
import sys
import warnings
from collections.abc import Sequence
from importlib.metadata import PackageNotFoundError, version
from typing import NoReturn

from .errors import USER_ERRORS, for_cli
from .outputs import disk_full, printable

# Subcommand modules, each with `add_parser(subparsers)` that sets `func(args) -> int | None`.
COMMANDS = ("models", "info", "predict", "demo", "train", "eval", "finetune", "profile", "scale", "bench",
            "export", "cam", "quantize", "experiment", "search", "dashboard", "report")


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


def make_parser(only: str | None = None) -> argparse.ArgumentParser:
    """The full parser, or with `only` just that subcommand (so `effnet info` never imports the trainer)."""
    parser = Parser(prog="effnet", description="EfficientNet and compound model scaling.")
    parser.add_argument("--version", action="version", version=f"effnet {_version()}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in COMMANDS:
        if only is None or name == only:
            importlib.import_module(f"effnet.commands.{name}").add_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; user errors become one line on stderr and exit code 2."""
    argv = list(sys.argv[1:] if argv is None else argv)
    first = next((arg for arg in argv if not arg.startswith("-")), None)
    parser = make_parser(first if first in COMMANDS else None)
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
