"""Reconciliation with the exchange, which is the source of truth: at start and periodically.

1. Fills since the last processed one (by key, so a fill seen on the feed is not counted twice).
2. Resting orders on the bot's markets: known ones get the exchange's price and remaining size; ones the
   bot no longer has on the exchange are dropped; unknown ones are adopted or cancelled (`on_unknown`).
3. Positions: where the bot's figure differs from the exchange's, the exchange's wins (logged).

The bot owns its markets: every fill on a market it trades counts as its own.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Callable, Iterable

from kalshi_trading.auto.exchange import ExchangePort
from kalshi_trading.auto.ledger import BotFill, Ledger, OrderRecord, fill_key
from kalshi_trading.auto.state import BotState
from kalshi_trading.models import BookSide, Fill, Order
from kalshi_trading.money import ZERO

log = logging.getLogger(__name__)

ON_START = ("cancel", "adopt")


@dataclass
class ReconcileResult:
    new_fills: list[BotFill] = field(default_factory=list)
    adopted: list[str] = field(default_factory=list)
    cancelled: list[str] = field(default_factory=list)
    dropped: list[str] = field(default_factory=list)
    corrected: dict[str, tuple[str, str]] = field(default_factory=dict)  # ticker -> (ours, exchange)

    @property
    def changed(self) -> bool:
        return bool(self.new_fills or self.adopted or self.cancelled or self.dropped or self.corrected)

    def summary(self) -> str:
        parts = []
        if self.new_fills:
            parts.append(f"{len(self.new_fills)} fills")
        if self.adopted:
            parts.append(f"adopted {len(self.adopted)} orders")
        if self.cancelled:
            parts.append(f"cancelled {len(self.cancelled)} unknown orders")
        if self.dropped:
            parts.append(f"{len(self.dropped)} orders no longer resting")
        for t, (ours, theirs) in self.corrected.items():
            parts.append(f"{t} position {ours} -> {theirs} (exchange)")
        return ", ".join(parts) or "in step"


def bot_fill(f: Fill, source: str, default_ts: datetime) -> BotFill:
    return BotFill(fill_key(f.trade_id, f.fill_id, f.order_id), f.order_id, f.ticker, BookSide(f.book_side),
                   f.yes_price, f.count, f.fee, f.created_time or default_ts, source)


def record_from_order(o: Order, tag: str = "adopted") -> OrderRecord:
    return OrderRecord(o.order_id, o.ticker, BookSide(o.book_side), o.yes_price, o.remaining_count,
                       o.fill_count, tag, o.client_order_id)


def reconcile(port: ExchangePort, ledger: Ledger, state: BotState, tickers: Iterable[str],
              now: Callable[[], datetime], *, on_unknown: str = "cancel", source: str = "rest",
              fills_only_on_tickers: bool = True,
              suspects: dict[str, tuple[Decimal, Decimal]] | None = None) -> ReconcileResult:
    """Bring `ledger` (and the state file) in line with the exchange for the bot's `tickers`.

    `suspects` (periodic runs): a position differing from the exchange's is corrected only when the
    same difference was already seen by the previous run, so a fill landing between the reads does not
    cause a false correction.  At start (`None`) differences are corrected at once.
    """
    if on_unknown not in ON_START:
        raise ValueError(f"on_unknown must be one of {ON_START}")
    tickers = set(tickers)
    result = ReconcileResult()
    ts = now()
    # 1. fills
    fills = sorted(port.fills_since(ledger.last_fill_ts), key=lambda f: (f.created_time or ts, f.fill_id))
    for f in fills:
        if fills_only_on_tickers and f.ticker not in tickers and f.order_id not in ledger.orders:
            continue
        bf = bot_fill(f, source, ts)
        if ledger.apply_fill(bf):
            state.record_fill(bf, ledger)
            result.new_fills.append(bf)
    # 2. orders
    resting = {o.order_id: o for o in port.resting_orders(sorted(tickers | {o.ticker for o in ledger.orders.values()}))}
    for oid in list(ledger.orders):
        o = resting.get(oid)
        if o is None:
            del ledger.orders[oid]
            state.remove_order(oid)
            result.dropped.append(oid)
        else:
            rec = ledger.orders[oid]
            if (rec.yes_price, rec.remaining) != (o.yes_price, o.remaining_count):
                rec.yes_price, rec.remaining, rec.filled = o.yes_price, o.remaining_count, o.fill_count
                state.save_order(rec)
    unknown = [o for oid, o in resting.items() if oid not in ledger.orders and o.ticker in tickers]
    if unknown and on_unknown == "adopt":
        for o in unknown:
            rec = record_from_order(o)
            ledger.orders[o.order_id] = rec
            state.save_order(rec)
            result.adopted.append(o.order_id)
    elif unknown:
        port.cancel_orders((o.order_id, o.ticker) for o in unknown)
        result.cancelled.extend(o.order_id for o in unknown)
    # 3. positions
    exchange = port.positions()
    seen_before = dict(suspects) if suspects is not None else None
    if suspects is not None:
        suspects.clear()
    for t in tickers | set(ledger.books):
        theirs = exchange.get(t, ZERO)
        ours = ledger.position(t)
        if ours != theirs:
            if seen_before is not None and seen_before.get(t) != (ours, theirs):
                suspects[t] = (ours, theirs)
                continue
            price = _last_price(fills, t)
            ledger.set_position(t, theirs, price)
            result.corrected[t] = (str(ours), str(theirs))
    if result.corrected:
        state.save_positions(ledger)
    if result.changed:
        state.log_event(ts, "reconcile", result.summary(), {
            "fills": len(result.new_fills), "adopted": result.adopted, "cancelled": result.cancelled,
            "dropped": result.dropped, "corrected": result.corrected})
        log.info("reconciled with the exchange: %s", result.summary())
    return result


def _last_price(fills: list[Fill], ticker: str) -> Decimal | None:
    for f in reversed(fills):
        if f.ticker == ticker:
            return f.yes_price
    return None
