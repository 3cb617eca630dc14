"""The bot state in PostgreSQL: the `bot_*` tables of the environment's schema (schema.py).

It implements `store.botstate.BotStore` (the contract is there); this docstring says how.  Values are exact
`numeric` and `timestamptz`.  Several bots share the tables: every row names its bot (`bot` column, in every
key and index), and `bots` lists the names whose state was opened.  A fill's `seq` comes from an identity
sequence, which never hands a number out twice (not even after a prune empties the table).  Writes commit at
once; decision rows are buffered and written in one transaction per flush, which also trims both of the bot's
logs to their bounds.  Any failure of the server is a `JournalError` naming the store (URL masked); so is any
use after `close()`.
"""

from __future__ import annotations

import json
import logging
from datetime import datetime
from typing import Any, Iterable, Sequence

from kalshi_trading.errors import JournalError
from kalshi_trading.models import BookSide
from kalshi_trading.store.base import DEFAULT_BOT
from kalshi_trading.store.botstate import (
    RESERVED_KEYS, BotEvent, BotFill, BotStore, CarriedLot, CarriedState, CarriedStats, CostMethod, Decision,
    FillSource, Json, LogBounds, StoredFill, StoredOrder,
)
from kalshi_trading.store.postgres.codec import aware
from kalshi_trading.store.postgres.db import Database
from kalshi_trading.store.postgres.schema import META, VERSION_KEY

log = logging.getLogger(__name__)

_FILL_COLUMNS = "key, order_id, ticker, book_side, yes_price, count, fee, ts, source"
_INSERT_FILL = (f"INSERT INTO bot_fills (bot, {_FILL_COLUMNS}) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s) "
                "ON CONFLICT (bot, key) DO NOTHING")
_ORDER_COLUMNS = "order_id, ticker, book_side, yes_price, count, cancelled, tag, client_order_id"
_SAVE_ORDER = (f"INSERT INTO bot_orders (bot, {_ORDER_COLUMNS}) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s) "
               "ON CONFLICT (bot, order_id) DO UPDATE SET ticker = EXCLUDED.ticker, book_side = EXCLUDED.book_side, "
               "yes_price = EXCLUDED.yes_price, count = EXCLUDED.count, cancelled = EXCLUDED.cancelled, "
               "tag = EXCLUDED.tag, client_order_id = EXCLUDED.client_order_id")
_SAVE_CARRY = ("INSERT INTO bot_carry (bot, method, ticker, position, lots, realized, fees) "
               "VALUES (%s, %s, %s, %s, %s, %s, %s) ON CONFLICT (bot, method, ticker) DO UPDATE SET "
               "position = EXCLUDED.position, lots = EXCLUDED.lots, realized = EXCLUDED.realized, fees = EXCLUDED.fees")
_SAVE_STATS = ("INSERT INTO bot_carry_stats (bot, ticker, fills, volume, max_abs) VALUES (%s, %s, %s, %s, %s) "
               "ON CONFLICT (bot, ticker) DO UPDATE SET fills = EXCLUDED.fills, volume = EXCLUDED.volume, "
               "max_abs = EXCLUDED.max_abs")
_DecisionRow = tuple[datetime, str, str, str, str]


def _fill(row: Sequence[Any]) -> BotFill:
    key, oid, t, side, px, n, fee, ts, source = row
    return BotFill(key, oid, t, BookSide(side), px, n, fee, ts, FillSource(source))


def _order_row(o: StoredOrder) -> tuple[Any, ...]:
    return (o.order_id, o.ticker, BookSide(o.book_side).value, o.yes_price, o.count, o.cancelled, o.tag,
            o.client_order_id)


def _carry_row(c: CarriedState) -> tuple[Any, ...]:
    lots = [[n, cost, None if t is None else aware(t).isoformat(), fee] for n, cost, t, fee in c.lots]
    return (CostMethod(c.method).value, c.ticker, c.position, json.dumps(lots), c.realized, c.fees)


def _carry(method: str, ticker: str, position: int, lots: Any, realized: int, fees: int) -> CarriedState:
    parsed = tuple(CarriedLot(int(n), int(cost), None if t is None else datetime.fromisoformat(t), int(fee))
                   for n, cost, t, fee in lots)
    return CarriedState(CostMethod(method), ticker, int(position), parsed, int(realized), int(fees))


