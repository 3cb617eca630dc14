"""Opening one of the store's small SQLite files (the runtime configuration, the leases): its own `application_id`
and `user_version`, so another program's database or a newer version is refused and left untouched; a new file
gets its schema in one transaction.  WAL with `synchronous=FULL` (what a write acknowledged survives a crash) and a
busy timeout, so processes sharing the file wait for each other's short transactions instead of failing.
"""

from __future__ import annotations

import os
import sqlite3
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

from kalshi_trading.errors import StorageError

_SQLITE_MAGIC = b"SQLite format 3\x00"


@dataclass(frozen=True)
class FileKind:
    """What one small file is: its name in messages, its application id, schema version and schema."""

    what: str
    application_id: int
    version: int
    schema: str


def _check_header(path: Path, kind: FileKind) -> None:
    """Refuse, with plain file I/O before SQLite opens it, anything but a file of this kind this program reads."""
    try:
        with open(path, "rb") as fh:
            header = fh.read(100)
    except OSError as exc:
        raise StorageError(f"cannot read {kind.what} {path}: {exc.strerror or exc}", path=path) from None
    if not header:
        return  # an empty file (a crash before the first page): SQLite makes it a database
    if len(header) < 100 or not header.startswith(_SQLITE_MAGIC):
        raise StorageError(f"{path} is not a SQLite database (corrupt or another kind of file); left untouched",
                           path=path)
    version = int.from_bytes(header[60:64], "big")
    app_id = int.from_bytes(header[68:72], "big")
    if app_id not in (0, kind.application_id) or (app_id == 0 and version != 0):
        raise StorageError(f"{path} is another program's SQLite database; left untouched", path=path)
    if version > kind.version:
        raise StorageError(f"{path} is {kind.what} version {version}, newer than this program (reads up to "
                           f"{kind.version}); upgrade kalshi-trading; left untouched", path=path)


def open_file(path: Path, kind: FileKind) -> sqlite3.Connection:
    """Open (or create) the file at `path`; anything that is not one of ours is refused untouched."""
    if os.path.lexists(path):
        if not path.is_file():
            raise StorageError(f"{kind.what} {path} is not a regular file; left untouched", path=path)
        _check_header(path, kind)
    try:
        conn = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False)
    except sqlite3.Error as exc:
        raise StorageError(f"cannot use {kind.what} {path}: {exc}", path=path) from None
    try:
        conn.execute("PRAGMA busy_timeout = 10000")
        if (conn.execute("PRAGMA user_version").fetchone()[0] == 0
                and conn.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]):
            raise StorageError(f"{path} is another program's SQLite database; left untouched", path=path)
        _wal(conn)
        conn.execute("PRAGMA synchronous = FULL")
        _prepare(conn, kind)
    except sqlite3.DatabaseError as exc:
        conn.close()
        raise StorageError(f"cannot use {kind.what} {path}: {exc}", path=path) from None
    except BaseException:
        conn.close()
        raise
    return conn


def _wal(conn: sqlite3.Connection, tries: int = 100) -> None:
    """WAL mode.  Switching a new file to it can answer "database is locked" at once, without waiting out the busy
    timeout, while another process creates the same file: wait a little and ask again (about 5 s at most)."""
    for attempt in range(tries):
        try:
            conn.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or attempt == tries - 1:
                raise
            time.sleep(0.05)


def _prepare(conn: sqlite3.Connection, kind: FileKind) -> None:
    conn.execute("BEGIN IMMEDIATE")
    try:
        if conn.execute("PRAGMA user_version").fetchone()[0] == 0:
            for statement in split_statements(kind.schema):
                conn.execute(statement)
            conn.execute(f"PRAGMA application_id = {kind.application_id}")
            conn.execute(f"PRAGMA user_version = {kind.version}")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


def split_statements(schema: str) -> list[str]:
    """The schema's statements, one by one (a trigger's body keeps its own semicolons: statements end at `;;`)."""
    return [s.strip() for s in schema.split(";;") if s.strip()]


class SmallFile:
    """An open small file: `run` for one statement, `transaction()` for several (BEGIN IMMEDIATE: one writer at a
    time across processes); SQLite's failures become StorageError naming the file."""

    def __init__(self, path: Path, kind: FileKind):
        self.path = Path(path)
        self.kind = kind
        self._conn: sqlite3.Connection | None = None

    @property
    def exists(self) -> bool:
        return self._conn is not None or os.path.lexists(self.path)

    def conn(self) -> sqlite3.Connection:
        if self._conn is None:
            self._conn = open_file(self.path, self.kind)
        return self._conn

    def run(self, sql: str, args: tuple[Any, ...] = ()) -> sqlite3.Cursor:
        try:
            return self.conn().execute(sql, args)
        except (sqlite3.ProgrammingError, sqlite3.InterfaceError):
            raise
        except sqlite3.DatabaseError as exc:
            raise StorageError(f"{self.kind.what} {self.path} is unusable ({exc})", path=self.path) from None

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """One write transaction, taken at once (BEGIN IMMEDIATE), committed at the end or rolled back."""
        self.run("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            self.run("ROLLBACK")
            raise
        self.run("COMMIT")

    def close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            try:
                conn.close()
            except sqlite3.Error:  # closing never hides the real outcome of a command
                pass
