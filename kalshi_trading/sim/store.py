"""SQLite persistence of the whole exchange, so separate processes see one continuous exchange.

One key-value table of JSON documents (rewritten only when changed) and one table of finished
candle minutes (appended, read on demand).  Reservations and committed positions are derived
from the saved orders on load.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import threading
import time
from collections import deque
from pathlib import Path
from typing import Sequence

from kalshi_trading.sim.book import Book
from kalshi_trading.sim.catalogue import Event
from kalshi_trading.sim.clock import SimClock
from kalshi_trading.sim.engine import TRADES_KEPT, Engine
from kalshi_trading.sim.exchange import SimExchange
from kalshi_trading.sim.extras import Extras
from kalshi_trading.sim.groups import OrderGroup
from kalshi_trading.sim.market import Market
from kalshi_trading.sim.records import RESTING, Account, Fill, Order, Position, Settlement, Trade
from kalshi_trading.sim.world import World

log = logging.getLogger(__name__)

DB_NAME = "exchange.db"
SCHEMA = """
CREATE TABLE IF NOT EXISTS kv (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS candles (ticker TEXT NOT NULL, end_ts INTEGER NOT NULL, row TEXT NOT NULL,
                                    PRIMARY KEY (ticker, end_ts));
"""
_ORDER_FIELDS = ("order_id", "seq", "ticker", "side", "price", "initial", "remaining", "filled", "status",
                 "client_order_id", "tif", "stp", "post_only", "reduce_only", "expiration_ms", "created_ms",
                 "updated_ms", "taker_cost", "maker_cost", "taker_fees", "maker_fees", "reserved", "covered",
                 "order_group_id", "cancel_on_pause")
_POS_FIELDS = ("ticker", "pos", "cost", "total_traded", "traded_count", "realized", "fees", "updated_ms")


class Store:
    def __init__(self, directory: Path):
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self.path = self.directory / DB_NAME
        self._lock = threading.Lock()
        self._conn = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute("PRAGMA synchronous=NORMAL")
        self._conn.executescript(SCHEMA)
        self._saved: dict[str, str] = {}

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    def exists(self) -> bool:
        with self._lock:
            return self._conn.execute("SELECT 1 FROM kv WHERE key='meta'").fetchone() is not None

    def read(self) -> dict[str, str]:
        with self._lock:
            rows = dict(self._conn.execute("SELECT key, value FROM kv").fetchall())
        self._saved = dict(rows)
        return rows

    def write(self, docs: dict[str, str], candles: Sequence[tuple[str, int, list]] = ()) -> None:
        changed = {k: v for k, v in docs.items() if self._saved.get(k) != v}
        if not changed and not candles:
            return
        with self._lock:
            conn = self._conn
            conn.execute("BEGIN")
            conn.executemany("INSERT OR REPLACE INTO kv (key, value) VALUES (?, ?)", list(changed.items()))
            conn.executemany("INSERT OR REPLACE INTO candles (ticker, end_ts, row) VALUES (?, ?, ?)",
                             [(t, end, json.dumps(row)) for t, end, row in candles])
            conn.execute("COMMIT")
        self._saved.update(changed)

    def wipe(self) -> None:
        with self._lock:
            self._conn.execute("DELETE FROM kv")
            self._conn.execute("DELETE FROM candles")
        self._saved = {}

    def candles(self, ticker: str, start_s: int, end_s: int) -> list[tuple[int, list]]:
        with self._lock:
            rows = self._conn.execute(
                "SELECT end_ts, row FROM candles WHERE ticker=? AND end_ts>=? AND end_ts<=? ORDER BY end_ts",
                (ticker, start_s, end_s)).fetchall()
        return [(end, json.loads(row)) for end, row in rows]


# ---- exchange <-> documents --------------------------------------------------------------------


def dump(ex: SimExchange) -> dict[str, str]:
    """Snapshot the exchange as JSON documents (caller holds the exchange lock)."""
    engine = ex.engine
    accounts = []
    for a in engine.accounts.values():
        accounts.append({
            "account_id": a.account_id, "user_id": a.user_id, "key_id": a.key_id, "public_key_pem": a.public_key_pem,
            "cash": a.cash, "house": a.house, "client_ids": sorted(a.client_ids),
            "positions": [[getattr(p, f) for f in _POS_FIELDS] for p in a.positions.values()],
            "fills": [list(f) for f in a.fills], "settlements": [list(s) for s in a.settlements],
        })
    orders = [[o.account.account_id] + [getattr(o, f) for f in _ORDER_FIELDS]
              for o in engine.orders.values() if not o.account.house or o.status == RESTING]
    # clock_ms is the clock's reading, at or past every timestamp handed out (sim_ms lags it by up to a step);
    # wall_ms is the real time of that same reading, so the next process resumes the clock exactly there.
    wall = int(time.time() * 1000)
    meta = {"seed": ex.seed, "sim_ms": ex.sim_ms, "clock_ms": ex.clock.now_ms(), "wall_ms": wall,
            "counter": engine.counter, "id_prefix": engine.id_prefix, "participants_quoted": ex.participants.quoted}
    return {
        "meta": json.dumps(meta),
        "world": json.dumps(ex.world.to_state()),
        "events": _events_json(ex),
        "markets": json.dumps([m.to_state() for m in engine.markets.values()]),
        "accounts": json.dumps(accounts),
        "orders": json.dumps(orders),
        "trades": json.dumps({t: [list(x) for x in q] for t, q in engine.trades.items()}),
        "groups": json.dumps([g.to_state() for g in engine.groups.values()]),
        **ex.extras.docs(),
    }


def _events_json(ex: SimExchange) -> str:
    """The events document, made again only when an event was listed or dropped (events are frozen, and a day
    of 15-minute markets lists about a hundred of them, too many to serialise twice a second)."""
    events = ex.events
    key = (len(events), next(iter(events), None), next(reversed(events.keys()), None))
    if ex.saved_events is None or ex.saved_events[0] != key:
        ex.saved_events = (key, json.dumps([e.to_state() for e in events.values()]))
    return ex.saved_events[1]


def load(docs: dict[str, str], *, speed: float = 1.0, participants: bool = True, clock=None) -> SimExchange:
    """Rebuild an exchange; simulated time resumes where the clock stopped plus the wall time since (never
    earlier than any time the exchange already handed out, even if the wall clock went back)."""
    meta = json.loads(docs["meta"])
    if clock is None:
        gap_ms = max(0, int(time.time() * 1000) - meta["wall_ms"])
        clock = SimClock(max(meta["sim_ms"], meta.get("clock_ms", 0)) + gap_ms, speed=speed)
    engine = Engine(clock, id_prefix=meta["id_prefix"])
    engine.counter = meta["counter"]
    for data in json.loads(docs["markets"]):
        engine.add_market(Market.from_state(data))
    for data in json.loads(docs["accounts"]):
        account = Account(data["account_id"], data["user_id"], data["key_id"], data["public_key_pem"], data["cash"],
                          house=data["house"])
        account.client_ids = set(data["client_ids"])
        for row in data["positions"]:
            pos = Position(row[0])
            for name, value in zip(_POS_FIELDS[1:], row[1:], strict=True):
                setattr(pos, name, value)
            account.positions[pos.ticker] = pos
        account.fills = [Fill(*f) for f in data["fills"]]
        account.settlements = [Settlement(*s) for s in data["settlements"]]
        engine.add_account(account)
    live = []
    for row in json.loads(docs["orders"]):
        account = engine.accounts[row[0]]
        values = dict(zip(_ORDER_FIELDS, row[1:], strict=True))
        order = Order(values["order_id"], values["seq"], account, values["ticker"], values["side"], values["price"],
                      values["initial"], values["tif"], values["stp"], values["created_ms"])
        for name, value in values.items():
            setattr(order, name, value)
        engine.orders[order.order_id] = order
        if not account.house:
            account.orders.append(order)
        if order.status == RESTING and order.ticker in engine.books:
            live.append(order)
            account.reserved += order.reserved
            held = account.positions.get(order.ticker)
            if held is not None and order.covered:
                if order.side == "bid":
                    held.committed_no += order.covered
                else:
                    held.committed_yes += order.covered
    live.sort(key=lambda o: o.seq)
    for order in live:
        engine.books[order.ticker].add(order)
        if order.expiration_ms is not None:
            import heapq

            heapq.heappush(engine.expiries, (order.expiration_ms, order.seq, order))
    for ticker, rows in json.loads(docs["trades"]).items():
        if ticker in engine.markets:
            engine.trades[ticker] = deque((Trade(*r) for r in rows), maxlen=TRADES_KEPT)
    for gid, account_id, limit, fills, triggered in json.loads(docs.get("groups", "[]")):
        group = OrderGroup(gid, engine.accounts[account_id], limit)
        group.fills = deque(tuple(f) for f in fills)
        group.triggered = triggered
        engine.groups[gid] = group
    world = World.from_state(json.loads(docs["world"]))
    ex = SimExchange(clock, seed=meta["seed"], participants=participants, engine=engine, world=world,
                     sim_ms=meta["sim_ms"])
    ex.events = {e["event_ticker"]: Event.from_state(e) for e in json.loads(docs["events"])}
    ex.participants.quoted = {k: tuple(v) for k, v in meta.get("participants_quoted", {}).items()}
    ex.extras = Extras.load(docs, engine)
    return ex


def empty_books(engine: Engine) -> None:
    for ticker in engine.markets:
        engine.books[ticker] = Book(ticker)
