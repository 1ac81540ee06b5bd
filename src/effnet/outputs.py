"""Outputs that never destroy anything: every file effnet writes goes through a temporary file in the target's
folder and one rename (a crash or Ctrl-C never leaves a half-written file), and `check_output` refuses a target
that is one of the command's inputs, is not a regular file, or exists without `overwrite`.

Temporary files are named `.TARGET.PID.RANDOM.part.EXT` (the target's extension last, so writers that pick a
format by extension still work); one left behind by a process that was killed (kill -9, power
loss) is removed the next time anything is written to the same target."""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import re
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

from .errors import OutputError, option

PathLike = str | os.PathLike[str]


_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def printable(text: object) -> str:
    """A user-supplied name (a file name, a label) safe to print on one line: newlines, tabs and terminal escape
    codes are shown as escapes (`\\n`, `\\x1b`) instead of being written raw."""
    return _CONTROL.sub(lambda match: match.group().encode("unicode_escape").decode("ascii"), str(text))


def format_duration(seconds: float) -> str:
    """A time left, for progress lines: `1h05m` or `4m09s`."""
    seconds = int(round(seconds))
    hours, rest = divmod(seconds, 3600)
    return f"{hours}h{rest // 60:02d}m" if hours else f"{rest // 60}m{rest % 60:02d}s"


LOCK_FILE = ".effnet.lock"


@contextmanager
def run_lock(folder: Path, what: str = "run") -> Iterator[None]:
    """Hold `folder/.effnet.lock` for the duration: a second process writing the same folder at the same time is
    refused with one line instead of silently overwriting the first's files. The lock is the kernel's (flock), so
    it goes away with a killed process; the file is removed when the block ends, and a folder the lock created
    and nothing else wrote to goes with it."""
    created = not folder.exists()
    folder.mkdir(parents=True, exist_ok=True)
    lock = folder / LOCK_FILE
    handle = open(lock, "a+")  # noqa: SIM115 - held for the block
    try:
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise OutputError(f"another {what} is writing {folder} right now; wait for it or choose another "
                              "folder") from None
        try:
            yield
        finally:
            with contextlib.suppress(OSError):  # while still holding it
                lock.unlink()
            if created and not any(folder.iterdir()):
                with contextlib.suppress(OSError):
                    folder.rmdir()
    finally:
        handle.close()


def _default_mode() -> int:
    """The permissions a plain `open(path, "w")` would give (0o666 less the umask); temp files get 0o600."""
    umask = os.umask(0o022)
    os.umask(umask)
    return 0o666 & ~umask


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def remove_stale_temps(target: Path) -> list[Path]:
    """Delete temporary files of `target` left by processes that no longer run; returns what was removed."""
    pattern = re.compile(rf"^\.{re.escape(target.name)}\.(\d+)\.[A-Za-z0-9_]+\.part(\.[A-Za-z0-9_]+)?$")
    removed = []
    try:
        entries = list(target.parent.iterdir())
    except OSError:
        return removed
    for entry in entries:
        match = pattern.match(entry.name)
        if match and not _alive(int(match.group(1))) and entry.is_file():
            with contextlib.suppress(OSError):
                entry.unlink()
                removed.append(entry)
    return removed


@contextmanager
def atomic_path(path: PathLike, *, suffix: str | None = None) -> Iterator[Path]:
    """Yield a temporary path next to `path`; when the block succeeds it replaces `path` in one rename, and when
    it fails the temporary file is removed and `path` is left as it was. The temporary file ends in the target's
    extension (or `suffix`), for writers that pick a format by it."""
    target = Path(path)
    if target.is_dir():
        raise IsADirectoryError(f"output {target} is a directory")
    if not target.parent.is_dir():
        raise FileNotFoundError(f"output directory {target.parent} does not exist")
    remove_stale_temps(target)
    temp = _temporary(target, target.suffix if suffix is None else suffix)
    try:
        yield Path(temp)
        os.chmod(temp, _default_mode())
        os.replace(temp, target)
    except Exception as error:
        if not isinstance(error, OSError) and _filled(temp, error):
            # torch.save and safetensors report a full disk as their own RuntimeError / SafetensorError
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(target)) from error
        raise
    finally:
        if os.path.exists(temp):
            os.unlink(temp)