class PostgresBotState:
    """The state of the bot named `bot` in one environment's schema, over the store's connection pool (the
    store names it in `bots` when it opens it)."""

    def __init__(self, db: Database, bounds: LogBounds | None = None, *, bot: str = DEFAULT_BOT):
        self._db = db
        self.bot = bot
        self.bounds = bounds or LogBounds()
        self._pending: list[_DecisionRow] = []
        self._closed = False

    @property
    def location(self) -> str:
        return self._db.where if self.bot == DEFAULT_BOT else f"{self._db.where}, bot {self.bot}"

    @property
    def closed(self) -> bool:
        return self._closed

    def _live(self) -> Database:
        if self._closed:
            raise JournalError(f"{self.location}: the bot state is closed")
        return self._db

    def schema_version(self) -> int:
        rows = self._live().rows(f"SELECT value FROM {META} WHERE key = %s", (VERSION_KEY,))
        return int(rows[0][0])

    def close(self) -> None:
        if not self._closed:
            try:
                self.flush()
            finally:
                self._closed = True

    def __enter__(self) -> "PostgresBotState":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- key/value ----------------------------------------------------------------------------------
    def get(self, key: str) -> Json:
        rows = self._live().rows("SELECT value FROM bot_kv WHERE bot = %s AND key = %s", (self.bot, key),
                                 doing="reading the bot state")
        return json.loads(rows[0][0]) if rows else None

    def keys(self) -> list[str]:
        rows = self._live().rows("SELECT key FROM bot_kv WHERE bot = %s ORDER BY key", (self.bot,),
                                 doing="reading the bot state")
        return [key for (key,) in rows if key not in RESERVED_KEYS]

    def put(self, key: str, value: Json) -> None:
        if key in RESERVED_KEYS:
            raise ValueError(f"bot state key {key!r} belongs to the store")
        text = json.dumps(value)
        with self._live().transaction(doing="writing the bot state") as conn:
            conn.execute("INSERT INTO bot_kv (bot, key, value) VALUES (%s, %s, %s) ON CONFLICT (bot, key) "
                         "DO UPDATE SET value = EXCLUDED.value", (self.bot, key, text))

    # --- fills --------------------------------------------------------------------------------------
    def write_fill(self, fill: BotFill, ends_order: str | None = None) -> bool:
        row = (self.bot, fill.key, fill.order_id, fill.ticker, BookSide(fill.book_side).value, fill.yes_price,
               fill.count, fill.fee, aware(fill.ts), FillSource(fill.source).value)
        with self._live().transaction(doing="writing a fill") as conn:
            new = conn.execute(_INSERT_FILL, row).rowcount > 0
            if ends_order is not None:
                conn.execute("DELETE FROM bot_orders WHERE bot = %s AND order_id = %s", (self.bot, ends_order))
        return new

    def fills(self) -> list[StoredFill]:
        rows = self._live().rows(f"SELECT seq, {_FILL_COLUMNS}, folded FROM bot_fills WHERE bot = %s ORDER BY seq",
                                 (self.bot,), doing="reading fills")
        return [StoredFill(row[0], _fill(row[1:-1]), bool(row[-1])) for row in rows]

    def last_fill(self) -> BotFill | None:
        rows = self._live().rows(f"SELECT {_FILL_COLUMNS} FROM bot_fills WHERE bot = %s AND source <> %s "
                                 "ORDER BY ts DESC, seq DESC LIMIT 1", (self.bot, FillSource.ADJUSTMENT.value))
        return _fill(rows[0]) if rows else None

    # --- orders -------------------------------------------------------------------------------------
    def save_order(self, order: StoredOrder) -> None:
        with self._live().transaction(doing="saving an order") as conn:
            conn.execute(_SAVE_ORDER, (self.bot, *_order_row(order)))

    def remove_order(self, order_id: str) -> None:
        with self._live().transaction(doing="removing an order") as conn:
            conn.execute("DELETE FROM bot_orders WHERE bot = %s AND order_id = %s", (self.bot, order_id))

    def replace_orders(self, orders: Iterable[StoredOrder]) -> None:
        with self._live().transaction(doing="replacing the orders") as conn:
            conn.execute("DELETE FROM bot_orders WHERE bot = %s", (self.bot,))
            with conn.cursor() as cursor:
                cursor.executemany(_SAVE_ORDER, ((self.bot, *_order_row(o)) for o in orders))

    def orders(self) -> list[StoredOrder]:
        rows = self._live().rows(f"SELECT {_ORDER_COLUMNS} FROM bot_orders WHERE bot = %s ORDER BY order_id",
                                 (self.bot,))
        return [StoredOrder(oid, t, BookSide(side), px, count, cancelled, tag, cid)
                for oid, t, side, px, count, cancelled, tag, cid in rows]

    # --- carried state ------------------------------------------------------------------------------
    def carried(self) -> list[CarriedState]:
        rows = self._live().rows("SELECT method, ticker, position, lots, realized, fees FROM bot_carry "
                                 "WHERE bot = %s ORDER BY method, ticker", (self.bot,))
        return [_carry(*row) for row in rows]

    def carried_stats(self) -> list[CarriedStats]:
        rows = self._live().rows("SELECT ticker, fills, volume, max_abs FROM bot_carry_stats WHERE bot = %s "
                                 "ORDER BY ticker", (self.bot,))
        return [CarriedStats(t, int(n), v, m) for t, n, v, m in rows]

    def prune(self, through_seq: int, count: int, carried: Iterable[CarriedState],
              stats: Iterable[CarriedStats]) -> bool:
        with self._live().transaction(doing="pruning fills") as conn:
            conn.execute("LOCK TABLE bot_fills IN SHARE ROW EXCLUSIVE MODE")  # no fill comes or goes meanwhile
            held = conn.execute("SELECT count(*) FROM bot_fills WHERE bot = %s AND seq <= %s",
                                (self.bot, through_seq)).fetchone()
            if held is None or held[0] != count:
                return False  # another process pruned (some of) them: the fold was computed over other fills
            conn.execute("DELETE FROM bot_fills WHERE bot = %s AND seq <= %s", (self.bot, through_seq))
            with conn.cursor() as cursor:
                cursor.executemany(_SAVE_CARRY, ((self.bot, *_carry_row(c)) for c in carried))
                cursor.executemany(_SAVE_STATS, ((self.bot, s.ticker, s.fills, s.volume, s.max_abs_position)
                                                 for s in stats))
        return True

    # --- logs ---------------------------------------------------------------------------------------
    def log_event(self, ts: datetime, kind: str, message: str, data: dict[str, Any] | None = None) -> None:
        row = (self.bot, aware(ts), kind, message, json.dumps(data or {}, default=str))
        with self._live().transaction(doing="logging an event") as conn:
            conn.execute("INSERT INTO bot_events (bot, ts, kind, message, data) VALUES (%s, %s, %s, %s, %s)", row)

    def events(self, limit: int = 100, kinds: Sequence[str] | None = None) -> list[BotEvent]:
        query = "SELECT id, ts, kind, message, data FROM bot_events WHERE bot = %s"
        params: list[Any] = [self.bot]
        if kinds:
            query += " AND kind = ANY(%s)"
            params.append(list(kinds))
        rows = self._live().rows(query + " ORDER BY id DESC LIMIT %s", (*params, limit))
        return [BotEvent(i, ts, k, m, json.loads(d)) for i, ts, k, m, d in reversed(rows)]

    def log_decision(self, ts: datetime, ticker: str, inputs: dict[str, Any], targets: list[Any],
                     actions: list[Any]) -> None:
        self._pending.append((aware(ts), ticker, json.dumps(inputs, default=str), json.dumps(targets, default=str),
                              json.dumps(actions, default=str)))
        if len(self._pending) > self.bounds.decisions:  # the server is away: a flush would keep only these anyway
            del self._pending[:-self.bounds.decisions]

    def decisions(self, limit: int = 100) -> list[Decision]:
        self.flush()
        rows = self._live().rows("SELECT id, ts, ticker, inputs, targets, actions FROM bot_decisions WHERE bot = %s "
                                 "ORDER BY id DESC LIMIT %s", (self.bot, limit))
        return [Decision(i, ts, t, json.loads(a), json.loads(b), json.loads(c))
                for i, ts, t, a, b, c in reversed(rows)]

    def flush(self) -> None:
        if self._closed:
            return  # closed: the close flushed
        with self._db.transaction(doing="writing decisions") as conn:
            if self._pending:
                with conn.cursor() as cursor:
                    cursor.executemany("INSERT INTO bot_decisions (bot, ts, ticker, inputs, targets, actions) "
                                       "VALUES (%s, %s, %s, %s, %s, %s)", [(self.bot, *row) for row in self._pending])
            for table, bound in (("bot_decisions", self.bounds.decisions), ("bot_events", self.bounds.events)):
                conn.execute(f"DELETE FROM {table} WHERE bot = %s AND id <= "
                             f"(SELECT max(id) FROM {table} WHERE bot = %s) - %s", (self.bot, self.bot, bound))
        self._pending.clear()


def _is_a_bot_store(state: PostgresBotState) -> BotStore:
    return state  # mypy checks here that the adapter implements the whole port
