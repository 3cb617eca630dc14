"""Bot state in SQLite (WAL) under the environment's data directory: `bot.sqlite`.

What survives a restart: positions with their cost and realized P&L, the working orders the bot owns,
the keys of processed fills and the newest fill time, the day's realized P&L, the risk engine's state
(a HALTED bot stays halted until `kalshi auto resume`), and bounded logs: risk events and a decision
log (inputs, targets and actions per tick).  Orders and fills are committed at once (crash safety);
decision rows are buffered and written in batches.
"""

from __future__ import annotations

import json
import logging
import os
import secrets
import sqlite3
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any, Iterable

from kalshi_trading.auto.ledger import BotFill, Ledger, OrderRecord, TickerBook
from kalshi_trading.errors import JournalError
from kalshi_trading.models import BookSide

log = logging.getLogger(__name__)

FILE_NAME = "bot.sqlite"
SCHEMA_VERSION = 1
MAX_DECISIONS = 5000
MAX_EVENTS = 2000

_SCHEMA = """
CREATE TABLE IF NOT EXISTS kv (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS positions (
    ticker TEXT PRIMARY KEY, position TEXT NOT NULL, cost TEXT NOT NULL, realized TEXT NOT NULL,
    fees TEXT NOT NULL, volume TEXT NOT NULL, fills INTEGER NOT NULL, max_abs TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS orders (
    order_id TEXT PRIMARY KEY, ticker TEXT NOT NULL, book_side TEXT NOT NULL, yes_price TEXT NOT NULL,
    remaining TEXT NOT NULL, filled TEXT NOT NULL, tag TEXT NOT NULL, client_order_id TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS fills (
    key TEXT PRIMARY KEY, order_id TEXT NOT NULL, ticker TEXT NOT NULL, book_side TEXT NOT NULL,
    yes_price TEXT NOT NULL, count TEXT NOT NULL, fee TEXT NOT NULL, ts TEXT NOT NULL, source TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS events (
    id INTEGER PRIMARY KEY AUTOINCREMENT, ts TEXT NOT NULL, kind TEXT NOT NULL, message TEXT NOT NULL,
    data TEXT NOT NULL DEFAULT '{}');
CREATE TABLE IF NOT EXISTS decisions (
    id INTEGER PRIMARY KEY AUTOINCREMENT, ts TEXT NOT NULL, ticker TEXT NOT NULL, inputs TEXT NOT NULL,
    targets TEXT NOT NULL, actions TEXT NOT NULL);
"""


def _iso(ts: datetime) -> str:
    return ts.astimezone(timezone.utc).isoformat()


def _dt(text: str) -> datetime:
    return datetime.fromisoformat(text)


