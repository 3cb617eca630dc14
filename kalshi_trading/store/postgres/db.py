"""Connections to one schema of one PostgreSQL database: a psycopg_pool pool, and every failure made one clear line.

Every connection works in UTC (`TimeZone`), with the environment's schema as its `search_path`, in autocommit mode:
a method that writes opens its own transaction (`Database.transaction`), so nothing is ever left half done.

A connection is checked before it is lent: one the server has closed (it was restarted, or killed) is dropped
(the pool makes a new one) and, if a direct connection fails too, the server's refusal becomes the error at once,
without waiting out the pool's timeout.  A failure in the middle of a statement is never retried here: whether a
write that lost its connection was committed is unknown, so it is reported, and what reads the store next finds
the truth.  Every message shows the URL masked, never with its password.
"""

from __future__ import annotations

import logging
import select
from contextlib import contextmanager
from typing import Any, Iterator, Sequence

import psycopg
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict
from psycopg_pool import ConnectionPool, PoolClosed, PoolTimeout

from kalshi_trading.errors import ConfigError, JournalError, StorageError
from kalshi_trading.store.url import VARIABLE, StoreURL

log = logging.getLogger(__name__)
# psycopg_pool reports each failed reconnection as a warning; where nothing configured logging (the CLI logs only
# kalshi_trading's records), Python would print each one to stderr around our own one-line error.  A NullHandler
# leaves them to whoever does configure logging.
logging.getLogger("psycopg.pool").addHandler(logging.NullHandler())

CONNECT_TIMEOUT = 10  # seconds to wait for the server to answer a new connection (unless the URL says otherwise)
POOL_TIMEOUT = 30.0  # seconds a caller waits for a free connection when every one is busy
QUICK_WAIT = 0.2  # seconds a caller waits before asking the server directly whether it is there at all
POOL_MAX = 8
LOCK_TIMEOUT = 60  # seconds a statement waits for a lock (another writer's transaction) before failing
Connection = psycopg.Connection[tuple]


