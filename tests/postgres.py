"""A throwaway PostgreSQL server for tests: ``with postgres_cluster() as url: ...``.

The cluster lives in a fresh temporary directory and exists only for the ``with`` block:

* **Binaries.** ``initdb``/``pg_ctl``/``createdb`` come from ``$PATH`` first, then from Debian's
  versioned directories ``/usr/lib/postgresql/<major>/bin`` (newest major first). Debian's
  ``postgresql`` package does *not* put ``initdb`` on ``$PATH``; only its wrappers.
* **User.** PostgreSQL refuses to run as root. As root, ``initdb`` and ``pg_ctl`` run as
  ``postgres`` (the account Debian's package creates), or as ``nobody`` where no ``postgres``
  account exists (a server built from source, say). The switch is done by :mod:`subprocess`
  itself (``user=``/``group=``/``extra_groups=[]``): no ``su``/``runuser`` (PAM, login shells,
  ``$HOME`` quirks) and no new system accounts. The temporary directory is chowned to that user;
  as any other user everything simply runs as ourselves.
* **Network.** The server listens on ``127.0.0.1`` only, on a port that was free a moment before
  (a collision makes the start fail and it is retried on another port), with its unix socket in
  the temporary directory, never in ``/var/run/postgresql``. Authentication is ``trust``: fine
  for a cluster that is reachable from this machine only and lives for one test session.
* **Speed.** ``initdb --no-sync`` and ``fsync``/``synchronous_commit``/``full_page_writes`` off:
  durability is worthless here; initdb plus start take about a second.
* **Cleanup.** On leaving the block, also when the block raised, the server is stopped
  (``pg_ctl stop -m fast``, then ``-m immediate``, then SIGKILL of the postmaster recorded in
  ``postmaster.pid``) and ``pg_ctl -w`` waits until every backend has exited; then the directory
  is removed. An :mod:`atexit` hook does the same if the interpreter exits with the block still
  open. A process killed with SIGKILL cannot clean up; the server it leaves behind is found with
  ``pgrep -a postgres`` and its directory under ``$TMPDIR/effnet-pg-*``.

The module imports nothing from the project and nothing beyond the standard library.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import pwd
import re
import shutil
import signal
import socket
import stat
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

__all__ = ["INSTALL_HINT", "PostgresError", "find_bin_dir", "postgres_cluster"]

INSTALL_HINT = "apt-get install postgresql  (Debian's server package; `make test` installs it when run as root)"
SERVER_TOOLS = ("initdb", "pg_ctl", "postgres", "createdb")
_DEBIAN_GLOB = "/usr/lib/postgresql/*/bin"


class PostgresError(RuntimeError):
    """The throwaway cluster could not be created or started; the message carries the server log."""


def _has_tools(directory: Path) -> bool:
    return all(os.access(directory / tool, os.X_OK) for tool in SERVER_TOOLS)


def find_bin_dir() -> Path | None:
    """The directory holding ``initdb``, ``pg_ctl``, ``postgres`` and ``createdb``, or None.

    ``$PATH`` first (``initdb`` resolved through symlinks, so a ``/usr/local/bin/initdb`` link into
    ``/usr/lib/postgresql/15/bin`` finds its siblings), then ``/usr/lib/postgresql/*/bin``, newest
    major version first.
    """
    initdb = shutil.which("initdb")
    if initdb:
        for candidate in (Path(initdb).parent, Path(initdb).resolve().parent):
            if _has_tools(candidate):
                return candidate
    debian = Path("/usr/lib/postgresql")
    majors = sorted(
        (p for p in debian.glob("*/bin") if re.fullmatch(r"\d+(\.\d+)?", p.parent.name)),
        key=lambda p: tuple(int(part) for part in p.parent.name.split(".")),
        reverse=True,
    )
    return next((p for p in majors if _has_tools(p)), None)


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _server_account() -> pwd.struct_passwd | None:
    """The account the server runs as: None (ourselves) unless we are root."""
    if os.geteuid() != 0:
        return None
    for name in ("postgres", "nobody"):
        with contextlib.suppress(KeyError):
            return pwd.getpwnam(name)
    raise PostgresError("running as root, but neither a 'postgres' nor a 'nobody' account exists to run PostgreSQL")


def _world_searchable(path: Path) -> bool:
    """Can an unprivileged user reach entries below ``path`` (every ancestor has o+x)?"""
    return all(os.stat(part).st_mode & stat.S_IXOTH for part in (path, *path.parents))


def _make_root(account: pwd.struct_passwd | None) -> Path:
    base = Path(tempfile.gettempdir()).resolve()
    # The socket path .../sock/.s.PGSQL.NNNNN must fit in sun_path (107 bytes); the server user must
    # be able to reach the directory. Fall back to /tmp where $TMPDIR fails either test.
    if len(str(base)) > 60 or (account is not None and not _world_searchable(base)):
        base = Path("/tmp")
    root = Path(tempfile.mkdtemp(prefix="effnet-pg-", dir=base))
    if account is not None:
        os.chown(root, account.pw_uid, account.pw_gid)
    return root


