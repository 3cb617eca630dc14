"""The journal's file format: schema, identity (application_id, user_version), the header check that refuses
anything else before SQLite opens it (so a corrupt or foreign file is never modified), and the in-place migration
of older versions.

Versions.  1: the first.  2: order intents carry their writer (`owner`, an `IntentOwner` as JSON) and the time
after which nobody can still be sending them (`deadline`).  An older file is upgraded in one transaction when it is
opened (so a crash leaves it either old or new); a newer file is refused and left untouched.
"""

from __future__ import annotations

import functools
import os
import sqlite3
import tempfile
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, TypeVar, cast

from kalshi_trading.errors import JournalError
from kalshi_trading.store.journal import LEGACY_IN_FLIGHT_S

APPLICATION_ID = 0x4B4A524E  # "KJRN": a kalshi journal
SCHEMA_VERSION = 3
OLDEST_MIGRATABLE = 1
# Each step takes a file from version n to n + 1 (run inside the migration's transaction).
MIGRATIONS: dict[int, tuple[str, ...]] = {
    1: ("ALTER TABLE order_events ADD COLUMN owner TEXT", "ALTER TABLE order_events ADD COLUMN deadline TEXT",
        # who wrote an old intent is unknown: it may be settled once it is older than any request could take
        f"UPDATE order_events SET deadline = strftime('%Y-%m-%dT%H:%M:%fZ', time, '+{LEGACY_IN_FLIGHT_S} seconds') "
        "WHERE kind = 'intent'"),
    # the strategy that placed each fill's order (its intent's tag), kept on the fill and at the end of its CSV line
    2: ("ALTER TABLE fills ADD COLUMN strategy TEXT NOT NULL DEFAULT ''",
        "UPDATE fills SET strategy = t.strategy FROM ("
        "SELECT o.order_id AS order_id, max(json_extract(i.extra, '$.strategy')) AS strategy FROM order_events o "
        "JOIN order_events i ON i.client_order_id = o.client_order_id AND i.kind = 'intent' "
        "WHERE o.order_id IS NOT NULL AND json_extract(i.extra, '$.strategy') IS NOT NULL GROUP BY o.order_id"
        ") AS t WHERE fills.order_id = t.order_id",
        "INSERT OR IGNORE INTO meta (key, value) SELECT 'journal.tagged', '1' FROM order_events "
        "WHERE kind = 'intent' AND json_extract(extra, '$.strategy') IS NOT NULL LIMIT 1",
        "UPDATE fills SET csv_yes = substr(csv_yes, 1, length(csv_yes) - 2) || ',' || {field} || char(13, 10), "
        "csv_no = substr(csv_no, 1, length(csv_no) - 2) || ',' || {field} || char(13, 10)".format(
            field="(CASE WHEN strategy GLOB '*[\",' || char(10, 13) || ']*' "
                  "THEN '\"' || replace(strategy, '\"', '\"\"') || '\"' ELSE strategy END)")),
}
_SQLITE_MAGIC = b"SQLite format 3\x00"

