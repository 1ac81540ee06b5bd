"""Errors a user can cause. The CLI turns each into one line on stderr and exit code 2."""

from __future__ import annotations

from .spec import SpecError
from .zoo import UnknownModelError


class WeightsError(ValueError):
    """A checkpoint that cannot be read safely or does not fit the model."""


class InputError(ValueError):
    """An input file (image, dataset, directory) that is missing, unreadable or malformed."""


USER_ERRORS: tuple[type[Exception], ...] = (SpecError, UnknownModelError, WeightsError, InputError,
                                            FileNotFoundError, PermissionError, IsADirectoryError)
