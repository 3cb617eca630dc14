"""Throwaway PostgreSQL clusters for the store tests (data-sources.md §5).

    url = fresh_url()                   # a new, empty database on this process's cluster (skips where impossible)
    with throwaway_cluster() as c:      # a cluster of one's own, e.g. to kill it (c.kill(), c.start())
        url = c.url(c.create_database())

The session cluster is started lazily, once per test process, on a free loopback port with its own socket
directory, and stopped when the process exits; pytest-xdist workers each start their own, so nothing collides.
Each `fresh_url()` is a new database, so tests are independent (databases of earlier tests are dropped, a few
at a time, to bound the disk used).  initdb refuses to run as root: as root, the cluster's files belong to the
`postgres` user and its programs run through `runuser`.  Where the binaries, the `postgres` user or psycopg are
missing, `fresh_url()` calls `require_store_server` (skips on a developer machine, fails in CI).
"""

from __future__ import annotations

import atexit
import importlib.util
import itertools
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from tests.conftest import require_store_server

BIN = Path(os.environ.get("KALSHI_PG_BIN", "/usr/lib/postgresql/15/bin"))
SUPERUSER = "postgres"
PASSWORD_USER, PASSWORD = "kalshi_pw", "pw-Zq9-s3cr3t"  # a role that must give its password (scram-sha-256)
# tests trade durability for speed (a killed server still keeps every acknowledged commit: the OS has the WAL)
FAST = "-c fsync=off -c full_page_writes=off -c shared_buffers=32MB"
DURABLE = "-c shared_buffers=256MB -c max_wal_size=4GB"  # PostgreSQL's safe defaults, sized for a bulk load
_COMMON = "-c listen_addresses=127.0.0.1 -c max_connections=300 -c log_min_messages=fatal"
_KEEP = 4  # databases of earlier tests kept (a test may still be closing its stores)


def unavailable() -> str | None:
    """Why no cluster can run here (None: it can)."""
    if importlib.util.find_spec("psycopg") is None:
        return "the psycopg package is not installed (pip install 'kalshi-trading[postgres]')"
    for program in ("initdb", "pg_ctl", "postgres"):
        if not (BIN / program).is_file():
            return f"{BIN / program} is missing (install PostgreSQL 15, or set KALSHI_PG_BIN)"
    if os.geteuid() == 0:
        try:
            pwd.getpwnam(SUPERUSER)
        except KeyError:
            return "running as root and there is no 'postgres' user to run initdb as"
        if shutil.which("runuser") is None:
            return "running as root and runuser is missing"
    return None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


_held: list[socket.socket] = []


def refusing_port() -> int:
    """A loopback port that refuses connections: bound (so no server can take it meanwhile), never listening."""
    held = socket.socket()
    held.bind(("127.0.0.1", 0))
    _held.append(held)
    return int(held.getsockname()[1])