SCHEMA = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE order_events (
    id INTEGER PRIMARY KEY,
    time TEXT NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('intent', 'accepted', 'rejected', 'amended', 'decreased', 'cancelled',
                                       'reconciled')),
    client_order_id TEXT NOT NULL,
    order_id TEXT, env TEXT, ticker TEXT, book_side TEXT, yes_price TEXT, count TEXT, time_in_force TEXT,
    status TEXT, code TEXT, message TEXT,
    extra TEXT NOT NULL DEFAULT '{}',
    owner TEXT,  -- intents: the writing process (store.journal.IntentOwner as JSON)
    deadline TEXT  -- intents: after this time no one can still be sending the order
);
CREATE UNIQUE INDEX order_events_one_intent ON order_events (client_order_id) WHERE kind = 'intent';
CREATE INDEX order_events_client ON order_events (client_order_id);
CREATE INDEX order_events_order ON order_events (order_id);
CREATE INDEX order_events_time ON order_events (time);
CREATE TABLE fills (
    fill_id TEXT PRIMARY KEY,
    order_id TEXT NOT NULL,
    trade_id TEXT NOT NULL,
    ticker TEXT NOT NULL,
    outcome_side TEXT NOT NULL,
    book_side TEXT NOT NULL CHECK (book_side IN ('bid', 'ask')),
    count TEXT NOT NULL,
    count_units INTEGER NOT NULL,  -- signed 1/100 contracts, + bought YES: exact integer sums
    yes_price TEXT NOT NULL,
    no_price TEXT NOT NULL,
    fee TEXT NOT NULL,
    is_taker INTEGER NOT NULL,
    created_time TEXT NOT NULL,  -- '' when unknown (sorts first)
    before INTEGER,  -- the ticker's position before this fill (count units); NULL until placed
    csv_head TEXT NOT NULL,  -- this fill's trades-CSV line in pieces (journal._TRADE_LINES), strategy included
    csv_mid TEXT NOT NULL,
    csv_yes TEXT NOT NULL,
    csv_no TEXT NOT NULL,
    strategy TEXT NOT NULL DEFAULT ''  -- the strategy that placed the fill's order (its intent's), '' by hand
);
CREATE INDEX fills_time ON fills (created_time, fill_id);
CREATE INDEX fills_ticker_time ON fills (ticker, created_time, fill_id);
CREATE INDEX fills_unplaced ON fills (ticker) WHERE before IS NULL;
CREATE TABLE settlements (
    ticker TEXT NOT NULL,
    event_ticker TEXT NOT NULL,
    market_result TEXT NOT NULL,
    yes_count TEXT NOT NULL,
    yes_total_cost TEXT NOT NULL,
    no_count TEXT NOT NULL,
    no_total_cost TEXT NOT NULL,
    revenue TEXT NOT NULL,
    settled_time TEXT NOT NULL,  -- '' when unknown
    fee TEXT NOT NULL,
    value TEXT,
    PRIMARY KEY (ticker, settled_time)
);
CREATE INDEX settlements_time ON settlements (settled_time);
CREATE TABLE errors (
    id INTEGER PRIMARY KEY,
    time TEXT NOT NULL,
    kind TEXT NOT NULL,
    message TEXT NOT NULL,
    context TEXT NOT NULL DEFAULT '{}'
);
"""


def fsync_dir(directory: Path) -> None:
    flag = getattr(os, "O_DIRECTORY", None)
    if flag is None:  # Windows: directories cannot be opened for fsync
        return
    fd = os.open(directory, os.O_RDONLY | flag)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def check_header(path: Path) -> None:
    """Read the file's header with plain I/O and refuse anything but a kalshi journal, before SQLite opens it."""
    if not path.is_file():
        if path.is_symlink() and not path.exists():
            what = f"a dangling symbolic link (to {os.readlink(path)})"
        elif path.is_dir():
            what = "a directory"
        else:
            what = "not a regular file"
        raise JournalError(f"journal path {path} is {what}; left untouched")
    try:
        with open(path, "rb") as fh:
            header = fh.read(100)
    except OSError as exc:
        raise JournalError(f"cannot read journal {path}: {exc}") from None
    if len(header) < 100 or not header.startswith(_SQLITE_MAGIC):
        raise JournalError(f"{path} is not a SQLite database (corrupt or another kind of file); left untouched")
    user_version = int.from_bytes(header[60:64], "big")
    application_id = int.from_bytes(header[68:72], "big")
    if application_id != APPLICATION_ID:
        raise JournalError(f"{path} is another program's SQLite database (application_id {application_id:#x}); "
                           "left untouched")
    if user_version > SCHEMA_VERSION:
        raise JournalError(f"{path} is journal schema version {user_version}, newer than this program "
                           f"(reads up to {SCHEMA_VERSION}); upgrade kalshi-trading; left untouched")
    if user_version < OLDEST_MIGRATABLE:
        raise JournalError(f"{path} has unknown journal schema version {user_version}; left untouched")


def migrate(conn: sqlite3.Connection, path: Path) -> None:
    """Bring an older journal up to SCHEMA_VERSION in one transaction (another process may be doing the same)."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        while version < SCHEMA_VERSION:
            for statement in MIGRATIONS[version]:
                conn.execute(statement)
            version += 1
        conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


F = TypeVar("F", bound=Callable[..., Any])


def unusable(path: Path, exc: sqlite3.DatabaseError) -> JournalError:
    return JournalError(f"journal {path} is unusable ({exc}); it was not changed")


def guarded(method: F) -> F:
    """A journal method whose SQLite failure (a damaged page, a read-only file, a full disk) is a JournalError."""

    @functools.wraps(method)
    def wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return method(self, *args, **kwargs)
        except (sqlite3.ProgrammingError, sqlite3.InterfaceError):
            raise  # our own mistake, not the file's
        except sqlite3.DatabaseError as exc:
            raise unusable(self.path, exc) from None

    return cast(F, wrapper)


def archive_copy(path: Path, now: datetime) -> Path:
    """Copy the journal at `path` (as committed) to a new file beside it, `<stem>-archived-<UTC time><suffix>`.

    The copy is read through its own connection, so a caller holding the write lock gets exactly what it is
    about to change.  The file is built under a temporary name and hard-linked into place (never replacing one).
    """
    stamp = now.astimezone(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".archive", dir=path.parent)
    except OSError as exc:
        raise JournalError(f"cannot archive journal {path}: {exc.strerror or exc}") from None
    os.close(fd)
    try:
        reader = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, isolation_level=None)
        try:
            reader.execute("VACUUM INTO ?", (tmp,))  # WAL: a reader beside the write lock sees a consistent copy
        finally:
            reader.close()
        with open(tmp, "rb+") as fh:
            os.fsync(fh.fileno())
        target = _link_free_name(Path(tmp), path, stamp)
        fsync_dir(path.parent)
    except OSError as exc:
        raise JournalError(f"cannot archive journal {path}: {exc.strerror or exc}") from None
    finally:
        Path(tmp).unlink(missing_ok=True)
    return target


def _link_free_name(tmp: Path, path: Path, stamp: str) -> Path:
    for n in range(1000):
        target = path.with_name(f"{path.stem}-archived-{stamp}{'-' + str(n) if n else ''}{path.suffix}")
        try:
            os.link(tmp, target)
            return target
        except FileExistsError:
            continue
    raise JournalError(f"cannot find a free archive name beside {path}")
