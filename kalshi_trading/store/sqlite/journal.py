"""The trade journal in SQLite: one file, `journal.sqlite`, holding order events, fills, settlements and errors.

It implements `store.journal.TradeJournal` (the contract is there); this docstring says how.

Durability.  The journal runs in WAL mode with `synchronous=FULL`: every commit fsyncs the write-ahead log before
returning, so a record the journal has acknowledged (above all an order *intent*, written before the order is sent)
survives a crash or power loss.  WAL lets readers (a `kalshi journal` command) run while the bot writes; FULL costs
one fsync per transaction, which is why bulk writes (fills from a sync) go in one transaction per batch.

Safety of the file.  The schema carries `application_id` and `user_version`.  Opening an existing file first reads
its 100-byte header with plain file I/O: something that is not SQLite, another program's SQLite database, or a newer
journal version raises `JournalError` and the file is never opened for writing, so it is never modified; so does a
read-only file or directory (a journal must take the write-ahead intent).  An older version is upgraded in place in
one transaction (`journal_schema.migrate`).  A new journal is built in a temporary file and hard-linked into place,
so a crash never leaves a half-made journal.  Any SQLite failure later (a damaged page, a full disk) is a
`JournalError` naming the path.  Order events live in `journal_orders`, the column formats in `codec`.

One exchange per journal.  `bind_exchange` ties the journal to an exchange identity (in sim: the simulated
account); another identity archives the journal (a copy beside it) and empties it.  A fill whose id the journal
holds for a different fill is refused, so two fills never share an id.

Exports.  For a fast trades export each fill also keeps `before` (its ticker's position before it, from a running
sum as fills are appended; a fill that arrives late makes its ticker be recomputed by a window query) and its CSV
line in pieces (`codec.fill_row`), so the export is one ordered index scan, labelled inside SQLite: typed rows
(`trade_rows`), or (`trade_csv`) the CSV lines glued from the pieces with no Python work per row.
"""

from __future__ import annotations

import functools
import itertools
import json
import logging
import operator
import os
import sqlite3
import tempfile
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Mapping, TypeVar

from kalshi_trading.errors import JournalError
from kalshi_trading.models import Fill, Settlement
from kalshi_trading.store.journal import ErrorEntry, HistoryEntry, HistoryKind, SyncCursor, TradeRow
from kalshi_trading.store.sqlite.codec import (
    FILL_BEFORE, FILL_COLUMNS, FILL_SELECT, FILL_TIME, FillRow, fill_from_row, fill_row, iso, parse_iso,
    parse_time, settlement_from_row, settlement_row,
)
from kalshi_trading.store.sqlite.journal_orders import (
    TAGGED_KEY, OrderEventsMixin, clean_extra, limit_clause, where_clause,
)
from kalshi_trading.store.sqlite.journal_schema import (
    APPLICATION_ID, OLDEST_MIGRATABLE, SCHEMA, SCHEMA_VERSION, archive_copy, check_header, fsync_dir, guarded,
    migrate, unusable,
)

log = logging.getLogger(__name__)
T = TypeVar("T")

_BATCH = 5_000
_IDENTITY = "exchange.identity"
_ENVIRONMENT = "store.environment"
_CURSORS = {SyncCursor.FILLS: "sync.fills.max_created_time",
            SyncCursor.SETTLEMENTS: "sync.settlements.max_settled_time"}
