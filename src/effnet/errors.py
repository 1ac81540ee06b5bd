"""Errors a user can cause. The CLI turns each into one line on stderr and exit code 2."""

from __future__ import annotations

from .spec import SpecError


class UnknownModelError(SpecError):
    """A model name that is not in the registry (and not a spec file)."""


class WeightsError(ValueError):
    """A checkpoint that cannot be read safely or does not fit the model."""


class InputError(ValueError):
    """An input file (image, dataset, directory) or option that is missing, unreadable or malformed."""


class OutputError(InputError):
    """An output path that would overwrite an input, is not a regular file, or exists without `overwrite`."""


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
