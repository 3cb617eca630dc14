"""The bot state in SQLite: one file, `bot.sqlite` (WAL), beside the journal in the store's directory.

It implements `store.botstate.BotStore` (the contract is there); this docstring says how.  The file format and the
upgrade of older files are in `botstate_schema`.  Values are exact TEXT (`str(Decimal)`), times ISO-8601 with their
UTC offset; a fill's `seq` is its INTEGER PRIMARY KEY, and the highest seq a prune removed is kept in `kv`, so a
seq is never handed out twice even when a prune empties the table.  Writes commit at once (a fill is on disk before
the bot moves on, at `synchronous=NORMAL`: a power cut may lose the last ones, which the restart's reconciliation
asks the exchange for again); decision rows are buffered and written in batches.  One writer (the running bot);
`kalshi auto status/resume/kill` open the file briefly.
"""

from __future__ import annotations

import json
import logging
import os
import sqlite3
from datetime import datetime, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any, Iterable, Iterator, Sequence

from kalshi_trading.errors import JournalError, UsageError
from kalshi_trading.models import BookSide
from kalshi_trading.store.botstate import (
    RESERVED_KEYS, BotEvent, BotFill, BotStore, CarriedState, CarriedStats, Decision, FillSource, Json, LogBounds,
    StoredFill, StoredOrder,
)
from kalshi_trading.store.sqlite.botstate_schema import SEQ_FLOOR, carry_from_row, carry_row, prepare

log = logging.getLogger(__name__)

_FILL_COLUMNS = "key, order_id, ticker, book_side, yes_price, count, fee, ts, source"
# a new fill's seq: past every stored one and past every one a prune removed
_INSERT_FILL = (f"INSERT OR IGNORE INTO fills (seq, {_FILL_COLUMNS}) VALUES ("
                "(SELECT max(ifnull((SELECT max(seq) FROM fills), 0), "
                f"ifnull((SELECT CAST(value AS INTEGER) FROM kv WHERE key = '{SEQ_FLOOR}'), 0)) + 1), "
                "?,?,?,?,?,?,?,?,?)")
_ORDER_INSERT = "INSERT OR REPLACE INTO orders VALUES (?,?,?,?,?,?,?,?)"
_DecisionRow = tuple[str, str, str, str, str]


def _iso(ts: datetime) -> str:
    if ts.tzinfo is None:
        raise UsageError(f"naive datetime {ts} (times must be timezone-aware UTC)")
    return ts.astimezone(timezone.utc).isoformat()


def _fill(row: Sequence[Any]) -> BotFill:
    key, oid, t, side, px, n, fee, ts, source = row
    return BotFill(key, oid, t, BookSide(side), Decimal(px), Decimal(n), Decimal(fee), datetime.fromisoformat(ts),
                   FillSource(source))


def _order_row(o: StoredOrder) -> tuple[str, str, str, str, str, str, str, str]:
    return (o.order_id, o.ticker, o.book_side.value, str(o.yes_price), str(o.count), str(o.cancelled), o.tag,
            o.client_order_id)


def _stats_rows(stats: Iterable[CarriedStats]) -> Iterator[tuple[str, int, str, str]]:
    for s in stats:
        yield s.ticker, s.fills, str(s.volume), str(s.max_abs_position)


