"""The bot's state service: the one writer of the bot's facts, over the storage port (`store.botstate.BotStore`).

What survives a restart: the fills the bot processed (in the order it applied them) and the adjustments that forced
a position to the exchange's figure, from which positions and P&L are derived again; the working orders the bot owns
(their size and what was taken off; filled and remaining derive from the fills); what fills pruned from the store
contributed (a carried lot state per market and cost method); the risk engine's state (a HALTED bot stays halted
until `kalshi auto resume`); and bounded logs: risk events and a decision log (inputs, targets and actions per tick).

The store keeps the facts and computes nothing; this service does the rest: loading the ledger (carried states,
then every fill replayed), the prune policy (what may go) and the fold of pruned fills into the carried state with
`trading.pnl.LotBook`, handed to the store to write in one transaction with the deletion.
"""

from __future__ import annotations

import logging
import secrets
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any, Collection, Iterable

from kalshi_trading.auto.ledger import BotFill, Ledger, OrderRecord, TickerStats
from kalshi_trading.store.botstate import (
    BotStore, CarriedLot, CarriedState, CarriedStats, CostMethod, Decision, Json, StoredFill,
)
from kalshi_trading.trading.pnl import BookCarry, LotBook

log = logging.getLogger(__name__)

PRUNE_MARGIN = timedelta(hours=1)  # never prune a fill this close to the newest processed one


def _book_carry(c: CarriedState) -> BookCarry:
    return BookCarry(c.ticker, c.position, tuple(c.lots), c.realized, c.fees)


def _carried(method: CostMethod, c: BookCarry) -> CarriedState:
    return CarriedState(method, c.ticker, c.position, tuple(CarriedLot(*lot) for lot in c.lots), c.realized, c.fees)