_FILL_FACTS = "fill_id, order_id, ticker, book_side, count, yes_price, created_time"  # what makes two fills one
_FILL_INSERT = f"INSERT OR IGNORE INTO fills ({', '.join(FILL_COLUMNS)}) VALUES ({', '.join('?' * len(FILL_COLUMNS))})"
_SETTLEMENT_INSERT = "INSERT OR IGNORE INTO settlements VALUES (" + ", ".join("?" * 11) + ")"
# Recompute `before` for one ticker from scratch, writing only rows whose value changes.
_PLACE_SQL = """
UPDATE fills SET before = w.b
FROM (SELECT fill_id, coalesce(SUM(count_units) OVER (ORDER BY created_time, fill_id
                                                      ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), 0) AS b
      FROM fills WHERE ticker = ?) AS w
WHERE fills.fill_id = w.fill_id AND fills.before IS NOT w.b
"""
# The trades export as CSV lines (store.journal.trade_csv): the stored pieces glued by the position before the fill
# (the tail pieces end with the strategy column and the line end).
_TRADE_LINES = """
SELECT csv_head || CASE WHEN count_units > 0
    THEN (CASE WHEN before < 0 THEN 'no,sell' || csv_mid || csv_no ELSE 'yes,buy' || csv_mid || csv_yes END)
    ELSE (CASE WHEN before > 0 THEN 'yes,sell' || csv_mid || csv_yes ELSE 'no,buy' || csv_mid || csv_no END) END
FROM fills{where} ORDER BY created_time, fill_id
"""
# The trades export as typed rows (store.journal.TradeRow): `label` 0 buys YES, 1 sells YES, 2 buys NO, 3 sells NO,
# from the sign of the fill and the position before it; notional = the side's price units x count units (6 places).
_TRADE_ROWS = """
SELECT created_time, fill_id, order_id, ticker, CASE WHEN label < 2 THEN 'yes' ELSE 'no' END,
       CASE WHEN label % 2 = 1 THEN 'sell' ELSE 'buy' END, count, yes_price, no_price, price,
       printf('%d.%06d', units / 1000000, units % 1000000), fee, CASE WHEN is_taker THEN 'true' ELSE 'false' END,
       strategy
FROM (SELECT *, CASE WHEN label < 2 THEN yes_price ELSE no_price END AS price,
             abs(count_units) * CAST(replace(CASE WHEN label < 2 THEN yes_price ELSE no_price END, '.', '')
                                     AS INTEGER) AS units
      FROM (SELECT created_time, fill_id, order_id, ticker, count, count_units, yes_price, no_price, fee,
                   is_taker, strategy,
                   CASE WHEN count_units > 0 THEN (CASE WHEN before < 0 THEN 3 ELSE 0 END)
                        ELSE (CASE WHEN before > 0 THEN 1 ELSE 2 END) END AS label
            FROM fills{where} ORDER BY created_time, fill_id))
"""


def _utc_now() -> datetime:
    return datetime.now(timezone.utc)


def _check_writable(path: Path) -> None:
    """A journal must take writes (intents before orders): refuse a read-only file or directory up front."""
    if not os.access(path, os.W_OK):
        raise JournalError(f"journal {path} is read-only (permissions, an immutable flag or a read-only file "
                           "system); left untouched")
    if not os.access(path.parent, os.W_OK | os.X_OK):
        raise JournalError(f"journal directory {path.parent} is read-only (SQLite writes its -wal and -shm files "
                           "there); left untouched")


