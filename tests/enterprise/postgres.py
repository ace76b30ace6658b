"""A throwaway PostgreSQL server on 127.0.0.1 for the adbapi tests and bench/adbapi.py.

``PostgresServer`` runs ``initdb`` in a fresh directory and starts the server there on
a free port (TCP on 127.0.0.1 only; its UNIX socket in that directory, never
/var/run/postgresql), with fsync off since the data is thrown away. PostgreSQL will not
run as root, so when the tests run as root the server runs as the ``postgres`` system
user if there is one, else as ``nobody`` (subprocess's ``user=``/``group=``, no sudo).
The ``postgres`` fixture starts one server per pytest process (so one per xdist
worker) and stops it at the end of the session; ``restart()`` and ``stop()`` are there
for the tests that take the server away under a pool. Where no server can be started
(no PostgreSQL binaries, psycopg missing, initdb failing) the tests that use it skip
and say why. The tests: tests/enterprise/test_postgres*.py.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

# The superuser that initdb makes, and the database every test connects to.
USER = "torsion"
DATABASE = "postgres"
# Every pg_ctl call waits at most this long for the server to come up or go down.
WAIT_SECONDS = 30


class PostgresUnavailable(Exception):
    """No PostgreSQL server can be started here; the message says why and what to do."""


def findBinaries() -> Path:
    """The directory holding initdb, pg_ctl and postgres (the newest installed version)."""
    candidates = sorted(
        glob.glob("/usr/lib/postgresql/*/bin"),
        key=lambda d: [int(p) if p.isdigit() else 0 for p in Path(d).parent.name.split(".")],
    )
    for directory in reversed(candidates):
        if all(os.access(Path(directory) / name, os.X_OK) for name in ("initdb", "pg_ctl")):
            return Path(directory)
    initdb = shutil.which("initdb")
    if initdb is not None:
        return Path(initdb).resolve().parent
    raise PostgresUnavailable(
        "no PostgreSQL server binaries (initdb, pg_ctl) in /usr/lib/postgresql/*/bin or "
        "on PATH; install them with `apt-get install postgresql`"
    )


def serverAccount() -> pwd.struct_passwd | None:
    """The account the server runs as: None for ourselves, unless we are root."""
    if os.geteuid() != 0:
        return None
    for name in ("postgres", "nobody"):
        try:
            return pwd.getpwnam(name)
        except KeyError:
            continue
    raise PostgresUnavailable(
        "running as root, and there is neither a `postgres` nor a `nobody` user to run "
        "PostgreSQL as (it refuses to run as root); create one or run the tests as a "
        "normal user"
    )


def reachableBy(path: Path, account: pwd.struct_passwd | None) -> bool:
    """Whether ``account`` can reach files under ``path`` (every parent searchable)."""
    if account is None:
        return True
    for directory in [path, *path.parents]:
        mode = directory.stat().st_mode
        if directory.stat().st_uid == account.pw_uid:
            continue
        if not mode & 0o001:
            return False
    return True


def freePort() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class PostgresServer:
    """One PostgreSQL cluster in a directory of its own, on 127.0.0.1:``port``.

    Args:
        base: a directory to make the cluster in; if the server's account cannot reach
            it (pytest's root-owned 0700 temporary directories), a fresh directory in
            the system's temporary directory is used instead, and removed by
            ``cleanup()``.
        cpu: if given, the server and its backends are pinned to this CPU (the bench
            keeps PostgreSQL off the CPU of the process it measures).
    """

    def __init__(self, base: Path, cpu: int | None = None) -> None:
        self.binaries = findBinaries()
        self.account = serverAccount()
        self.cpu = cpu
        if reachableBy(base, self.account):
            base.mkdir(parents=True, exist_ok=True)
            self.root = Path(tempfile.mkdtemp(prefix="pg-", dir=base))
            self._ownRoot = False
        else:
            self.root = Path(tempfile.mkdtemp(prefix="torsion-pg-"))
            self._ownRoot = True
        os.chmod(self.root, 0o755)
        self.data = self.root / "data"
        self.socketDir = self.root / "socket"
        self.logFile = self.root / "server.log"
        self.port = 0
        self.running = False

    def _run(
        self, *argv: str, timeout: float = WAIT_SECONDS + 10
    ) -> subprocess.CompletedProcess[str]:
        command = list(argv)
        if self.cpu is not None and shutil.which("taskset"):
            command = ["taskset", "-c", str(self.cpu), *command]
        extra: dict[str, Any] = {}
        if self.account is not None:
            extra = {
                "user": self.account.pw_uid,
                "group": self.account.pw_gid,
                "extra_groups": [],
            }
        return subprocess.run(
            command,
            capture_output=True,
            text=True,
            timeout=timeout,
            cwd=self.root,
            env={**os.environ, "LC_ALL": "C", "PGTZ": "UTC"},
            **extra,
        )

    def _chown(self, path: Path) -> None:
        if self.account is not None:
            os.chown(path, self.account.pw_uid, self.account.pw_gid)

    def _logTail(self) -> str:
        try:
            return self.logFile.read_text(errors="replace")[-1500:]
        except OSError:
            return "(no server log)"

    def start(self) -> None:
        """initdb (the first time) and start the server; raise PostgresUnavailable."""
        if not self.data.exists():
            self.socketDir.mkdir()
            self._chown(self.root)
            self._chown(self.socketDir)
            done = self._run(
                str(self.binaries / "initdb"),
                "-D", str(self.data),
                "-U", USER,
                "--auth=trust",
                "-E", "UTF8",
                "--no-locale",
                "--no-sync",
            )  # fmt: skip
            if done.returncode:
                raise PostgresUnavailable(f"initdb failed: {(done.stdout + done.stderr)[-1500:]}")
        for attempt in range(3):
            self.port = freePort()
            self._configure()
            done = self._pgCtl("start", "-l", str(self.logFile))
            if done.returncode == 0:
                self.running = True
                return
            if "already in use" not in self._logTail() or attempt == 2:
                raise PostgresUnavailable(
                    f"pg_ctl start failed: {done.stdout}{done.stderr}\n{self._logTail()}"
                )

    def _configure(self) -> None:
        """Write our settings where the server reads them last (postgresql.auto.conf)."""
        settings = {
            "port": str(self.port),
            "listen_addresses": "'127.0.0.1'",
            "unix_socket_directories": f"'{self.socketDir}'",
            "fsync": "off",
            "synchronous_commit": "off",
            "full_page_writes": "off",
            "max_connections": "60",
            "shared_buffers": "16MB",
            "log_min_messages": "warning",
        }
        text = "".join(f"{name} = {value}\n" for name, value in settings.items())
        auto = self.data / "postgresql.auto.conf"
        auto.write_text(text)
        self._chown(auto)

    def _pgCtl(self, *argv: str) -> subprocess.CompletedProcess[str]:
        return self._run(
            str(self.binaries / "pg_ctl"), "-D", str(self.data), "-w", "-t", str(WAIT_SECONDS),
            *argv,
        )  # fmt: skip

    def restart(self) -> None:
        """Restart with ``-m fast``: every client connection is cut at once."""
        done = self._pgCtl("restart", "-m", "fast", "-l", str(self.logFile))
        if done.returncode:
            raise RuntimeError(f"pg_ctl restart failed: {done.stdout}{done.stderr}")
        self.running = True

    def stop(self, mode: str = "fast") -> None:
        """Stop the server (``fast`` cuts the clients off; ``immediate`` if that fails)."""
        if not self.running:
            return
        done = self._pgCtl("stop", "-m", mode)
        if done.returncode and mode != "immediate":
            self._pgCtl("stop", "-m", "immediate")
        self.running = False

    def cleanup(self) -> None:
        """Stop the server and remove its directory."""
        self.stop()
        shutil.rmtree(self.root, ignore_errors=True)

    def waitUntilAccepting(self, timeout: float = WAIT_SECONDS) -> None:
        """Block until a TCP connection to the server's port succeeds (bounded)."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)

    @property
    def connectionKeywords(self) -> dict[str, Any]:
        """``psycopg.connect`` keywords (also ConnectionPool's) for this server."""
        return {
            "host": "127.0.0.1",
            "port": self.port,
            "user": USER,
            "dbname": DATABASE,
            "connect_timeout": 10,
        }

    @property
    def dsn(self) -> str:
        return f"host=127.0.0.1 port={self.port} user={USER} dbname={DATABASE} connect_timeout=10"


@pytest.fixture(scope="session")
def postgres(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PostgresServer]:
    """A running PostgreSQL server for this pytest process; skips, saying why, if none."""
    pytest.importorskip("psycopg", reason="psycopg is not installed: pip install 'psycopg[binary]'")
    try:
        server = PostgresServer(tmp_path_factory.mktemp("postgres"))
        server.start()
    except (PostgresUnavailable, OSError, subprocess.SubprocessError) as e:
        pytest.skip(f"no PostgreSQL server for the adbapi tests: {e}")
    try:
        yield server
    finally:
        server.cleanup()


@pytest.fixture
def postgresRunning(postgres: PostgresServer) -> PostgresServer:
    """The session's server, started again if an earlier test stopped it."""
    if not postgres.running:
        done = postgres._pgCtl("start", "-l", str(postgres.logFile))
        if done.returncode:
            pytest.fail(f"could not start PostgreSQL again: {done.stderr}\n{postgres._logTail()}")
        postgres.running = True
    return postgres