class BotState:
    """The bot's durable state.  One writer (the running bot); `kalshi auto status/resume/kill` use it briefly."""

    def __init__(self, store: BotStore):
        self.store = store

    @property
    def location(self) -> str:
        """Where the state lives (a file path with SQLite), for messages and `kalshi auto status`."""
        return self.store.location

    def schema_version(self) -> int:
        return self.store.schema_version()

    def close(self) -> None:
        self.store.close()

    def __enter__(self) -> "BotState":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- key/value ----------------------------------------------------------------------------------
    def get(self, key: str, default: Json = None) -> Json:
        value = self.store.get(key)
        return default if value is None else value

    def put(self, key: str, value: Json) -> None:
        self.store.put(key, value)

    def text(self, key: str) -> str | None:
        """A text value (None when absent, or not text)."""
        value = self.store.get(key)
        return value if isinstance(value, str) else None

    def texts(self, key: str) -> list[str]:
        """A list of texts (empty when absent, or not one)."""
        value = self.store.get(key)
        return [v for v in value if isinstance(v, str)] if isinstance(value, list) else []

    def bot_id(self) -> str:
        """This state's bot: a random id made once, part of every client order id it sends."""
        value = self.get("bot_id")
        if not isinstance(value, str) or not (value.isascii() and value.isalnum()):
            value = secrets.token_hex(4)
            self.put("bot_id", value)
        return value

    def risk_state(self) -> dict[str, Any] | None:
        value = self.get("risk")
        return value if isinstance(value, dict) else None

    def save_risk(self, data: dict[str, Any]) -> None:
        self.put("risk", data)

    # --- the ledger's facts -------------------------------------------------------------------------
    def load_ledger(self, method: str = "avg") -> Ledger:
        """The bot's state as the last run left it: carried lot states, then every fill and adjustment replayed
        in the order the bot applied them, the working orders with their fills (P&L by `method`)."""
        ledger = Ledger(self, method=method)
        for carry in self.store.carried():
            if carry.method == method:
                ledger.lots.resume(_book_carry(carry))
                ledger.stats.setdefault(carry.ticker, TickerStats())
        for s in self.store.carried_stats():
            ledger.stats[s.ticker] = TickerStats(s.fills, s.volume, s.max_abs_position)
        ledger.orders = {o.order_id: OrderRecord.of(o) for o in self.store.orders()}
        for stored in self.store.fills():
            if stored.folded:
                ledger.remember(stored.fill)
            else:
                ledger.replay(stored.fill)
        folded_today = self.get("folded_today")
        if isinstance(folded_today, dict):
            ledger.folded_today = (date.fromisoformat(folded_today["day"]), Decimal(folded_today["net"]))
        return ledger

    def write_fill(self, fill: BotFill, ends_order: str | None = None) -> None:
        """Persist one fill (or adjustment), and the end of the order it completes, atomically."""
        self.store.write_fill(fill, ends_order)

    def save_order(self, order: OrderRecord) -> None:
        self.store.save_order(order.fact())

    def remove_order(self, order_id: str) -> None:
        self.store.remove_order(order_id)

    def replace_orders(self, orders: Iterable[OrderRecord]) -> None:
        self.store.replace_orders(o.fact() for o in orders)

    def known_orders(self) -> list[OrderRecord]:
        return list(self.load_orders().values())

    def load_orders(self) -> dict[str, OrderRecord]:
        """The working orders, each with the fills applied to it (so filled and remaining derive)."""
        orders = {o.order_id: OrderRecord.of(o) for o in self.store.orders()}
        for stored in self.store.fills():
            order = orders.get(stored.fill.order_id)
            if order is not None:
                order.fills.append(stored.fill)
        return orders

    def fill_keys(self) -> set[str]:
        return {f.key for f in self.fills()}

    def fills(self) -> list[BotFill]:
        """The processed fills still stored, in the order they were applied (adjustments excluded)."""
        return [s.fill for s in self.store.fills() if not s.fill.is_adjustment]

    def adjustments(self) -> list[BotFill]:
        """The position adjustments (forced to the exchange's figure) still stored, oldest first."""
        return [s.fill for s in self.store.fills() if s.fill.is_adjustment]

    def prune_fills(self, now: datetime, last_fill_ts: datetime | None,
                    keep_orders: Collection[str] = ()) -> list[str]:
        """Forget processed fills older than the daily P&L window (yesterday's UTC midnight), and never one within
        an hour of the newest processed fill (reconciliation asks the exchange from there, and dedups by key) nor
        one of a working order (its filled count derives from them).  Only a leading run in application order
        goes, folded into the carried lot state (both P&L methods) in the same transaction, so positions and P&L
        come back exactly.  Returns the keys removed (none when another process pruned meanwhile)."""
        day_start = datetime.combine(now.astimezone(timezone.utc).date(), datetime.min.time(), timezone.utc)
        before = day_start - timedelta(days=1)
        if last_fill_ts is not None:
            before = min(before, last_fill_ts - PRUNE_MARGIN)
        prefix: list[StoredFill] = []
        for stored in self.store.fills():
            if stored.fill.ts >= before or stored.fill.order_id in keep_orders:
                break
            prefix.append(stored)
        if not prefix:
            return []
        carried, stats = self._fold([s.fill for s in prefix if not s.folded])
        if not self.store.prune(prefix[-1].seq, len(prefix), carried, stats):
            log.warning("bot state %s: fills were pruned by another process meanwhile; not pruned here",
                        self.location)
            return []
        return [s.fill.key for s in prefix if not s.fill.is_adjustment]

    def _fold(self, fills: list[BotFill]) -> tuple[list[CarriedState], list[CarriedStats]]:
        """The carried lot states and activity totals of the markets of `fills` once these (in order) are added."""
        tickers = sorted({f.ticker for f in fills})
        if not tickers:
            return [], []
        before = [c for c in self.store.carried() if c.ticker in tickers]
        carried: list[CarriedState] = []
        for method in CostMethod:
            book = LotBook(method.value, keep_lots=False)
            for c in before:
                if c.method is method:
                    book.resume(_book_carry(c))
            book.apply_fills(f.as_fill() for f in fills)
            carried += [_carried(method, book.carry(t)) for t in tickers]
        stats = {s.ticker: TickerStats(s.fills, s.volume, s.max_abs_position)
                 for s in self.store.carried_stats() if s.ticker in tickers}
        position = {c.ticker: Decimal(c.position).scaleb(-2) for c in carried if c.method is CostMethod.AVG}
        for f in fills:  # positions before these fills: the carry just made less what they added
            position[f.ticker] -= f.signed
        for f in fills:
            s = stats.setdefault(f.ticker, TickerStats())
            position[f.ticker] += f.signed
            s.max_abs_position = max(s.max_abs_position, abs(position[f.ticker]))
            if not f.is_adjustment:
                s.fills += 1
                s.volume += f.count
        return carried, [CarriedStats(t, s.fills, s.volume, s.max_abs_position) for t, s in stats.items()]

    # --- logs ---------------------------------------------------------------------------------------
    def log_event(self, ts: datetime, kind: str, message: str, data: dict[str, Any] | None = None) -> None:
        """A risk denial, a state change, a reconciliation finding, a reload: kept (bounded) with its reason."""
        self.store.log_event(ts, kind, message, data)

    def events(self, limit: int = 100, kinds: Iterable[str] | None = None) -> list[dict[str, Any]]:
        """The newest `limit` events, oldest first, as JSON-ready dicts (`kalshi auto status` shows them)."""
        return [{"id": e.id, "ts": e.ts.isoformat(), "kind": e.kind, "message": e.message, "data": e.data}
                for e in self.store.events(limit, list(kinds or ()))]

    def log_decision(self, ts: datetime, ticker: str, inputs: dict[str, Any], targets: list[Any],
                     actions: list[Any]) -> None:
        self.store.log_decision(ts, ticker, inputs, targets, actions)

    def decisions(self, limit: int = 100) -> list[dict[str, Any]]:
        return [_decision(d) for d in self.store.decisions(limit)]

    def flush(self) -> None:
        """Write buffered decision rows and trim both logs to their bounds."""
        self.store.flush()


def _decision(d: Decision) -> dict[str, Any]:
    return {"id": d.id, "ts": d.ts.isoformat(), "ticker": d.ticker, "inputs": d.inputs, "targets": d.targets,
            "actions": d.actions}