class SqliteBotState:
    """An open `bot.sqlite`.  Use `SqliteBotState.open(path)` (the store does: `Store.bot_state()`)."""

    def __init__(self, conn: sqlite3.Connection, path: Path, bounds: LogBounds):
        self._conn: sqlite3.Connection | None = conn
        self.path = path
        self.bounds = bounds
        self._pending: list[_DecisionRow] = []

    @classmethod
    def open(cls, path: Path, bounds: LogBounds | None = None) -> "SqliteBotState":
        """Open (or create) the file; a file of an older version is upgraded in one transaction, a newer one is
        refused (JournalError, exit 3) and left untouched; so are a read-only file and a dangling link."""
        path = Path(path)
        if path.is_symlink() and not path.exists():  # never create the state wherever a stale link points
            raise JournalError(f"{path}: the bot state file is a symbolic link to {os.readlink(path)}, which does "
                               "not exist; remove the link or restore its target", path=path)
        try:
            conn = sqlite3.connect(path, timeout=10, isolation_level=None, check_same_thread=False)
        except sqlite3.Error as exc:
            raise JournalError(f"{path}: the bot state file is unusable: {exc}", path=path) from None
        try:
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            version = prepare(conn, path)
        except sqlite3.DatabaseError as exc:
            conn.close()
            raise JournalError(f"{path}: the bot state file is unusable: {exc}", path=path) from None
        except BaseException:
            conn.close()
            raise
        if version == 1:
            log.warning("bot state %s upgraded from schema 1", path)
        return cls(conn, path, bounds or LogBounds())

    @property
    def location(self) -> str:
        return str(self.path)

    @property
    def closed(self) -> bool:
        return self._conn is None

    @property
    def conn(self) -> sqlite3.Connection:
        if self._conn is None:
            raise JournalError(f"{self.path}: the bot state is closed", path=self.path)
        return self._conn

    def schema_version(self) -> int:
        value = self._value("schema")
        if not isinstance(value, int):
            raise JournalError(f"{self.path}: the bot state's schema version {value!r} is not a number", path=self.path)
        return value

    def close(self) -> None:
        if self._conn is not None:
            try:
                self.flush()
            finally:
                self._conn.close()
                self._conn = None  # closed: any later use is a JournalError

    def __enter__(self) -> "SqliteBotState":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- key/value ----------------------------------------------------------------------------------
    def get(self, key: str) -> Json:
        return self._value(key)

    def _value(self, key: str) -> Json:
        row = self._query("SELECT value FROM kv WHERE key=?", (key,)).fetchone()
        return json.loads(row[0]) if row else None

    def keys(self) -> list[str]:
        rows = self._query("SELECT key FROM kv ORDER BY key").fetchall()
        return [r[0] for r in rows if r[0] not in RESERVED_KEYS]

    def put(self, key: str, value: Json) -> None:
        if key in RESERVED_KEYS:
            raise ValueError(f"bot state key {key!r} belongs to the store")
        self._query("INSERT OR REPLACE INTO kv VALUES (?, ?)", (key, json.dumps(value)))

    # --- fills --------------------------------------------------------------------------------------
    def write_fill(self, fill: BotFill, ends_order: str | None = None) -> bool:
        row = (fill.key, fill.order_id, fill.ticker, fill.book_side.value, str(fill.yes_price), str(fill.count),
               str(fill.fee), _iso(fill.ts), fill.source.value)
        with self._tx() as c:
            new = c.execute(_INSERT_FILL, row).rowcount > 0
            if ends_order is not None:
                c.execute("DELETE FROM orders WHERE order_id=?", (ends_order,))
        return new

    def fills(self) -> list[StoredFill]:
        rows = self._query(f"SELECT seq, {_FILL_COLUMNS}, folded FROM fills ORDER BY seq").fetchall()
        return [StoredFill(row[0], _fill(row[1:-1]), bool(row[-1])) for row in rows]

    def last_fill(self) -> BotFill | None:
        row = self._query(f"SELECT {_FILL_COLUMNS} FROM fills WHERE source != ? ORDER BY ts DESC, seq DESC "
                          "LIMIT 1", (FillSource.ADJUSTMENT.value,)).fetchone()
        return None if row is None else _fill(row)

    # --- orders -------------------------------------------------------------------------------------
    def save_order(self, order: StoredOrder) -> None:
        self._query(_ORDER_INSERT, _order_row(order))

    def remove_order(self, order_id: str) -> None:
        self._query("DELETE FROM orders WHERE order_id=?", (order_id,))

    def replace_orders(self, orders: Iterable[StoredOrder]) -> None:
        with self._tx() as c:
            c.execute("DELETE FROM orders")
            c.executemany(_ORDER_INSERT, (_order_row(o) for o in orders))

    def orders(self) -> list[StoredOrder]:
        rows = self._query("SELECT * FROM orders ORDER BY order_id").fetchall()
        return [StoredOrder(oid, t, BookSide(side), Decimal(px), Decimal(count), Decimal(cancelled), tag, cid)
                for oid, t, side, px, count, cancelled, tag, cid in rows]

    # --- carried state ------------------------------------------------------------------------------
    def carried(self) -> list[CarriedState]:
        rows = self._query("SELECT method, ticker, position, lots, realized, fees FROM carry "
                           "ORDER BY method, ticker").fetchall()
        return [carry_from_row(*row) for row in rows]

    def carried_stats(self) -> list[CarriedStats]:
        rows = self._query("SELECT ticker, fills, volume, max_abs FROM carry_stats ORDER BY ticker").fetchall()
        return [CarriedStats(t, int(n), Decimal(v), Decimal(m)) for t, n, v, m in rows]

    def prune(self, through_seq: int, count: int, carried: Iterable[CarriedState],
              stats: Iterable[CarriedStats]) -> bool:
        with self._tx() as c:
            (held,) = c.execute("SELECT count(*) FROM fills WHERE seq <= ?", (through_seq,)).fetchone()
            if held != count:
                return False  # another process pruned (some of) them: the fold was computed over other fills
            c.execute("DELETE FROM fills WHERE seq <= ?", (through_seq,))
            floor = self._value(SEQ_FLOOR)
            if not isinstance(floor, int) or floor < through_seq:
                c.execute("INSERT OR REPLACE INTO kv VALUES (?, ?)", (SEQ_FLOOR, json.dumps(through_seq)))
            c.executemany("INSERT OR REPLACE INTO carry VALUES (?,?,?,?,?,?)", (carry_row(s) for s in carried))
            c.executemany("INSERT OR REPLACE INTO carry_stats VALUES (?,?,?,?)", _stats_rows(stats))
        return True

    # --- logs ---------------------------------------------------------------------------------------
    def log_event(self, ts: datetime, kind: str, message: str, data: dict[str, Any] | None = None) -> None:
        self._query("INSERT INTO events (ts, kind, message, data) VALUES (?,?,?,?)",
                    (_iso(ts), kind, message, json.dumps(data or {}, default=str)))

    def events(self, limit: int = 100, kinds: Sequence[str] | None = None) -> list[BotEvent]:
        sql, args = "SELECT id, ts, kind, message, data FROM events", list(kinds or ())
        if args:
            sql += f" WHERE kind IN ({','.join('?' * len(args))})"
        rows = self._query(sql + " ORDER BY id DESC LIMIT ?", (*args, limit)).fetchall()
        return [BotEvent(i, datetime.fromisoformat(ts), k, m, json.loads(d)) for i, ts, k, m, d in reversed(rows)]

    def log_decision(self, ts: datetime, ticker: str, inputs: dict[str, Any], targets: list[Any],
                     actions: list[Any]) -> None:
        self._pending.append((_iso(ts), ticker, json.dumps(inputs, default=str), json.dumps(targets, default=str),
                              json.dumps(actions, default=str)))

    def decisions(self, limit: int = 100) -> list[Decision]:
        self.flush()
        rows = self._query("SELECT id, ts, ticker, inputs, targets, actions FROM decisions ORDER BY id DESC LIMIT ?",
                           (limit,)).fetchall()
        return [Decision(i, datetime.fromisoformat(ts), t, json.loads(a), json.loads(b), json.loads(c))
                for i, ts, t, a, b, c in reversed(rows)]

    def flush(self) -> None:
        if self._conn is None:
            return  # closed: the close flushed
        with self._tx() as c:
            if self._pending:
                c.executemany("INSERT INTO decisions (ts, ticker, inputs, targets, actions) VALUES (?,?,?,?,?)",
                              self._pending)
                self._pending.clear()
            c.execute("DELETE FROM decisions WHERE id <= (SELECT MAX(id) FROM decisions) - ?",
                      (self.bounds.decisions,))
            c.execute("DELETE FROM events WHERE id <= (SELECT MAX(id) FROM events) - ?", (self.bounds.events,))

    # --- plumbing -----------------------------------------------------------------------------------
    def _query(self, sql: str, args: Sequence[Any] = ()) -> sqlite3.Cursor:
        try:
            return self.conn.execute(sql, args)
        except sqlite3.DatabaseError as exc:
            raise JournalError(f"{self.path}: the bot state file is unusable: {exc}", path=self.path) from None

    def _tx(self) -> "_Tx":
        return _Tx(self.conn, self.path)


class _Tx:
    """BEGIN IMMEDIATE ... COMMIT (a `return` inside commits too), or ROLLBACK when the block raises; SQLite's
    failures become a JournalError naming the file."""

    def __init__(self, conn: sqlite3.Connection, path: Path):
        self.conn = conn
        self.path = path

    def __enter__(self) -> sqlite3.Connection:
        try:
            self.conn.execute("BEGIN IMMEDIATE")
        except sqlite3.DatabaseError as exc:
            raise JournalError(f"{self.path}: the bot state file is unusable: {exc}", path=self.path) from None
        return self.conn

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        if exc_type is None:
            try:
                self.conn.execute("COMMIT")
                return
            except sqlite3.DatabaseError as failed:  # a full disk, a lock held too long: nothing of it is kept
                exc = failed
        if self.conn.in_transaction:
            self.conn.execute("ROLLBACK")
        if isinstance(exc, sqlite3.DatabaseError):
            raise JournalError(f"{self.path}: the bot state file is unusable: {exc}", path=self.path) from None


def _is_a_bot_store(state: SqliteBotState) -> BotStore:
    return state  # mypy checks here that the adapter implements the whole port