class BotState:
    """The state database.  One writer (the running bot); `kalshi auto status/resume/kill` open it briefly."""

    def __init__(self, conn: sqlite3.Connection, path: Path, *, max_decisions: int = MAX_DECISIONS,
                 max_events: int = MAX_EVENTS):
        self._conn = conn
        self.path = path
        self.max_decisions = max_decisions
        self.max_events = max_events
        self._pending_decisions: list[tuple] = []

    @classmethod
    def open(cls, path: Path, **kwargs) -> "BotState":
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        if path.is_symlink() and not path.exists():  # never create the state wherever a stale link points
            raise JournalError(f"{path}: the bot state file is a symbolic link to {os.readlink(path)}, which does "
                               "not exist; remove the link or restore its target", path=path)
        try:
            conn = sqlite3.connect(path, timeout=10, isolation_level=None, check_same_thread=False)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.executescript(_SCHEMA)
            row = conn.execute("SELECT value FROM kv WHERE key='schema'").fetchone()
            if row is None:
                conn.execute("INSERT INTO kv VALUES ('schema', ?)", (str(SCHEMA_VERSION),))
            elif int(row[0]) != SCHEMA_VERSION:
                raise JournalError(f"{path}: bot state schema {row[0]} is not {SCHEMA_VERSION}; "
                                   "move the file aside to start fresh")
            else:  # a write now, so a read-only file is refused here and not when the state is first saved
                conn.execute("UPDATE kv SET value = value WHERE key='schema'")
        except sqlite3.DatabaseError as exc:
            raise JournalError(f"{path}: the bot state file is unusable: {exc}") from None
        return cls(conn, path, **kwargs)

    def close(self) -> None:
        if self._conn is not None:
            self.flush()
            self._conn.close()
            self._conn = None  # type: ignore[assignment]  # closed: any later use is a programming error

    def __enter__(self) -> "BotState":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # --- key/value ----------------------------------------------------------------------------------
    def get(self, key: str, default: Any = None) -> Any:
        row = self._conn.execute("SELECT value FROM kv WHERE key=?", (key,)).fetchone()
        return json.loads(row[0]) if row else default

    def put(self, key: str, value: Any) -> None:
        self._conn.execute("INSERT OR REPLACE INTO kv VALUES (?, ?)", (key, json.dumps(value)))

    def bot_id(self) -> str:
        """This state file's bot: a random id made once, part of every client order id it sends."""
        value = self.get("bot_id")
        if not isinstance(value, str) or not (value.isascii() and value.isalnum()):
            value = secrets.token_hex(4)
            self.put("bot_id", value)
        return value

    def risk_state(self) -> dict | None:
        return self.get("risk")

    def save_risk(self, data: dict) -> None:
        self.put("risk", data)

    # --- ledger -------------------------------------------------------------------------------------
    def load_ledger(self) -> Ledger:
        """Everything the ledger needs to continue where the last run stopped."""
        ledger = Ledger()
        for t, pos, cost, realized, fees, volume, fills, max_abs in self._conn.execute("SELECT * FROM positions"):
            ledger.books[t] = TickerBook(Decimal(pos), Decimal(cost), Decimal(realized), Decimal(fees),
                                         Decimal(volume), fills, Decimal(max_abs))
        for oid, t, side, px, rem, filled, tag, cid in self._conn.execute("SELECT * FROM orders"):
            ledger.orders[oid] = OrderRecord(oid, t, BookSide(side), Decimal(px), Decimal(rem), Decimal(filled),
                                             tag, cid)
        ledger.seen = self.fill_keys()
        daily = self.get("daily")
        if daily:
            ledger.day = date.fromisoformat(daily["day"])
            ledger.realized_today = Decimal(daily["realized_today"])
        last = self.get("last_fill_ts")
        ledger.last_fill_ts = _dt(last) if last else None
        return ledger

    def record_fill(self, fill: BotFill, ledger: Ledger) -> None:
        """Persist one applied fill with the position and order it changed, atomically."""
        tb = ledger.book(fill.ticker)
        with self._tx() as c:
            c.execute("INSERT OR IGNORE INTO fills VALUES (?,?,?,?,?,?,?,?,?)",
                      (fill.key, fill.order_id, fill.ticker, fill.book_side.value, str(fill.yes_price),
                       str(fill.count), str(fill.fee), _iso(fill.ts), fill.source))
            self._write_book(c, fill.ticker, tb)
            order = ledger.orders.get(fill.order_id)
            if order is None:
                c.execute("DELETE FROM orders WHERE order_id=?", (fill.order_id,))
            else:
                self._write_order(c, order)
            self._write_daily(c, ledger)

    def save_positions(self, ledger: Ledger) -> None:
        with self._tx() as c:
            for t, tb in ledger.books.items():
                self._write_book(c, t, tb)
            self._write_daily(c, ledger)

    def save_order(self, order: OrderRecord) -> None:
        with self._tx() as c:
            self._write_order(c, order)

    def remove_order(self, order_id: str) -> None:
        self._conn.execute("DELETE FROM orders WHERE order_id=?", (order_id,))

    def replace_orders(self, orders: Iterable[OrderRecord]) -> None:
        with self._tx() as c:
            c.execute("DELETE FROM orders")
            for o in orders:
                self._write_order(c, o)

    def known_orders(self) -> list[OrderRecord]:
        return list(self.load_orders().values())

    def load_orders(self) -> dict[str, OrderRecord]:
        out = {}
        for oid, t, side, px, rem, filled, tag, cid in self._conn.execute("SELECT * FROM orders"):
            out[oid] = OrderRecord(oid, t, BookSide(side), Decimal(px), Decimal(rem), Decimal(filled), tag, cid)
        return out

    def fill_keys(self) -> set[str]:
        return {row[0] for row in self._conn.execute("SELECT key FROM fills")}

    def fills(self) -> list[BotFill]:
        rows = self._conn.execute("SELECT * FROM fills ORDER BY ts, key").fetchall()
        return [BotFill(k, oid, t, BookSide(s), Decimal(p), Decimal(n), Decimal(f), _dt(ts), src)
                for k, oid, t, s, p, n, f, ts, src in rows]

    def prune_fills(self, now: datetime, last_fill_ts: datetime | None) -> int:
        """Forget processed fills older than the daily P&L window (yesterday's UTC midnight), and never one within
        an hour of the newest processed fill (reconciliation asks the exchange from there, and dedups by key).
        Positions keep their totals; only the per-fill rows go.  Returns how many rows were removed."""
        day_start = datetime.combine(now.astimezone(timezone.utc).date(), datetime.min.time(), timezone.utc)
        before = day_start - timedelta(days=1)
        if last_fill_ts is not None:
            before = min(before, last_fill_ts - timedelta(hours=1))
        # ISO-8601 UTC strings with one offset sort as times do
        cur = self._conn.execute("DELETE FROM fills WHERE ts < ?", (_iso(before),))
        return cur.rowcount

    @staticmethod
    def _write_book(c: sqlite3.Connection, ticker: str, tb: TickerBook) -> None:
        c.execute("INSERT OR REPLACE INTO positions VALUES (?,?,?,?,?,?,?,?)",
                  (ticker, str(tb.position), str(tb.cost), str(tb.realized), str(tb.fees), str(tb.volume),
                   tb.fills, str(tb.max_abs_position)))

    @staticmethod
    def _write_order(c: sqlite3.Connection, o: OrderRecord) -> None:
        c.execute("INSERT OR REPLACE INTO orders VALUES (?,?,?,?,?,?,?,?)",
                  (o.order_id, o.ticker, o.book_side.value, str(o.yes_price), str(o.remaining), str(o.filled),
                   o.tag, o.client_order_id))

    def _write_daily(self, c: sqlite3.Connection, ledger: Ledger) -> None:
        if ledger.day is not None:
            c.execute("INSERT OR REPLACE INTO kv VALUES ('daily', ?)",
                      (json.dumps({"day": ledger.day.isoformat(), "realized_today": str(ledger.realized_today)}),))
        if ledger.last_fill_ts is not None:
            c.execute("INSERT OR REPLACE INTO kv VALUES ('last_fill_ts', ?)", (json.dumps(_iso(ledger.last_fill_ts)),))

    # --- logs ---------------------------------------------------------------------------------------
    def log_event(self, ts: datetime, kind: str, message: str, data: dict | None = None) -> None:
        """A risk denial, a state change, a reconciliation finding, a reload: kept (bounded) with its reason."""
        self._conn.execute("INSERT INTO events (ts, kind, message, data) VALUES (?,?,?,?)",
                           (_iso(ts), kind, message, json.dumps(data or {}, default=str)))

    def events(self, limit: int = 100, kinds: Iterable[str] | None = None) -> list[dict]:
        sql, args = "SELECT id, ts, kind, message, data FROM events", []
        kinds = list(kinds or ())
        if kinds:
            sql += f" WHERE kind IN ({','.join('?' * len(kinds))})"
            args = kinds
        rows = self._conn.execute(sql + " ORDER BY id DESC LIMIT ?", (*args, limit)).fetchall()
        return [{"id": i, "ts": ts, "kind": k, "message": m, "data": json.loads(d)}
                for i, ts, k, m, d in reversed(rows)]

    def log_decision(self, ts: datetime, ticker: str, inputs: dict, targets: list, actions: list) -> None:
        self._pending_decisions.append((_iso(ts), ticker, json.dumps(inputs, default=str),
                                        json.dumps(targets, default=str), json.dumps(actions, default=str)))

    def decisions(self, limit: int = 100) -> list[dict]:
        self.flush()
        rows = self._conn.execute("SELECT id, ts, ticker, inputs, targets, actions FROM decisions "
                                  "ORDER BY id DESC LIMIT ?", (limit,)).fetchall()
        return [{"id": i, "ts": ts, "ticker": t, "inputs": json.loads(a), "targets": json.loads(b),
                 "actions": json.loads(c)} for i, ts, t, a, b, c in reversed(rows)]

    def flush(self) -> None:
        """Write buffered decision rows and trim both logs to their bounds."""
        if self._conn is None:
            return
        with self._tx() as c:
            if self._pending_decisions:
                c.executemany("INSERT INTO decisions (ts, ticker, inputs, targets, actions) VALUES (?,?,?,?,?)",
                              self._pending_decisions)
                self._pending_decisions.clear()
            c.execute("DELETE FROM decisions WHERE id <= (SELECT MAX(id) FROM decisions) - ?", (self.max_decisions,))
            c.execute("DELETE FROM events WHERE id <= (SELECT MAX(id) FROM events) - ?", (self.max_events,))

    # --- plumbing -----------------------------------------------------------------------------------
    def _tx(self):
        return _Tx(self._conn)


class _Tx:
    def __init__(self, conn: sqlite3.Connection):
        self.conn = conn

    def __enter__(self) -> sqlite3.Connection:
        self.conn.execute("BEGIN IMMEDIATE")
        return self.conn

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.conn.execute("COMMIT")
        else:
            self.conn.execute("ROLLBACK")


def state_path(env_data_dir: Path) -> Path:
    return Path(env_data_dir) / FILE_NAME
