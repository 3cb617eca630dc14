"""Bot state in SQLite (WAL) under the environment's data directory: `bot.sqlite`; the one writer of the bot's facts.

What survives a restart: the fills the bot processed (in the order it applied them) and the adjustments that forced
a position to the exchange's figure, from which positions and P&L are derived again; the working orders the bot owns
(their size and what was taken off; filled and remaining derive from the fills); what fills pruned from the file
contributed (a carried lot state per market); the risk engine's state (a HALTED bot stays halted until
`kalshi auto resume`); and bounded logs: risk events and a decision log (inputs, targets and actions per tick).
Orders and fills are committed at once (crash safety); decision rows are buffered and written in batches.
The file format and the upgrade of older files are in `state_schema`.
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
from typing import Any, Collection, Iterable

from kalshi_trading.auto.ledger import BotFill, FillSource, Ledger, OrderRecord, TickerStats
from kalshi_trading.auto.state_schema import METHODS, carry_from_row, carry_row, prepare
from kalshi_trading.errors import JournalError
from kalshi_trading.models import BookSide
from kalshi_trading.trading.pnl import LotBook

log = logging.getLogger(__name__)

FILE_NAME = "bot.sqlite"
MAX_DECISIONS = 5000
MAX_EVENTS = 2000
_FILL_COLUMNS = "key, order_id, ticker, book_side, yes_price, count, fee, ts, source"


def _iso(ts: datetime) -> str:
    return ts.astimezone(timezone.utc).isoformat()


def _dt(text: str) -> datetime:
    return datetime.fromisoformat(text)


def _fill(row: tuple) -> BotFill:
    key, oid, t, side, px, n, fee, ts, source = row
    return BotFill(key, oid, t, BookSide(side), Decimal(px), Decimal(n), Decimal(fee), _dt(ts), FillSource(source))


class BotState:
    """The state database.  One writer (the running bot); `kalshi auto status/resume/kill` open it briefly."""

    def __init__(self, conn: sqlite3.Connection, path: Path, *, max_decisions: int = MAX_DECISIONS,
                 max_events: int = MAX_EVENTS):
        self._conn: sqlite3.Connection | None = conn
        self.path = path
        self.max_decisions = max_decisions
        self.max_events = max_events
        self._pending_decisions: list[tuple] = []

    @classmethod
    def open(cls, path: Path, **kwargs: Any) -> "BotState":
        """Open (or create) the file; a file of an older version is upgraded in one transaction, a newer one is
        refused (JournalError, exit 3) and left untouched."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
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
        return cls(conn, path, **kwargs)

    @property
    def conn(self) -> sqlite3.Connection:
        if self._conn is None:
            raise JournalError(f"{self.path}: the bot state is closed", path=self.path)
        return self._conn

    def close(self) -> None:
        if self._conn is not None:
            self.flush()
            self._conn.close()
            self._conn = None  # closed: any later use is a programming error

    def __enter__(self) -> "BotState":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- key/value ----------------------------------------------------------------------------------
    def get(self, key: str, default: Any = None) -> Any:
        row = self.conn.execute("SELECT value FROM kv WHERE key=?", (key,)).fetchone()
        return json.loads(row[0]) if row else default

    def put(self, key: str, value: Any) -> None:
        self.conn.execute("INSERT OR REPLACE INTO kv VALUES (?, ?)", (key, json.dumps(value)))

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

    # --- the ledger's facts -------------------------------------------------------------------------
    def load_ledger(self, method: str = "avg") -> Ledger:
        """The bot's state as the last run left it: carried lot states, then every fill and adjustment replayed
        in the order the bot applied them, the working orders with their fills (P&L by `method`)."""
        ledger = Ledger(self, method=method)
        for t, pos, lots, realized, fees in self.conn.execute(
                "SELECT ticker, position, lots, realized, fees FROM carry WHERE method = ?", (method,)):
            ledger.lots.resume(carry_from_row(t, pos, lots, realized, fees))
            ledger.stats.setdefault(t, TickerStats())
        for t, fills, volume, max_abs in self.conn.execute("SELECT * FROM carry_stats"):
            ledger.stats[t] = TickerStats(fills, Decimal(volume), Decimal(max_abs))
        ledger.orders = self._orders()
        for *row, folded in self.conn.execute(f"SELECT {_FILL_COLUMNS}, folded FROM fills ORDER BY seq"):
            fill = _fill(tuple(row))
            if folded:
                ledger.remember(fill)
            else:
                ledger.replay(fill)
        folded_today = self.get("folded_today")
        if folded_today:
            ledger.folded_today = (date.fromisoformat(folded_today["day"]), Decimal(folded_today["net"]))
        return ledger

    def write_fill(self, fill: BotFill, ends_order: str | None = None) -> None:
        """Persist one fill (or adjustment), and the end of the order it completes, atomically."""
        with self._tx() as c:
            c.execute(f"INSERT OR IGNORE INTO fills ({_FILL_COLUMNS}) VALUES (?,?,?,?,?,?,?,?,?)",
                      (fill.key, fill.order_id, fill.ticker, fill.book_side.value, str(fill.yes_price),
                       str(fill.count), str(fill.fee), _iso(fill.ts), fill.source.value))
            if ends_order is not None:
                c.execute("DELETE FROM orders WHERE order_id=?", (ends_order,))

    def save_order(self, order: OrderRecord) -> None:
        self.conn.execute("INSERT OR REPLACE INTO orders VALUES (?,?,?,?,?,?,?,?)",
                          (order.order_id, order.ticker, order.book_side.value, str(order.yes_price),
                           str(order.count), str(order.cancelled), order.tag, order.client_order_id))

    def remove_order(self, order_id: str) -> None:
        self.conn.execute("DELETE FROM orders WHERE order_id=?", (order_id,))

    def replace_orders(self, orders: Iterable[OrderRecord]) -> None:
        with self._tx() as c:
            c.execute("DELETE FROM orders")
            for o in orders:
                c.execute("INSERT INTO orders VALUES (?,?,?,?,?,?,?,?)",
                          (o.order_id, o.ticker, o.book_side.value, str(o.yes_price), str(o.count),
                           str(o.cancelled), o.tag, o.client_order_id))

    def known_orders(self) -> list[OrderRecord]:
        return list(self.load_orders().values())

    def load_orders(self) -> dict[str, OrderRecord]:
        """The working orders, each with the fills applied to it (so filled and remaining derive)."""
        orders = self._orders()
        for row in self.conn.execute(f"SELECT {_FILL_COLUMNS} FROM fills WHERE order_id IN "
                                     "(SELECT order_id FROM orders) ORDER BY seq"):
            fill = _fill(row)
            orders[fill.order_id].fills.append(fill)
        return orders

    def _orders(self) -> dict[str, OrderRecord]:
        out = {}
        for oid, t, side, px, count, cancelled, tag, cid in self.conn.execute("SELECT * FROM orders"):
            out[oid] = OrderRecord(oid, t, BookSide(side), Decimal(px), Decimal(count), Decimal(cancelled), tag, cid)
        return out

    def fill_keys(self) -> set[str]:
        return {row[0] for row in self.conn.execute("SELECT key FROM fills WHERE source != 'adjustment'")}

    def fills(self) -> list[BotFill]:
        """The processed fills still in the file, in the order they were applied (adjustments excluded)."""
        rows = self.conn.execute(f"SELECT {_FILL_COLUMNS} FROM fills WHERE source != 'adjustment' ORDER BY seq")
        return [_fill(row) for row in rows]

    def adjustments(self) -> list[BotFill]:
        """The position adjustments (forced to the exchange's figure) still in the file, oldest first."""
        rows = self.conn.execute(f"SELECT {_FILL_COLUMNS} FROM fills WHERE source = 'adjustment' ORDER BY seq")
        return [_fill(row) for row in rows]

    def prune_fills(self, now: datetime, last_fill_ts: datetime | None,
                    keep_orders: Collection[str] = ()) -> list[str]:
        """Forget processed fills older than the daily P&L window (yesterday's UTC midnight), and never one within
        an hour of the newest processed fill (reconciliation asks the exchange from there, and dedups by key) nor
        one of a working order (its filled count derives from them).  Only a leading run in application order
        goes, folded into the carried lot state (both P&L methods) in the same transaction, so positions and P&L
        come back exactly.  Returns the keys removed."""
        day_start = datetime.combine(now.astimezone(timezone.utc).date(), datetime.min.time(), timezone.utc)
        before = day_start - timedelta(days=1)
        if last_fill_ts is not None:
            before = min(before, last_fill_ts - timedelta(hours=1))
        prefix: list[tuple[int, BotFill, int]] = []
        for seq, *row, folded in self.conn.execute(f"SELECT seq, {_FILL_COLUMNS}, folded FROM fills ORDER BY seq"):
            fill = _fill(tuple(row))
            if fill.ts >= before or fill.order_id in keep_orders:
                break
            prefix.append((seq, fill, folded))
        if not prefix:
            return []
        with self._tx() as c:
            self._fold(c, [fill for _, fill, folded in prefix if not folded])
            c.execute("DELETE FROM fills WHERE seq <= ?", (prefix[-1][0],))
        return [fill.key for _, fill, _ in prefix if not fill.is_adjustment]

    def _fold(self, c: sqlite3.Connection, fills: list[BotFill]) -> None:
        """Add `fills` (in order) to the carried lot states and activity totals of their markets."""
        tickers = sorted({f.ticker for f in fills})
        if not tickers:
            return
        marks = ",".join("?" * len(tickers))
        for method in METHODS:
            book = LotBook(method, keep_lots=False)
            sql = f"SELECT ticker, position, lots, realized, fees FROM carry WHERE method = ? AND ticker IN ({marks})"
            for t, pos, lots, realized, fees in c.execute(sql, (method, *tickers)):
                book.resume(carry_from_row(t, pos, lots, realized, fees))
            book.apply_fills(f.as_fill() for f in fills)
            c.executemany("INSERT OR REPLACE INTO carry VALUES (?,?,?,?,?,?)",
                          [carry_row(method, book.carry(t)) for t in tickers])
        stats = {t: TickerStats(n, Decimal(v), Decimal(m)) for t, n, v, m in
                 c.execute(f"SELECT * FROM carry_stats WHERE ticker IN ({marks})", tickers)}
        position = {t: Decimal(units).scaleb(-2) for t, units in c.execute(
            f"SELECT ticker, position FROM carry WHERE method = 'avg' AND ticker IN ({marks})", tickers)}
        for f in fills:  # positions before these fills: the carry just written less what they added
            position[f.ticker] = position.get(f.ticker, Decimal(0)) - f.signed
        for f in fills:
            s = stats.setdefault(f.ticker, TickerStats())
            position[f.ticker] += f.signed
            s.max_abs_position = max(s.max_abs_position, abs(position[f.ticker]))
            if not f.is_adjustment:
                s.fills += 1
                s.volume += f.count
        c.executemany("INSERT OR REPLACE INTO carry_stats VALUES (?,?,?,?)",
                      [(t, s.fills, str(s.volume), str(s.max_abs_position)) for t, s in stats.items()])

    # --- logs ---------------------------------------------------------------------------------------
    def log_event(self, ts: datetime, kind: str, message: str, data: dict | None = None) -> None:
        """A risk denial, a state change, a reconciliation finding, a reload: kept (bounded) with its reason."""
        self.conn.execute("INSERT INTO events (ts, kind, message, data) VALUES (?,?,?,?)",
                          (_iso(ts), kind, message, json.dumps(data or {}, default=str)))

    def events(self, limit: int = 100, kinds: Iterable[str] | None = None) -> list[dict]:
        sql, args = "SELECT id, ts, kind, message, data FROM events", []
        kinds = list(kinds or ())
        if kinds:
            sql += f" WHERE kind IN ({','.join('?' * len(kinds))})"
            args = kinds
        rows = self.conn.execute(sql + " ORDER BY id DESC LIMIT ?", (*args, limit)).fetchall()
        return [{"id": i, "ts": ts, "kind": k, "message": m, "data": json.loads(d)}
                for i, ts, k, m, d in reversed(rows)]

    def log_decision(self, ts: datetime, ticker: str, inputs: dict, targets: list, actions: list) -> None:
        self._pending_decisions.append((_iso(ts), ticker, json.dumps(inputs, default=str),
                                        json.dumps(targets, default=str), json.dumps(actions, default=str)))

    def decisions(self, limit: int = 100) -> list[dict]:
        self.flush()
        rows = self.conn.execute("SELECT id, ts, ticker, inputs, targets, actions FROM decisions "
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
    def _tx(self) -> "_Tx":
        return _Tx(self.conn)


class _Tx:
    def __init__(self, conn: sqlite3.Connection):
        self.conn = conn

    def __enter__(self) -> sqlite3.Connection:
        self.conn.execute("BEGIN IMMEDIATE")
        return self.conn

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        if exc_type is None:
            self.conn.execute("COMMIT")
        else:
            self.conn.execute("ROLLBACK")


def state_path(env_data_dir: Path) -> Path:
    return Path(env_data_dir) / FILE_NAME
