"""The SQLite bot state file's format (`bot.sqlite`): its schema, the version check, the upgrade of older files.

Versions (kept in the `kv` table under `schema`):
1. (up to this release) positions kept as running totals beside the fills; orders with stored `filled`/`remaining`;
   the day's P&L and the newest fill time stored.
2. Each fact once: fills (with their order of application, `seq`) and explicit position adjustments are the source
   of positions and P&L; orders keep their size (`count`) and what was taken off (`cancelled`); what pruned fills
   contributed is a carried lot state per market (`carry`, per P&L method) and activity totals (`carry_stats`).

A version-1 file is upgraded on first open, in one transaction: its positions become the carried state (its fills
stay, marked `folded`: already counted there, kept for de-duplication and their orders' filled counts), each order's
`count` is set so its remaining count is unchanged, and the day's stored P&L carries over for that day.  FIFO figures
for what happened before the upgrade are the average-cost ones (version 1 kept no lots).  A newer file is refused
and left untouched.
"""

from __future__ import annotations

import json
import sqlite3
from datetime import datetime
from decimal import Decimal
from pathlib import Path

from kalshi_trading.errors import JournalError
from kalshi_trading.money import COUNT_UNITS
from kalshi_trading.store.botstate import MONEY_UNITS, CarriedLot, CarriedState, CostMethod

SCHEMA_VERSION = 2
SEQ_FLOOR = "fills.seq_floor"  # kv: the highest fill seq ever pruned (so a seq is never reused)

TABLES = (
    "CREATE TABLE IF NOT EXISTS kv (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS orders (order_id TEXT PRIMARY KEY, ticker TEXT NOT NULL, book_side TEXT NOT NULL, "
    "yes_price TEXT NOT NULL, count TEXT NOT NULL, cancelled TEXT NOT NULL, tag TEXT NOT NULL, "
    "client_order_id TEXT NOT NULL)",
    # seq: the order the bot applied them in (replayed in that order, so P&L comes back exactly)
    "CREATE TABLE IF NOT EXISTS fills (seq INTEGER PRIMARY KEY, key TEXT NOT NULL UNIQUE, order_id TEXT NOT NULL, "
    "ticker TEXT NOT NULL, book_side TEXT NOT NULL, yes_price TEXT NOT NULL, count TEXT NOT NULL, fee TEXT NOT NULL, "
    "ts TEXT NOT NULL, source TEXT NOT NULL, folded INTEGER NOT NULL DEFAULT 0)",
    "CREATE INDEX IF NOT EXISTS fills_order ON fills (order_id)",
    # integer units: positions 1/100 contract, money 1e-6 $; lots JSON [[count, cost, acquired or null, fee], ...]
    "CREATE TABLE IF NOT EXISTS carry (method TEXT NOT NULL, ticker TEXT NOT NULL, position INTEGER NOT NULL, "
    "lots TEXT NOT NULL, realized INTEGER NOT NULL, fees INTEGER NOT NULL, PRIMARY KEY (method, ticker))",
    "CREATE TABLE IF NOT EXISTS carry_stats (ticker TEXT PRIMARY KEY, fills INTEGER NOT NULL, volume TEXT NOT NULL, "
    "max_abs TEXT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS events (id INTEGER PRIMARY KEY AUTOINCREMENT, ts TEXT NOT NULL, kind TEXT NOT NULL, "
    "message TEXT NOT NULL, data TEXT NOT NULL DEFAULT '{}')",
    "CREATE TABLE IF NOT EXISTS decisions (id INTEGER PRIMARY KEY AUTOINCREMENT, ts TEXT NOT NULL, "
    "ticker TEXT NOT NULL, inputs TEXT NOT NULL, targets TEXT NOT NULL, actions TEXT NOT NULL)",
)


def carry_row(carry: CarriedState) -> tuple[str, str, int, str, int, int]:
    """A carried lot state as a row of `carry`."""
    lots = [[n, cost, None if t is None else t.isoformat(), fee] for n, cost, t, fee in carry.lots]
    return (carry.method.value, carry.ticker, carry.position, json.dumps(lots), carry.realized, carry.fees)


def carry_from_row(method: str, ticker: str, position: int, lots: str, realized: int, fees: int) -> CarriedState:
    """A row of `carry` back to the carried lot state."""
    parsed = tuple(CarriedLot(int(n), int(cost), None if t is None else datetime.fromisoformat(t), int(fee))
                   for n, cost, t, fee in json.loads(lots))
    return CarriedState(CostMethod(method), ticker, int(position), parsed, int(realized), int(fees))