class Cluster:
    """One PostgreSQL cluster in a temporary directory, serving loopback TCP on `port`."""

    def __init__(self, settings: str = FAST, directory: str | None = None) -> None:
        self.settings = f"{_COMMON} {settings}"
        self.root = Path(tempfile.mkdtemp(prefix="kalshi-pg-", dir=directory))
        self.data, self.sockets, self.log = self.root / "data", self.root / "sock", self.root / "server.log"
        self.sockets.mkdir()
        self.port = 0
        self._names = itertools.count(1)
        self._made: list[str] = []
        if os.geteuid() == 0:
            entry = pwd.getpwnam(SUPERUSER)
            for path in (self.root, self.sockets):
                os.chown(path, entry.pw_uid, entry.pw_gid)
        # ICU's en-US as the default collation (not byte order, as a real server's often is not): the store must
        # not depend on the database's collation
        done = self._run(BIN / "initdb", "-D", self.data, "-U", SUPERUSER, "--auth=trust", "--no-sync", "-E",
                         "UTF8", "--locale=C.UTF-8", "--locale-provider=icu", "--icu-locale=en-US")
        if done.returncode != 0:
            raise RuntimeError(f"initdb failed: {done.stdout}{done.stderr}")
        (self.data / "pg_hba.conf").write_text(
            "local all all trust\n"
            f"host all {PASSWORD_USER} 127.0.0.1/32 scram-sha-256\n"
            "host all all 127.0.0.1/32 trust\n")

    def _run(self, *args: object) -> subprocess.CompletedProcess[str]:
        command = [str(a) for a in args]
        if os.geteuid() == 0:
            command = ["runuser", "-u", SUPERUSER, "--", *command]
        return subprocess.run(command, capture_output=True, text=True, check=False, timeout=120)

    def start(self) -> None:
        """Start the server (on the same port as before, or a free one); raises RuntimeError if it will not."""
        for _ in range(5):
            port = self.port or free_port()
            done = self._run(BIN / "pg_ctl", "-D", self.data, "-w", "-t", "60", "-l", self.log, "-o",
                             f"-k {self.sockets} -p {port} {self.settings}", "start")
            if done.returncode == 0:
                self.port = port
                return
            if self.port:  # a restart on a port someone took meanwhile
                break
        raise RuntimeError(f"PostgreSQL did not start: {done.stdout}{done.stderr}{self._log_tail()}")

    def _log_tail(self) -> str:
        try:
            return self.log.read_text(errors="replace")[-2000:]
        except OSError:
            return ""

    def stop(self, mode: str = "fast") -> None:
        self._run(BIN / "pg_ctl", "-D", self.data, "-m", mode, "-w", "stop")

    def kill(self) -> None:
        """Stop the server the hard way: every backend dies at once, nothing is shut down cleanly."""
        self.stop("immediate")

    def destroy(self) -> None:
        self.stop("immediate")
        shutil.rmtree(self.root, ignore_errors=True)

    def url(self, database: str = "postgres", user: str = SUPERUSER, password: str | None = None) -> str:
        auth = f"{user}:{password}" if password is not None else user
        return f"postgresql://{auth}@127.0.0.1:{self.port}/{database}"

    def execute(self, sql: str, database: str = "postgres") -> list[tuple]:
        """Run one statement as the superuser (autocommit); its rows, if any."""
        import psycopg

        with psycopg.connect(self.url(database), autocommit=True, connect_timeout=10) as conn:
            cursor = conn.execute(sql)
            return cursor.fetchall() if cursor.description else []

    def create_database(self, owner: str = SUPERUSER) -> str:
        """A new empty database; databases made by earlier calls are dropped but for the newest few."""
        name = f"t{os.getpid()}_{next(self._names)}"
        while len(self._made) >= _KEEP:
            self.execute(f'DROP DATABASE IF EXISTS "{self._made.pop(0)}" WITH (FORCE)')
        self.execute(f'CREATE DATABASE "{name}" OWNER "{owner}"')
        self._made.append(name)
        return name


_session: Cluster | None = None
_broken: str | None = None


def session_cluster() -> Cluster:
    """This process's cluster, started on first use and destroyed when the process exits."""
    global _session, _broken
    why = unavailable() or _broken
    if why is not None:
        require_store_server("PostgreSQL", why)
    if _session is None:
        try:
            cluster = Cluster()
            cluster.start()
        except (OSError, RuntimeError, subprocess.SubprocessError) as exc:
            _broken = f"the throwaway cluster did not start: {exc}"
            require_store_server("PostgreSQL", _broken)
            raise
        atexit.register(cluster.destroy)
        cluster.execute(f"CREATE ROLE {PASSWORD_USER} LOGIN PASSWORD '{PASSWORD}' CREATEDB")
        _session = cluster
    return _session


def fresh_url() -> str:
    """The URL of a new, empty database on this process's cluster."""
    cluster = session_cluster()
    return cluster.url(cluster.create_database())


@contextmanager
def throwaway_cluster() -> Iterator[Cluster]:
    """A cluster of the caller's own (to stop, kill or restart), destroyed afterwards."""
    why = unavailable()
    if why is not None:
        require_store_server("PostgreSQL", why)
    cluster = Cluster()
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.destroy()
