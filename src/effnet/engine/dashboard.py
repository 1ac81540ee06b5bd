"""A live view of a study: optuna-dashboard (an optional extra) serving the study's own storage -- its journal
file, or its database -- while the study runs or after it has finished. Bound to 127.0.0.1 unless asked."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from ..errors import InputError, MissingDependency
from .storage import folder_storage

DEFAULT_PORT = 8080


def serve(folder: str | Path, *, host: str = "127.0.0.1", port: int = DEFAULT_PORT, storage: str | None = None,
          ready: Callable[[str], None] = print) -> None:
    """Serve the study in `folder` (or in the database `storage`, for a study whose URL holds a password) until
    interrupted; `ready(url)` is told where its page is."""
    try:
        import optuna_dashboard
    except ImportError:
        raise MissingDependency("effnet dashboard", "dashboard", "optuna-dashboard") from None
    if not isinstance(port, int) or isinstance(port, bool) or not 1 <= port <= 65535:
        raise InputError(f"port must be an integer in [1, 65535], got {port!r}")
    study_storage, name = folder_storage(Path(folder), storage)
    try:
        study_id = study_storage.get_study_id_from_name(name)
    except KeyError:
        raise InputError(f"the study {name} is not in its storage (was it ever started?)") from None
    ready(f"http://{host}:{port}/dashboard/studies/{study_id}")
    try:
        optuna_dashboard.run_server(study_storage, host=host, port=port)
    except OSError as error:
        raise InputError(f"cannot serve on {host}:{port}: {error.strerror or error}") from None


__all__ = ["DEFAULT_PORT", "serve"]
