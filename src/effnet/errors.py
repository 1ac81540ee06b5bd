"""Errors a user can cause. The CLI turns each into one line on stderr and exit code 2."""

from __future__ import annotations

import re

_OPTION = re.compile("\u00ab([a-z_]+)(?:=([^\u00bb]*))?\u00bb")


def option(name: str, value: str | None = None) -> str:
    """An option named in an error message, written as each user knows it: `overwrite=True` / `tolerance=T` from
    Python, `--overwrite` / `--tolerance T` on the command line (the library never spells a CLI flag itself; the
    CLI renders it)."""
    return f"\u00ab{name}\u00bb" if value is None else f"\u00ab{name}={value}\u00bb"


def for_python(text: str) -> str:
    return _OPTION.sub(lambda match: f"{match.group(1)}={match.group(2) or 'True'}", text)


def for_cli(text: str) -> str:
    def flag(match: re.Match[str]) -> str:
        name = "--" + match.group(1).replace("_", "-")
        return name if match.group(2) is None else f"{name} {match.group(2)}"

    return _OPTION.sub(flag, text)


class SpecError(ValueError):
    """A spec, stage string or option that cannot describe a network."""


class UnknownModelError(SpecError):
    """A model name that is not in the registry (and not a spec file)."""


class WeightsError(ValueError):
    """A checkpoint that cannot be read safely or does not fit the model."""


class InputError(ValueError):
    """An input file (image, dataset, directory) or option that is missing, unreadable or malformed."""

    def __str__(self) -> str:
        return for_python(super().__str__())


class OutputError(InputError):
    """An output path that would overwrite an input, is not a regular file, or exists without `overwrite`."""


class ConfigurationMismatch(InputError):
    """A study folder that holds finished trials of other settings (`difference` says which and how)."""

    def __init__(self, message: str, difference: str = "") -> None:
        super().__init__(message)
        self.difference = difference


class StudyFailing(InputError):
    """A study stopped because its last trials failed one after another (their error is in the message)."""


class MissingDependency(InputError):
    """An optional dependency is not installed; the message names the extra that provides it."""

    def __init__(self, what: str, extra: str, package: str | None = None) -> None:
        hint = f"pip install 'effnet[{extra}]'" + (f" (or: pip install {package})" if package else "")
        super().__init__(f"{what} needs the optional dependency '{package or extra}': {hint}; from a clone: "
                         f"pip install -e '.[{extra}]'")


USER_ERRORS: tuple[type[Exception], ...] = (SpecError, WeightsError, InputError, FileNotFoundError, PermissionError,
                                            IsADirectoryError, NotADirectoryError)