class _Cluster:
    def __init__(self, bin_dir: Path, account: pwd.struct_passwd | None) -> None:
        self.bin_dir = bin_dir
        self.account = account
        self.root = _make_root(account)
        self.data = self.root / "data"
        self.sock = self.root / "sock"
        self.log = self.root / "server.log"
        self.port: int | None = None
        self.stopped = False
        # No PG* variables from the caller's environment (PGDATA, PGPORT, PGHOST, ...) leak in.
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
        self.env.update(LC_ALL="C", LANG="C")

    def run(self, tool: str, *args: str, as_server: bool = True, timeout: float = 60) -> None:
        kwargs: dict = {}
        if as_server and self.account is not None:
            kwargs = {"user": self.account.pw_uid, "group": self.account.pw_gid, "extra_groups": []}
        proc = subprocess.run(
            [str(self.bin_dir / tool), *args],
            cwd=self.root,  # the server user may not be allowed to read the caller's directory
            env=self.env,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
            **kwargs,
        )
        if proc.returncode != 0:
            log = self.log.read_text(errors="replace")[-4000:] if self.log.exists() else ""
            raise PostgresError(
                f"{tool} {' '.join(args)} exited with {proc.returncode}\n"
                f"{proc.stdout}{proc.stderr}\n--- server log ---\n{log}"
            )

    def init(self, user: str) -> None:
        self.sock.mkdir()
        if self.account is not None:
            os.chown(self.sock, self.account.pw_uid, self.account.pw_gid)
        self.run(
            "initdb", "-D", str(self.data), "-U", user, "--auth=trust",
            "-E", "UTF8", "--locale=C", "--no-sync",
        )  # fmt: skip
        with (self.data / "postgresql.conf").open("a") as conf:
            conf.write(
                "\n# throwaway test cluster (tests/postgres.py)\n"
                "listen_addresses = '127.0.0.1'\n"
                f"unix_socket_directories = '{self.sock}'\n"
                "fsync = off\nsynchronous_commit = off\nfull_page_writes = off\n"
            )

    def start(self, timeout: float, attempts: int = 3) -> None:
        for attempt in range(attempts):
            self.port = _free_port()
            try:
                self.run(
                    "pg_ctl", "-D", str(self.data), "-l", str(self.log), "-o", f"-p {self.port}",
                    "-w", "-t", str(int(timeout)), "start", timeout=timeout + 10,
                )  # fmt: skip
                return
            except PostgresError:
                # Another process took the port between _free_port() and the bind: try another.
                self.stop()
                self.stopped = False
                if attempt == attempts - 1:
                    raise

    def createdb(self, user: str, database: str) -> None:
        self.run("createdb", "-h", "127.0.0.1", "-p", str(self.port), "-U", user, database, as_server=False, timeout=30)

    def _postmaster_pid(self) -> int | None:
        with contextlib.suppress(OSError, ValueError, IndexError):
            return int((self.data / "postmaster.pid").read_text().split()[0])
        return None

    def stop(self) -> None:
        """Stop the server (if it runs) and wait for it; idempotent, never raises."""
        if self.stopped:
            return
        self.stopped = True
        if self._postmaster_pid() is None:
            return
        for mode in ("fast", "immediate"):
            with contextlib.suppress(PostgresError, subprocess.TimeoutExpired):
                self.run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "-t", "20", "stop", timeout=30)
                return
        pid = self._postmaster_pid()
        if pid is not None:
            # Last resort: the postmaster's process group holds its backends.
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(pid, signal.SIGKILL)
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)

    def close(self) -> None:
        self.stop()
        shutil.rmtree(self.root, ignore_errors=True)


@contextlib.contextmanager
def postgres_cluster(
    database: str = "effnet_test",
    user: str = "effnet",
    *,
    driver: str = "psycopg",
    bin_dir: Path | None = None,
    timeout: float = 30,
) -> Iterator[str]:
    """Start a throwaway PostgreSQL server; yield an SQLAlchemy URL to a fresh, empty database.

    The URL is ``postgresql+<driver>://<user>@127.0.0.1:<port>/<database>`` (``driver`` is the
    SQLAlchemy dialect's driver, psycopg 3 by default; pass ``""`` for SQLAlchemy's default).
    ``user`` is the cluster's superuser; no password (trust authentication on loopback).

    Raises:
        FileNotFoundError: the server binaries are not installed (see :data:`INSTALL_HINT`).
        PostgresError: initdb, start or createdb failed; the message carries the server log.
    """
    bin_dir = bin_dir or find_bin_dir()
    if bin_dir is None:
        raise FileNotFoundError(
            f"PostgreSQL server binaries ({', '.join(SERVER_TOOLS)}) not found on $PATH or in {_DEBIAN_GLOB}; "
            f"install them with: {INSTALL_HINT}"
        )
    cluster = _Cluster(bin_dir, _server_account())
    atexit.register(cluster.close)
    try:
        cluster.init(user)
        cluster.start(timeout)
        cluster.createdb(user, database)
        scheme = f"postgresql+{driver}" if driver else "postgresql"
        yield f"{scheme}://{user}@127.0.0.1:{cluster.port}/{database}"
    finally:
        cluster.close()
        atexit.unregister(cluster.close)


if __name__ == "__main__":  # manual check: python tests/postgres.py
    t0 = time.perf_counter()
    with postgres_cluster() as url:
        print(f"up in {time.perf_counter() - t0:.2f} s: {url}")
        t1 = time.perf_counter()
    print(f"stopped and removed in {time.perf_counter() - t1:.2f} s")