class SqliteJournal(OrderEventsMixin):
    """An open journal.  Use `SqliteJournal.open(path)`, ideally as a context manager."""

    def __init__(self, conn: sqlite3.Connection, path: Path, clock: Callable[[], datetime]):
        self._conn = conn
        self.path = path
        self._clock = clock

    # -- opening ---------------------------------------------------------------------------------------------

    @classmethod
    def open(cls, path: Path, *, clock: Callable[[], datetime] = _utc_now) -> "SqliteJournal":
        """Open (or create) the journal at `path`; refuse anything that is not one of ours, or not writable.

        An older journal version is upgraded in place (one transaction); a newer one is refused, untouched.
        """
        path = Path(path)
        if not path.parent.is_dir():
            raise JournalError(f"journal directory {path.parent} does not exist")
        if not os.path.lexists(path):  # a dangling link is not a missing journal: nothing is created through it
            cls._create(path)
        check_header(path)
        _check_writable(path)
        try:
            conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=rw", uri=True, isolation_level=None)
        except sqlite3.Error as exc:
            raise JournalError(f"cannot open journal {path}: {exc}") from None
        try:
            mode = cls._prepare(conn, path)
        except sqlite3.DatabaseError as exc:
            conn.close()
            raise JournalError(f"journal {path} is unreadable ({exc}); left untouched") from None
        except JournalError:
            conn.close()
            raise
        if mode != "wal":
            log.warning("journal %s: WAL mode unavailable (%s)", path, mode)
        return cls(conn, path, clock)

    @staticmethod
    def check(path: Path) -> JournalError | None:
        """Why an existing journal file could not be used (None: absent, or fine as far as its header shows).

        Plain file I/O only: nothing is opened with SQLite, created or changed."""
        path = Path(path)
        if not os.path.lexists(path):
            return None
        try:
            check_header(path)
            _check_writable(path)
        except JournalError as exc:
            return exc
        return None

    @classmethod
    def in_memory(cls, *, clock: Callable[[], datetime] = _utc_now) -> "SqliteJournal":
        """An empty journal that lives only in memory (for views that must go on without the real one)."""
        conn = sqlite3.connect(":memory:", isolation_level=None)
        conn.execute(f"PRAGMA application_id = {APPLICATION_ID}")
        conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        conn.executescript(f"BEGIN; {SCHEMA} COMMIT;")
        return cls(conn, Path(":memory:"), clock)

    @staticmethod
    def _prepare(conn: sqlite3.Connection, path: Path) -> str:
        """Settings, identity checks and any migration on a fresh connection; returns the journal mode."""
        conn.execute("PRAGMA busy_timeout = 5000")
        conn.execute("PRAGMA cache_size = -32768")  # 32 MiB: bulk inserts touch five B-trees
        conn.execute("PRAGMA foreign_keys = ON")
        app_id = conn.execute("PRAGMA application_id").fetchone()[0]
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        if app_id != APPLICATION_ID or not OLDEST_MIGRATABLE <= version <= SCHEMA_VERSION:
            raise JournalError(f"{path} is not a version {SCHEMA_VERSION} kalshi journal; left untouched")
        conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
        mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]  # already WAL: no write happens
        conn.execute("PRAGMA synchronous = FULL")
        if version < SCHEMA_VERSION:
            migrate(conn, path)
            log.warning("journal %s upgraded from version %d to %d", path, version, SCHEMA_VERSION)
        return mode

    @staticmethod
    def _create(path: Path) -> None:
        try:
            fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".new", dir=path.parent)
        except OSError as exc:
            raise JournalError(f"cannot create journal {path}: {exc.strerror or exc}") from None
        os.close(fd)
        try:
            conn = sqlite3.connect(tmp, isolation_level=None)
            try:
                conn.execute(f"PRAGMA application_id = {APPLICATION_ID}")
                conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
                conn.execute("PRAGMA journal_mode = WAL")
                conn.executescript(f"BEGIN; {SCHEMA} COMMIT;")
            finally:
                conn.close()  # checkpoints and removes the WAL: the file alone is the whole journal
            with open(tmp, "rb+") as fh:
                os.fsync(fh.fileno())
            try:
                os.link(tmp, path)  # never replaces a file someone made meanwhile
            except FileExistsError:
                log.info("journal %s appeared while creating it; opening that one", path)
            fsync_dir(path.parent)
        except (OSError, sqlite3.Error) as exc:
            raise JournalError(f"cannot create journal {path}: {getattr(exc, 'strerror', None) or exc}") from None
        finally:
            Path(tmp).unlink(missing_ok=True)

    @property
    def location(self) -> str:
        return str(self.path)

    @guarded
    def schema_version(self) -> int:
        return int(self._conn.execute("PRAGMA user_version").fetchone()[0])

    def close(self) -> None:
        self._conn.close()

    def __enter__(self) -> "SqliteJournal":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        try:
            self._conn.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as exc:
            raise JournalError(f"journal {self.path} is busy: {exc}") from None
        try:
            yield self._conn
        except BaseException:
            try:
                self._conn.execute("ROLLBACK")
            except sqlite3.Error:
                log.warning("journal %s: rollback failed", self.path)
            raise
        self._conn.execute("COMMIT")

    # -- the exchange this journal belongs to -----------------------------------------------------------------

    @guarded
    def bind_exchange(self, identity: str) -> str | None:
        """Tie the journal to one exchange (e.g. a simulated exchange's epoch, new on every reset).

        The first call records `identity`.  A later call with another identity means the exchange this journal
        recorded is gone (a reset simulator restarts its ids): the whole journal is copied to an archive file
        beside it (`journal-archived-<UTC time>.sqlite`) and emptied, in one transaction, so fills of two
        exchanges never share one journal.  Returns the archive's path when that happened.
        """
        with self._tx() as conn:
            row = conn.execute("SELECT value FROM meta WHERE key = ?", (_IDENTITY,)).fetchone()
            if row is not None and row[0] == identity:
                return None
            archive = None if row is None else str(archive_copy(self.path, self._clock()))
            if archive is not None:
                for table in ("order_events", "fills", "settlements", "errors"):
                    conn.execute(f"DELETE FROM {table}")
                conn.execute("DELETE FROM meta WHERE key != ?", (_ENVIRONMENT,))  # still this environment's
            conn.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (_IDENTITY, identity))
        if archive is not None:
            log.warning("journal %s belonged to another exchange (%s, now %s): archived to %s, started afresh",
                        self.path, row[0], identity, archive)
        return archive

    @guarded
    def exchange_identity(self) -> str | None:
        return self._meta(_IDENTITY)

    @guarded
    def claim_environment(self, env: str) -> None:
        """Tie the journal to one environment (sim, demo, prod): a journal that recorded another is refused.

        A journal of the default location lives in its environment's directory; this guards a KALSHI_STORE
        shared by mistake between environments, so simulated fills never mix with real ones."""
        held = self._meta(_ENVIRONMENT)
        if held == env:
            return
        if held is not None:
            raise JournalError(f"journal {self.path} holds the {held} environment's records, not {env}'s; left "
                               "untouched: give each environment its own KALSHI_STORE")
        with self._tx() as conn:
            conn.execute("INSERT OR IGNORE INTO meta (key, value) VALUES (?, ?)", (_ENVIRONMENT, env))
        if self._meta(_ENVIRONMENT) != env:  # another process claimed it meanwhile
            self.claim_environment(env)

    # -- fills and settlements ---------------------------------------------------------------------------------

    @guarded
    def record_fills(self, fills: Iterable[Fill], *, advance_cursor: bool = False) -> int:
        """Insert fills (the same fill again is ignored) in one transaction; returns how many were new.

        With `advance_cursor` the fills' sync cursor moves to the newest created time among them, in the same
        transaction (so an interrupted sync stores nothing, and the next starts from the same point)."""
        with self._tx():
            new, newest = self._insert_fills(fills)
            if advance_cursor:
                self._advance_cursor(SyncCursor.FILLS, newest)
            return new

    @guarded
    def record_settlements(self, settlements: Iterable[Settlement], *, advance_cursor: bool = False) -> int:
        """Insert settlements (unique by ticker and settled time); returns how many were new."""
        with self._tx():
            new, newest = self._insert_settlements(settlements)
            if advance_cursor:
                self._advance_cursor(SyncCursor.SETTLEMENTS, newest)
            return new

    def _insert_fills(self, fills: Iterable[Fill]) -> tuple[int, str]:
        """Inside a transaction: batched executemany.  Returns (new rows, newest created_time text seen)."""
        conn = self._conn
        start = conn.total_changes
        tails: dict[str, tuple[tuple[str, str], int]] = {}
        newest, batch = "", []
        for f in fills:
            batch.append(f)
            if len(batch) >= _BATCH:
                newest = max(newest, self._insert_fill_batch(self._rows(batch), tails))
                batch = []
        if batch:
            newest = max(newest, self._insert_fill_batch(self._rows(batch), tails))
        new = conn.total_changes - start
        for (ticker,) in conn.execute("SELECT DISTINCT ticker FROM fills WHERE before IS NULL").fetchall():
            conn.execute(_PLACE_SQL, (ticker,))  # a late (out-of-order) fill: recompute that ticker's positions
        return new, newest

    def _rows(self, fills: list[Fill]) -> list[FillRow]:
        """Fills as rows, each with the strategy that placed its order (fixed when the fill is journalled)."""
        tags = self._order_tags({f.order_id for f in fills}) if self._meta(TAGGED_KEY) else {}
        return [fill_row(f, tags.get(f.order_id, "")) for f in fills]

    def _order_tags(self, order_ids: set[str]) -> dict[str, str]:
        """order id -> the strategy tag of its intent, for the orders among `order_ids` that have one."""
        wanted = sorted(order_ids)
        found: dict[str, str] = {}
        for start in range(0, len(wanted), 500):
            chunk = wanted[start:start + 500]
            found.update(self._conn.execute(
                "SELECT o.order_id, json_extract(i.extra, '$.strategy') FROM order_events o "
                "JOIN order_events i ON i.client_order_id = o.client_order_id AND i.kind = 'intent' "
                f"WHERE o.order_id IN ({', '.join('?' * len(chunk))}) "
                "AND json_extract(i.extra, '$.strategy') IS NOT NULL", chunk))
        return found

    def _insert_fill_batch(self, rows: list[FillRow], tails: dict[str, tuple[tuple[str, str], int]]) -> str:
        # Fills newer than everything stored for their ticker (the usual case) get `before` from a running sum;
        # a duplicate or a late fill keeps NULL and is placed by _PLACE_SQL afterwards.
        rows.sort(key=lambda r: (r[FILL_TIME], r[0]))
        for row in rows:
            ticker = row[3]
            tail = tails.get(ticker)
            if tail is None:
                last = self._conn.execute(
                    "SELECT created_time, fill_id, before + count_units FROM fills WHERE ticker = ? "
                    "ORDER BY created_time DESC, fill_id DESC LIMIT 1", (ticker,)).fetchone()
                tail = ((last[0], last[1]), last[2]) if last else (("", ""), 0)
            key = (row[FILL_TIME], row[0])
            if key > tail[0] and tail[1] is not None:
                row[FILL_BEFORE] = tail[1]
                tail = (key, tail[1] + row[7])
            tails[ticker] = tail
        start = self._conn.total_changes
        self._conn.executemany(_FILL_INSERT, rows)
        if self._conn.total_changes - start < len(rows):
            self._check_same_fills(rows)  # some ids were known: they must be the very same fills
        return rows[-1][FILL_TIME]

    def _check_same_fills(self, rows: list[FillRow]) -> None:
        """Refuse (rolling the batch back) a fill whose id the journal holds for a different fill."""
        by_id = {row[0]: row for row in rows}
        ids = list(by_id)
        for start in range(0, len(ids), 500):
            chunk = ids[start:start + 500]
            sql = f"SELECT {_FILL_FACTS} FROM fills WHERE fill_id IN ({', '.join('?' * len(chunk))})"
            for stored in self._conn.execute(sql, chunk):
                row = by_id[stored[0]]
                if tuple(stored) != (row[0], row[1], row[3], row[5], row[6], row[8], row[FILL_TIME]):
                    raise JournalError(
                        f"the exchange reports fill {stored[0]} with other details than journal {self.path} holds "
                        "(the exchange was reset, or this journal belongs to another exchange or account); nothing "
                        "was stored: move the journal aside (it is kept as it is) and sync again")

    def _insert_settlements(self, settlements: Iterable[Settlement]) -> tuple[int, str]:
        rows = [settlement_row(s) for s in settlements]
        start = self._conn.total_changes
        self._conn.executemany(_SETTLEMENT_INSERT, rows)
        return self._conn.total_changes - start, max((row[8] for row in rows), default="")

    def _advance_cursor(self, which: SyncCursor, newest: str) -> None:
        if newest:
            self._conn.execute(
                "INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE "
                "SET value = max(value, excluded.value)", (_CURSORS[which], newest),
            )

    @guarded
    def sync_cursor(self, which: SyncCursor) -> datetime | None:
        """The newest created (fills) or settled (settlements) time a sync has stored; None before the first."""
        return parse_iso(self._meta(_CURSORS[which]))

    def _meta(self, key: str) -> str | None:
        row = self._conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else str(row[0])

    @guarded
    def fills(
        self, since: datetime | None = None, until: datetime | None = None, ticker: str | None = None,
        limit: int | None = None, newest_first: bool = False,
    ) -> list[Fill]:
        """Fills oldest first (the order P&L wants) unless `newest_first`."""
        where, args = where_clause(since, until, ticker, "created_time")
        order = "DESC" if newest_first else "ASC"
        sql = (f"SELECT {FILL_SELECT} FROM fills{where} ORDER BY created_time {order}, fill_id {order}"
               f"{limit_clause(limit)}")
        return [fill_from_row(row) for row in self._conn.execute(sql, args)]

    @guarded
    def settlements(
        self, since: datetime | None = None, until: datetime | None = None, ticker: str | None = None,
        limit: int | None = None, newest_first: bool = False,
    ) -> list[Settlement]:
        where, args = where_clause(since, until, ticker, "settled_time")
        order = "DESC" if newest_first else "ASC"
        sql = f"SELECT * FROM settlements{where} ORDER BY settled_time {order}, ticker {order}{limit_clause(limit)}"
        return [settlement_from_row(row) for row in self._conn.execute(sql, args)]

    @guarded
    def history(
        self, since: datetime | None = None, until: datetime | None = None, ticker: str | None = None,
        limit: int | None = None,
    ) -> list[HistoryEntry]:
        """Fills, settlements and order events merged, newest first."""
        entries = [HistoryEntry(f.created_time, HistoryKind.FILL, f.ticker, f)
                   for f in self.fills(since, until, ticker, limit, newest_first=True)]
        entries += [HistoryEntry(s.settled_time, HistoryKind.SETTLEMENT, s.ticker, s)
                    for s in self.settlements(since, until, ticker, limit, newest_first=True)]
        entries += [HistoryEntry(e.time, HistoryKind.ORDER, e.ticker, e)
                    for e in self.order_events(since, until, ticker, limit, newest_first=True)]
        floor = datetime.min.replace(tzinfo=timezone.utc)
        entries.sort(key=lambda e: e.time or floor, reverse=True)
        return entries[:limit] if limit is not None else entries

    # -- errors ----------------------------------------------------------------------------------------------

    @guarded
    def record_error(self, kind: str, message: str, context: Mapping[str, Any] | None = None) -> None:
        with self._tx() as conn:
            conn.execute("INSERT INTO errors (time, kind, message, context) VALUES (?, ?, ?, ?)",
                         (iso(self._clock()), kind, message, clean_extra(context)))

    @guarded
    def errors(self, since: datetime | None = None, until: datetime | None = None,
               limit: int | None = None) -> list[ErrorEntry]:
        where, args = where_clause(since, until, None, "time")
        sql = f"SELECT time, kind, message, context FROM errors{where} ORDER BY id{limit_clause(limit)}"
        return [ErrorEntry(parse_time(t), k, m, json.loads(c)) for t, k, m, c in self._conn.execute(sql, args)]

    # -- exports ---------------------------------------------------------------------------------------------

    def trade_rows(
        self, since: datetime | None = None, until: datetime | None = None, ticker: str | None = None,
    ) -> Iterator[TradeRow]:
        """The fills as trades-export rows in time order, labelled inside SQLite (one ordered index scan)."""
        where, args = where_clause(since, until, ticker, "created_time")  # a naive time is refused here, at once
        return itertools.chain.from_iterable(self._trade_chunks(_TRADE_ROWS.format(where=where), args))

    def trade_csv(
        self, since: datetime | None = None, until: datetime | None = None, ticker: str | None = None,
    ) -> Iterator[list[str]]:
        """The export rows as CSV lines glued inside SQLite from the stored pieces: no Python work per row."""
        where, args = where_clause(since, until, ticker, "created_time")
        return self._chunks(_TRADE_LINES.format(where=where), args, operator.itemgetter(0), 20_000)

    def _trade_chunks(self, sql: str, args: list[object]) -> Iterator[list[TradeRow]]:
        """Rows in chunks: Python runs once per chunk, the rows are made in C (tuple.__new__ of the NamedTuple)."""
        return self._chunks(sql, args, functools.partial(tuple.__new__, TradeRow), 10_000)

    def _chunks(self, sql: str, args: list[object], make: Callable[[Any], T], size: int) -> Iterator[list[T]]:
        try:
            cursor = self._conn.execute(sql, args)
            while chunk := cursor.fetchmany(size):
                yield list(map(make, chunk))
        except (sqlite3.ProgrammingError, sqlite3.InterfaceError):
            raise
        except sqlite3.DatabaseError as exc:
            raise unusable(self.path, exc) from None