def prepare(conn: sqlite3.Connection, path: Path) -> int:
    """Create a new file's tables, or upgrade an older file; refuse a newer one.  Returns the version found."""
    conn.execute("BEGIN IMMEDIATE")  # another process may be opening it too: decide under the write lock
    try:
        version = _version(conn)
        if version is None:
            for ddl in TABLES:
                conn.execute(ddl)
            conn.execute("INSERT OR REPLACE INTO kv VALUES ('schema', ?)", (str(SCHEMA_VERSION),))
        elif version == 1:
            try:
                _migrate_1(conn)
            except (ArithmeticError, ValueError, KeyError, TypeError, sqlite3.IntegrityError) as exc:
                raise JournalError(f"{path}: cannot upgrade the bot state from schema 1 ({exc!r}); the file was "
                                   "left as it was (move it aside to start fresh)", path=path) from None
        elif version != SCHEMA_VERSION:
            newer = version > SCHEMA_VERSION
            raise JournalError(
                f"{path}: bot state schema {version} is {'newer than' if newer else 'unknown to'} this program "
                f"(it reads versions 1 to {SCHEMA_VERSION}); "
                + ("upgrade kalshi-trading" if newer else "move the file aside to start fresh")
                + "; the file was left untouched", path=path)
        else:  # a write now, so a read-only file is refused here and not when the state is first saved
            conn.execute("UPDATE kv SET value = value WHERE key='schema'")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")
    return SCHEMA_VERSION if version is None else version


def _version(conn: sqlite3.Connection) -> int | None:
    tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    if "kv" not in tables:
        return None
    row = conn.execute("SELECT value FROM kv WHERE key = 'schema'").fetchone()
    if row is None:
        return 1 if "positions" in tables else None
    try:
        return int(json.loads(row[0]))
    except (TypeError, ValueError):
        raise JournalError(f"bot state schema {row[0]!r} is not a version number; move the file aside") from None


def _units(value: str, scale: int) -> int:
    scaled = Decimal(value) * scale
    if scaled != scaled.to_integral_value():
        raise JournalError(f"bot state value {value} is finer than 1/{scale}; move the file aside")
    return int(scaled)


def _migrate_1(conn: sqlite3.Connection) -> None:
    """Version 1 -> 2, inside the caller's transaction (see the module docstring)."""
    conn.execute("ALTER TABLE fills RENAME TO fills_v1")
    conn.execute("ALTER TABLE orders RENAME TO orders_v1")
    for ddl in TABLES:
        conn.execute(ddl)
    conn.execute("INSERT INTO fills (key, order_id, ticker, book_side, yes_price, count, fee, ts, source, folded) "
                 "SELECT key, order_id, ticker, book_side, yes_price, count, fee, ts, source, 1 FROM fills_v1 "
                 "ORDER BY ts, key")
    filled: dict[str, Decimal] = {}
    for order_id, count in conn.execute("SELECT order_id, count FROM fills"):
        filled[order_id] = filled.get(order_id, Decimal(0)) + Decimal(count)
    for oid, t, side, px, remaining, _filled, tag, cid in conn.execute("SELECT * FROM orders_v1").fetchall():
        count = Decimal(remaining) + filled.get(oid, Decimal(0))  # remaining stays what it was
        conn.execute("INSERT INTO orders VALUES (?,?,?,?,?,?,?,?)", (oid, t, side, px, str(count), "0", tag, cid))
    for t, pos, cost, realized, fees, volume, fills, max_abs in conn.execute("SELECT * FROM positions").fetchall():
        for method in CostMethod:
            conn.execute("INSERT INTO carry VALUES (?,?,?,?,?,?)", carry_row(_carry_v1(method, t, pos, cost, realized,
                                                                                         fees)))
        conn.execute("INSERT INTO carry_stats VALUES (?,?,?,?)", (t, int(fills), volume, max_abs))
    daily = conn.execute("SELECT value FROM kv WHERE key = 'daily'").fetchone()
    if daily is not None:
        doc = json.loads(daily[0])
        conn.execute("INSERT OR REPLACE INTO kv VALUES ('folded_today', ?)",
                     (json.dumps({"day": doc["day"], "net": doc["realized_today"]}),))
    conn.execute("DELETE FROM kv WHERE key IN ('daily', 'last_fill_ts')")  # derived from the fills now
    for table in ("positions", "fills_v1", "orders_v1"):
        conn.execute(f"DROP TABLE {table}")
    conn.execute("INSERT OR REPLACE INTO kv VALUES ('schema', ?)", (str(SCHEMA_VERSION),))


def _carry_v1(method: CostMethod, ticker: str, pos: str, cost: str, realized: str, fees: str) -> CarriedState:
    """A version-1 running total as a carried lot state: one pooled lot of the side held (a short YES position
    of signed cost c is long NO at cost |position| + c)."""
    position = _units(pos, COUNT_UNITS)
    signed_cost = Decimal(cost)
    lot_cost = signed_cost if position > 0 else abs(Decimal(pos)) + signed_cost
    lots = (CarriedLot(abs(position), _units(str(lot_cost), MONEY_UNITS), None, 0),) if position else ()
    return CarriedState(method, ticker, position, lots, _units(realized, MONEY_UNITS), _units(fees, MONEY_UNITS))