class Database:
    """A pool of connections to `schema` in the database `url` names, opened on first use."""

    def __init__(self, url: StoreURL, schema: str, *, max_size: int = POOL_MAX):
        self.url = url
        self.schema = schema
        self.where = f"PostgreSQL store {url.masked} (schema {schema})"
        self._max_size = max_size
        self._pool: ConnectionPool[Connection] | None = None
        self._closed = False
        params = conninfo_params(url)
        self._secret = str(params.get("password") or "")
        self._kwargs: dict[str, Any] = {"autocommit": True}
        if "connect_timeout" not in params:
            self._kwargs["connect_timeout"] = CONNECT_TIMEOUT

    # -- failures as messages ------------------------------------------------------------------------------------

    def reason(self, exc: BaseException) -> str:
        """The driver's complaint on one line, without the password (libpq never shows it; this makes sure)."""
        lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
        text = lines[0] if lines else type(exc).__name__
        for prefix in ("connection failed: ", "consuming input failed: ", "sending query failed: "):
            text = text.removeprefix(prefix)
        text = " ".join(text.split())
        if self._secret:
            text = text.replace(self._secret, "***")
        return text[:400]

    def error(self, exc: BaseException, cls: type[StorageError] = JournalError, doing: str = "") -> StorageError:
        """A driver's exception as the store's error (exit 3), naming the store masked."""
        if isinstance(exc, PoolClosed) or self._closed:
            return cls(f"{self.where} is closed")
        what = f" while {doing}" if doing else ""
        if isinstance(exc, psycopg.OperationalError):
            return cls(f"{self.where} failed{what}: {self.reason(exc)} (the server is unreachable or went away; "
                       "whatever was being written was not acknowledged)")
        return cls(f"{self.where} refused an operation{what}: {self.reason(exc)}")

    def unreachable(self, exc: BaseException, cls: type[StorageError] = JournalError) -> StorageError:
        return cls(f"cannot use {self.where}: {self.reason(exc)}")

    # -- connections ---------------------------------------------------------------------------------------------

    def configure(self, conn: Connection) -> None:
        """What every connection of this store is set to: UTC times, the environment's schema, and (unless the
        URL's `options`, the role or the database set one) a bound on waiting for a lock another process holds, so
        a hung writer makes a clear error, not a hang."""
        conn.execute("SET TIME ZONE 'UTC'")
        conn.execute(sql.SQL("SET search_path TO {}").format(sql.Identifier(self.schema)))
        wait = conn.execute("SHOW lock_timeout").fetchone()
        if wait is None or wait[0] == "0":
            conn.execute(f"SET lock_timeout = '{LOCK_TIMEOUT}s'")

    def connect(self, cls: type[StorageError] = JournalError) -> Connection:
        """A connection of its own (not from the pool), configured; the server's refusal is `cls` (exit 3)."""
        try:
            conn = psycopg.connect(self.url.conninfo, **self._kwargs)
        except psycopg.Error as exc:
            raise self.unreachable(exc, cls) from None
        try:
            self.configure(conn)
        except psycopg.Error as exc:
            conn.close()
            raise self.unreachable(exc, cls) from None
        return conn

    def _open_pool(self) -> ConnectionPool[Connection]:
        if self._closed:
            raise JournalError(f"{self.where} is closed")
        if self._pool is None:
            pool: ConnectionPool[Connection] = ConnectionPool(
                self.url.conninfo, min_size=1, max_size=self._max_size, kwargs=self._kwargs,
                configure=self.configure, timeout=POOL_TIMEOUT, num_workers=1, open=False,
                name=f"kalshi-{self.schema}")
            pool.open(wait=False)
            self._pool = pool
        return self._pool

    @contextmanager
    def connection(self, cls: type[StorageError] = JournalError, doing: str = "") -> Iterator[Connection]:
        """A live connection from the pool (autocommit), returned when the block ends; a database failure inside
        is `cls` (exit 3)."""
        pool = self._open_pool()
        conn = self._checkout(pool, cls)
        try:
            yield conn
        except psycopg.Error as exc:
            raise self.error(exc, cls, doing) from None
        finally:
            pool.putconn(conn)

    @contextmanager
    def transaction(self, cls: type[StorageError] = JournalError, doing: str = "") -> Iterator[Connection]:
        """A connection inside one transaction: committed when the block ends, rolled back if it raises.

        A database failure inside is `cls` (exit 3); any other exception passes through, after the rollback."""
        with self.connection(cls, doing) as conn, conn.transaction():
            yield conn

    def rows(self, query: str, params: Sequence[object] = (), cls: type[StorageError] = JournalError,
             doing: str = "") -> list[tuple[Any, ...]]:
        """Every row one statement gives (run in autocommit)."""
        with self.connection(cls, doing) as conn:
            cursor = conn.execute(query, params)
            return cursor.fetchall() if cursor.description else []

    def _checkout(self, pool: ConnectionPool[Connection], cls: type[StorageError]) -> Connection:
        """A live connection.  When none is ready at once (all busy, or the pool lost them to a dead server),
        a direct connection first asks the server: if it refuses, that is the error, without the pool's wait."""
        patience = QUICK_WAIT
        for _ in range(4):
            try:
                conn = pool.getconn(timeout=patience)
            except PoolTimeout:
                if patience == POOL_TIMEOUT:
                    raise cls(f"{self.where}: no connection became free within {POOL_TIMEOUT:.0f} s (all "
                              f"{self._max_size} busy)") from None
                self._probe(cls)  # raises the server's reason when it is the server
                patience = POOL_TIMEOUT
                continue
            except PoolClosed:
                raise cls(f"{self.where} is closed") from None
            if _alive(conn):
                return conn
            conn.close()  # the server closed it (a restart, a kill): the pool makes a new one
            pool.putconn(conn)
            self._probe(cls)
        raise cls(f"{self.where}: the server keeps closing new connections")

    def _probe(self, cls: type[StorageError]) -> None:
        """Connect directly, to learn at once whether (and why) the server refuses."""
        self.connect(cls).close()

    def close(self) -> None:
        """Close every connection; the object refuses any later use."""
        self._closed = True
        pool, self._pool = self._pool, None
        if pool is not None:
            pool.close(timeout=5)


def conninfo_params(url: StoreURL) -> dict[str, Any]:
    """libpq's reading of the URL; one it refuses is a ConfigError naming KALSHI_STORE (the text never shown)."""
    try:
        return conninfo_to_dict(url.conninfo)
    except psycopg.Error as exc:
        reason = " ".join(str(exc).split()).replace(url.conninfo, url.masked)
        rest = url.conninfo.partition("://")[2]
        userinfo = rest.rpartition("@")[0]
        if ":" in userinfo:  # libpq quotes the token it could not read: it may be (part of) the password
            reason = reason.replace(userinfo.partition(":")[2], "***")
        raise ConfigError(f"{url.masked!r} is not a URL libpq accepts: {reason}", VARIABLE,
                          "write postgresql://user@host:port/database") from None


def _alive(conn: Connection) -> bool:
    """Whether an idle connection is still open: the server says nothing to an idle client unless it is closing
    the connection, so anything readable (an error, the end of the stream) means it is gone.  No round trip."""
    if conn.closed:
        return False
    try:
        readable, _, _ = select.select([conn.fileno()], [], [], 0)
    except (OSError, ValueError, psycopg.Error):
        return False
    return not readable
