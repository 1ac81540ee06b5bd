"""Where a study lives: an Optuna journal file in the output folder by default, or any database URL Optuna
accepts (PostgreSQL for several machines), opened with Optuna's own heartbeat so that a trial whose machine died
is failed and tried again; one-line errors for what cannot be opened, and no password printed."""

from __future__ import annotations

import inspect
import json
import warnings
from pathlib import Path
from typing import Any

from optuna.exceptions import ExperimentalWarning
from optuna.storages import BaseStorage, JournalStorage, RDBStorage
from optuna.storages.journal import JournalFileBackend
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

from ..errors import InputError
from .heartbeat import HEARTBEAT, STALE_AFTER, retry_stale
from .plan import JOURNAL_FILE, STUDY_FILE, first_line


def open_storage(output: Path, url: str | None, *, create: bool = True) -> BaseStorage | None:
    """The journal file in `output`, or the database at `url`; one-line errors for what cannot be opened. With
    `create=False` a journal that does not exist yet is not made (None): nothing is written before a study starts."""
    if url is None:
        path = output / JOURNAL_FILE
        if not create and not path.exists():
            return None
        output.mkdir(parents=True, exist_ok=True)
        try:
            return JournalStorage(JournalFileBackend(str(path)))
        except Exception as error:  # a corrupt or hand-edited journal: Optuna replays it here
            raise InputError(f"cannot read the study journal {path}: {first_line(error)}") from None
    if url.startswith(("journal:", "file:")):
        path = Path(url.split(":", 1)[1])
        if not path.parent.is_dir():
            raise InputError(f"study storage {url!r}: the folder {path.parent} does not exist")
        try:
            return JournalStorage(JournalFileBackend(str(path)))
        except Exception as error:  # a corrupt or hand-edited journal: Optuna replays it here
            raise InputError(f"cannot read the study journal {path}: {first_line(error)}") from None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ExperimentalWarning)  # the heartbeat is "experimental" in Optuna
            return RDBStorage(url, engine_kwargs=_engine_kwargs(url), heartbeat_interval=HEARTBEAT,
                              grace_period=STALE_AFTER, **{_STALE_CALLBACK: retry_stale})
    except ImportError as error:
        raise InputError(f"study storage {url!r} needs a database driver that is not installed ({error.name}); for "
                         "PostgreSQL: pip install 'effnet[postgres]'") from None
    except Exception as error:  # sqlalchemy's and the drivers' own exception types
        raise InputError(f"cannot reach the study storage {redact(url)}: {first_line(error)}") from None


# Optuna 4.9 renamed the stale-trial callback; the oldest supported Optuna knows only the old name.
_STALE_CALLBACK = ("heartbeat_stale_trial_callback" if "heartbeat_stale_trial_callback" in
                   inspect.signature(RDBStorage).parameters else "failed_trial_callback")


def folder_storage(folder: Path, url: str | None = None) -> tuple[BaseStorage, str]:
    """The storage and study name an effnet study folder records in its study.json (read, never written); `url`
    gives a database whose URL the folder keeps without its password."""
    record = folder / STUDY_FILE
    try:
        saved = json.loads(record.read_text())
        name, where = str(saved["study"]), str(saved.get("storage", JOURNAL_FILE))
    except FileNotFoundError:
        raise InputError(f"{folder} is not an effnet study folder: no {STUDY_FILE}") from None
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise InputError(f"{record} is damaged ({first_line(error)})") from None
    if url is not None:
        where = url
    elif "***" in where:
        raise InputError(f"{folder} keeps its study in {where}; the password is not stored: pass the URL itself")
    storage = open_storage(folder, None if where == JOURNAL_FILE else where, create=False)
    if storage is None:
        raise InputError(f"{folder} has no {JOURNAL_FILE}: the study was never started")
    return storage, name


def _engine_kwargs(url: str) -> dict[str, Any]:
    """No connection pool: Optuna's RDBStorage has no close, so pooled connections outlived every storage that was
    dropped (psycopg warns of each when it is collected); a trial's few queries per minute need no pool."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "postgresql":
        return {"poolclass": NullPool, "connect_args": {"connect_timeout": 10}}
    in_memory = parsed.get_backend_name() == "sqlite" and parsed.database in (None, "", ":memory:")
    return {} if in_memory else {"poolclass": NullPool}  # one in-memory database lives as long as its pool


def redact(url: str) -> str:
    """A URL without its password."""
    head, at, tail = url.rpartition("@")
    if not at or ":" not in head.split("//", 1)[-1]:
        return url
    scheme, _, credentials = head.partition("//")
    return f"{scheme}//{credentials.split(':', 1)[0]}:***@{tail}"
