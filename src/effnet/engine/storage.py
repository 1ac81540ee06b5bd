"""Where a study lives: an Optuna journal file in the output folder by default, or any database URL Optuna
accepts (PostgreSQL for several machines); one-line errors for what cannot be opened, and no password printed."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from optuna.storages import BaseStorage, JournalStorage, RDBStorage
from optuna.storages.journal import JournalFileBackend

from ..errors import InputError
from .plan import JOURNAL_FILE, first_line


def open_storage(output: Path, url: str | None) -> BaseStorage:
    """The journal file in `output`, or the database at `url`; one-line errors for what cannot be opened."""
    if url is None:
        output.mkdir(parents=True, exist_ok=True)
        path = output / JOURNAL_FILE
        try:
            return JournalStorage(JournalFileBackend(str(path)))
        except (OSError, ValueError, json.JSONDecodeError, UnicodeDecodeError) as error:
            raise InputError(f"cannot read the study journal {path}: {first_line(error)}") from None
    if url.startswith(("journal:", "file:")):
        return JournalStorage(JournalFileBackend(url.split(":", 1)[1]))
    try:
        return RDBStorage(url, engine_kwargs=_engine_kwargs(url))
    except ImportError as error:
        raise InputError(f"study storage {url!r} needs a database driver that is not installed ({error.name}); for "
                         "PostgreSQL: pip install 'effnet[postgres]'") from None
    except Exception as error:  # sqlalchemy's and the drivers' own exception types
        raise InputError(f"cannot reach the study storage {redact(url)}: {first_line(error)}") from None


def _engine_kwargs(url: str) -> dict[str, Any]:
    if url.startswith("postgresql"):
        return {"pool_pre_ping": True, "connect_args": {"connect_timeout": 10}}
    return {}


def redact(url: str) -> str:
    """A URL without its password."""
    head, at, tail = url.rpartition("@")
    if not at or ":" not in head.split("//", 1)[-1]:
        return url
    scheme, _, credentials = head.partition("//")
    return f"{scheme}//{credentials.split(':', 1)[0]}:***@{tail}"