def _temporary(target: Path, ending: str) -> str:
    """A new empty file `.TARGET.PID.RANDOM.part.EXT` next to `target`."""
    handle, temp = tempfile.mkstemp(prefix=f".{target.name}.{os.getpid()}.", suffix=f".part{ending}",
                                    dir=target.parent)
    os.close(handle)
    return temp


@contextmanager
def scratch_path(path: PathLike, *, suffix: str | None = None) -> Iterator[Path]:
    """A helper file next to `path` for a writer's intermediate results: named like `atomic_path`'s temporary
    files (so one left by a crash is removed by the next write to `path`), always deleted when the block ends,
    and never renamed onto anything."""
    target = Path(path)
    if not target.parent.is_dir():
        raise FileNotFoundError(f"output directory {target.parent} does not exist")
    temp = _temporary(target, target.suffix if suffix is None else suffix)
    try:
        yield Path(temp)
    finally:
        if os.path.exists(temp):
            os.unlink(temp)


def _filled(temp: str, error: BaseException) -> bool:
    """Whether a writer's failure on `temp` came from a full file system: the message says so, or the writer
    filled the file system to its last block (checked before the temporary file is removed)."""
    text = str(error).lower()
    if "no space left" in text or f"os error {errno.ENOSPC})" in text or "disk quota" in text:
        return True
    try:
        stats = os.statvfs(os.path.dirname(temp) or ".")
    except (OSError, AttributeError):  # no statvfs (Windows)
        return False
    root = getattr(os, "geteuid", lambda: -1)() == 0
    free = stats.f_bfree if root else stats.f_bavail  # root may write into the reserved blocks
    return free * stats.f_frsize < (1 << 20)


def _same(a: Path, b: Path) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:
        return a.resolve() == b.resolve()


def check_output(path: PathLike, *, inputs: Iterable[PathLike | None] = (), overwrite: bool = False,
                 directory: bool = False) -> Path:
    """Refuse an output path that would destroy something: one of `inputs` (or inside an input folder), anything
    other than a regular file (or, with `directory`, a folder) or a missing path, or an existing output without
    `overwrite`. Returns the path; raises `OutputError` with one line naming the problem."""
    target = Path(path)
    for source in inputs:
        if source is None:
            continue
        source = Path(source)
        if source.exists() and target.exists() and _same(source, target):
            raise OutputError(f"output {target} is also an input; choose another output path")
        if source.is_dir() and target.resolve().is_relative_to(source.resolve()) and not directory:
            raise OutputError(f"output {target} is inside the input folder {source}; choose another output path")
    if not target.exists() and not target.is_symlink():
        if not directory and not target.parent.is_dir():
            raise OutputError(f"output folder {target.parent} does not exist")
        return target
    if target.is_symlink():
        raise OutputError(f"output {target} is a symbolic link; refusing to write through it")
    if directory:
        if not target.is_dir():
            raise OutputError(f"output {target} exists and is not a folder")
        if any(target.iterdir()) and not overwrite:
            raise OutputError(f"output folder {target} already has files; pass {option('overwrite')} to replace them")
        return target
    if not target.is_file():
        raise OutputError(f"output {target} exists and is not a regular file")
    if not overwrite:
        raise OutputError(f"output {target} already exists; pass {option('overwrite')} to replace it")
    return target


def disk_full(error: BaseException) -> bool:
    """True for the errors a full disk (or quota) gives."""
    return isinstance(error, OSError) and error.errno in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG)


__all__ = ["atomic_path", "check_output", "disk_full", "remove_stale_temps", "scratch_path"]
