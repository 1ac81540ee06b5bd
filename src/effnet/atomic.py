"""Atomic file output: write to a temporary file in the target's folder, then rename it over the target, so a
crash or Ctrl-C never leaves a half-written checkpoint, export, metrics file or image behind."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


def _default_mode() -> int:
    """The permissions a plain `open(path, "w")` would give (0o666 less the umask); temp files get 0o600."""
    umask = os.umask(0o022)
    os.umask(umask)
    return 0o666 & ~umask


@contextmanager
def atomic_path(path: str | os.PathLike[str], *, suffix: str | None = None) -> Iterator[Path]:
    """Yield a temporary path next to `path`; when the block succeeds it replaces `path` in one rename, and when
    it fails the temporary file is removed and `path` is left as it was."""
    target = Path(path)
    if target.is_dir():
        raise IsADirectoryError(f"output {target} is a directory")
    if not target.parent.is_dir():
        raise FileNotFoundError(f"output directory {target.parent} does not exist")
    handle, temp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=suffix or target.suffix or ".tmp",
                                    dir=target.parent)
    os.close(handle)
    try:
        yield Path(temp)
        os.chmod(temp, _default_mode())
        os.replace(temp, target)
    finally:
        if os.path.exists(temp):
            os.unlink(temp)


__all__ = ["atomic_path"]
