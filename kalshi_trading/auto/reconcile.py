"""Reconciliation with the exchange, which is the source of truth: at start and periodically.

1. Fills since the last processed one (by key, so a fill seen on the feed is not counted twice); the bot's
   fills fetched are journalled (the journal ignores ones it holds).
2. Resting orders on the bot's markets: known ones get the exchange's price and size; ones the bot no longer has
   on the exchange are dropped; unknown ones are adopted or cancelled (`on_unknown`).
3. Positions: where the bot's figure differs from the exchange's, the exchange's wins, recorded as an explicit
   adjustment (at the last fill price seen there, else the market's mark; see `Ledger.adjust`) and logged.

The bot owns its markets: every fill on a market it trades counts as its own.  All state changes go through the
`Ledger`, which persists them; this module only decides.

At start (`reconcile_start`) the bot's orders on markets this run does not trade are cancelled first:
the ones its state knows and the ones carrying its client order id tag (sent just before a crash, never
recorded), whatever `on_start` says.  Their fills still count (they were the bot's), and a position
the bot holds on a market it no longer trades is reported, not forgotten.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Callable, Collection, Iterable, Mapping

from kalshi_trading.auto.exchange import ExchangePort
from kalshi_trading.auto.ledger import BotFill, FillSource, Ledger, OrderRecord, fill_key, order_from
from kalshi_trading.auto.state import BotState
from kalshi_trading.models import BookSide, Fill, Order
from kalshi_trading.money import ZERO
from kalshi_trading.trading.executor import OrderRef

log = logging.getLogger(__name__)

ON_START = ("cancel", "adopt")
TAG = "kbot"


def order_tag(bot_id: str) -> str:
    """The client order id prefix of one bot's orders (`bot_id`: its state file's), by which a restart
    recognises orders that reached the exchange but not the state file."""
    return f"{TAG}-{bot_id}-"


def new_client_order_id(tag: str) -> str:
    """A fresh client order id carrying `tag` (single use, as the exchange requires)."""
    return tag + uuid.uuid4().hex


def tagged(order: Order, tag: str) -> bool:
    """Whether `order` was sent by the bot whose tag is `tag` (no tag: none is)."""
    return bool(tag) and order.client_order_id.startswith(tag)


@dataclass
class ReconcileResult:
    new_fills: list[BotFill] = field(default_factory=list)
    adopted: list[str] = field(default_factory=list)
    cancelled: list[str] = field(default_factory=list)
    dropped: list[str] = field(default_factory=list)
    corrected: dict[str, tuple[str, str]] = field(default_factory=dict)  # ticker -> (ours, exchange)
    retired: dict[str, list[str]] = field(default_factory=dict)  # ticker not traded -> order ids cancelled
    untraded: dict[str, str] = field(default_factory=dict)  # ticker not traded -> the bot's position there
    journalled: set[str] = field(default_factory=set)  # keys of the bot's fills fetched (and journalled)

    @property
    def changed(self) -> bool:
        return bool(self.new_fills or self.adopted or self.cancelled or self.dropped or self.corrected
                    or self.retired or self.untraded)

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
        if self.retired:
            n = sum(len(ids) for ids in self.retired.values())
            parts.append(f"cancelled {n} orders on markets not traded this run ({', '.join(sorted(self.retired))})")
        for t, (ours, theirs) in self.corrected.items():
            parts.append(f"{t} position {ours} -> {theirs} (exchange)")
        for t, pos in sorted(self.untraded.items()):
            parts.append(f"still holding {pos} on {t} (not traded this run)")
        return ", ".join(parts) or "in step"


def bot_fill(f: Fill, source: FillSource, default_ts: datetime) -> BotFill:
    return BotFill(fill_key(f.trade_id, f.fill_id, f.order_id), f.order_id, f.ticker, BookSide(f.book_side),
                   f.yes_price, f.count, f.fee, f.created_time or default_ts, source)


def record_from_order(o: Order, tag: str = "adopted") -> OrderRecord:
    """An exchange order as a working order of the bot (its fills attach as they are applied)."""
    return order_from(o.order_id, o.ticker, BookSide(o.book_side), o.yes_price, o.fill_count, o.remaining_count,
                      tag, o.client_order_id)


def reconcile(port: ExchangePort, ledger: Ledger, state: BotState, tickers: Iterable[str],
              now: Callable[[], datetime], *, on_unknown: str = "cancel", source: FillSource = FillSource.REST,
              fills_only_on_tickers: bool = True, suspects: dict[str, tuple[Decimal, Decimal]] | None = None,
              marks: Mapping[str, Decimal] | None = None, foreign: Collection[str] = ()) -> ReconcileResult:
    """Bring `ledger` (which persists what changes) in line with the exchange for the bot's `tickers`.

    `suspects` (periodic runs): a position differing from the exchange's is corrected only when the
    same difference was already seen by the previous run, so a fill landing between the reads does not
    cause a false correction.  At start (`None`) differences are corrected at once.  `marks`: prices for
    adjustments on markets with no fill in this run.  `foreign`: markets another bot sharing the account
    trades now (their position is that bot's: never corrected here).  `state` takes the reconciliation event.
    """
    ts = now()
    result = _reconcile(port, ledger, set(tickers), ts, on_unknown=on_unknown, source=source,
                        fills_only_on_tickers=fills_only_on_tickers, suspects=suspects, marks=marks or {},
                        foreign=foreign)
    _record(state, ts, result)
    return result


def _reconcile(port: ExchangePort, ledger: Ledger, tickers: set[str], ts: datetime, *,
               on_unknown: str, source: FillSource = FillSource.REST, fills_only_on_tickers: bool = True,
               suspects: dict[str, tuple[Decimal, Decimal]] | None = None, bot_orders: Collection[str] = (),
               marks: Mapping[str, Decimal], foreign: Collection[str] = ()) -> ReconcileResult:
    """`reconcile` without the event; `bot_orders`: ids of the bot's orders its ledger does not hold
    (their fills count wherever they are)."""
    if on_unknown not in ON_START:
        raise ValueError(f"on_unknown must be one of {ON_START}")
    result = ReconcileResult()
    fills = _fills(port, ledger, tickers, ts, result, since=ledger.last_fill_ts, source=source,
                   fills_only_on_tickers=fills_only_on_tickers, bot_orders=bot_orders)
    _orders(port, ledger, tickers, result, on_unknown)
    _positions(port, ledger, tickers, ts, result, fills, suspects, marks, foreign)
    return result


def catch_up_fills(port: ExchangePort, ledger: Ledger, tickers: Iterable[str], ts: datetime,
                   since: datetime) -> ReconcileResult:
    """Step 1 alone, from `since`: the fills the bot has not seen are applied, and its fills are journalled (the
    loop journals feed fills this way, from their REST records, so the journal holds exactly what a sync would)."""
    result = ReconcileResult()
    _fills(port, ledger, set(tickers), ts, result, since=since, source=FillSource.REST, fills_only_on_tickers=True,
           bot_orders=())
    return result


def _fills(port: ExchangePort, ledger: Ledger, tickers: set[str], ts: datetime, result: ReconcileResult, *,
           since: datetime | None, source: FillSource, fills_only_on_tickers: bool,
           bot_orders: Collection[str]) -> list[Fill]:
    """Step 1: apply the fills the bot has not seen; journal every fill of the bot fetched.  Returns them."""
    fetched = sorted(port.fills_since(since), key=lambda f: (f.created_time or ts, f.fill_id))
    mine = [f for f in fetched if not fills_only_on_tickers or f.ticker in tickers or f.order_id in ledger.orders
            or f.order_id in bot_orders]
    for f in mine:
        bf = bot_fill(f, source, ts)
        if ledger.apply_fill(bf):
            result.new_fills.append(bf)
        result.journalled.add(bf.key)
    port.record_fills(mine)
    return mine


def _orders(port: ExchangePort, ledger: Ledger, tickers: set[str], result: ReconcileResult,
            on_unknown: str) -> None:
    """Step 2: working orders against the exchange's resting ones."""
    resting = {o.order_id: o for o in port.resting_orders(sorted(tickers | {o.ticker for o in ledger.orders.values()}))}
    for oid in list(ledger.orders):
        o = resting.get(oid)
        if o is None:
            ledger.drop(oid)
            result.dropped.append(oid)
            continue
        rec = ledger.orders[oid]
        if (rec.yes_price, rec.remaining) != (o.yes_price, o.remaining_count):
            ledger.amended(oid, o.yes_price, o.fill_count, o.remaining_count)
    unknown = [o for oid, o in resting.items() if oid not in ledger.orders and o.ticker in tickers]
    if unknown and on_unknown == "adopt":
        for o in unknown:
            ledger.add_order(record_from_order(o))
            result.adopted.append(o.order_id)
    elif unknown:
        port.cancel_orders(OrderRef.of(o) for o in unknown)
        result.cancelled.extend(o.order_id for o in unknown)


def _positions(port: ExchangePort, ledger: Ledger, tickers: set[str], ts: datetime, result: ReconcileResult,
               fills: list[Fill], suspects: dict[str, tuple[Decimal, Decimal]] | None,
               marks: Mapping[str, Decimal], foreign: Collection[str] = ()) -> None:
    """Step 3: a position differing from the exchange's is forced to it by an explicit adjustment (not on a
    market another bot trades: the account's position there is that bot's)."""
    exchange = port.positions()
    seen_before = dict(suspects) if suspects is not None else None
    if suspects is not None:
        suspects.clear()
    for t in sorted(tickers | (set(ledger.tickers()) - set(foreign))):
        theirs = exchange.get(t, ZERO)
        ours = ledger.position(t)
        if ours == theirs:
            continue
        if suspects is not None and seen_before is not None and seen_before.get(t) != (ours, theirs):
            suspects[t] = (ours, theirs)
            continue
        price = _last_price(fills, t)
        ledger.adjust(t, theirs, price if price is not None else marks.get(t), ts)
        result.corrected[t] = (str(ours), str(theirs))


def _record(state: BotState, ts: datetime, result: ReconcileResult) -> None:
    """The reconciliation event in the state file and the log, when anything changed."""
    if result.changed:
        state.log_event(ts, "reconcile", result.summary(), {
            "fills": len(result.new_fills), "adopted": result.adopted, "cancelled": result.cancelled,
            "dropped": result.dropped, "corrected": result.corrected, "retired": result.retired,
            "untraded": result.untraded})
        log.info("reconciled with the exchange: %s", result.summary())
    if result.untraded:
        log.warning("positions on markets this run does not trade (kept, not managed): %s",
                    ", ".join(f"{t} {pos}" for t, pos in sorted(result.untraded.items())))


def _last_price(fills: list[Fill], ticker: str) -> Decimal | None:
    for f in reversed(fills):
        if f.ticker == ticker:
            return f.yes_price
    return None


def reconcile_start(port: ExchangePort, ledger: Ledger, state: BotState, tickers: Iterable[str],
                    now: Callable[[], datetime], *, on_unknown: str = "cancel", tag: str = "",
                    recent_orders: Iterable[Order] = (), marks: Mapping[str, Decimal] | None = None,
                    foreign: Collection[str] = ()) -> ReconcileResult:
    """The start-up reconciliation: over every market the bot has orders on, not only this run's.

    1. The bot's resting orders on markets this run does not trade (known to its state, or carrying
       its client order id `tag`) are cancelled whatever `on_unknown` says: nothing would manage them.
    2. `reconcile` for this run's markets, also counting the fills of those orders and of the tagged
       ones among `recent_orders` (the orders since the last run started, finished ones included).
    3. Positions the bot holds on markets it does not trade are kept and reported (`untraded`).
    """
    tickers = set(tickers)
    ts = now()
    retired = _retire(port, ledger, tickers, tag)
    retired_ids = {oid for ids in retired.values() for oid in ids}
    bot_orders = retired_ids | {o.order_id for o in recent_orders if tagged(o, tag)}
    result = _reconcile(port, ledger, tickers, ts, on_unknown=on_unknown, source=FillSource.STARTUP,
                        bot_orders=bot_orders, marks=marks or {}, foreign=foreign)
    result.dropped = [oid for oid in result.dropped if oid not in retired_ids]
    result.retired = retired
    result.untraded = {t: str(pos) for t in ledger.tickers() if t not in tickers and (pos := ledger.position(t))}
    _record(state, ts, result)
    return result


def _retire(port: ExchangePort, ledger: Ledger, tickers: set[str], tag: str) -> dict[str, list[str]]:
    """Cancel the bot's resting orders on markets outside `tickers`; returns {ticker: [order ids]}.

    Known orders stay in the ledger until the exchange stops listing them as resting (the next steps
    drop them), so one whose cancel did not take is still the bot's and is cancelled again at exit.
    """
    stray = [o for o in port.resting_orders(None)
             if o.ticker not in tickers and (o.order_id in ledger.orders or tagged(o, tag))]
    if stray:
        port.cancel_orders(OrderRef.of(o) for o in stray)
    out: dict[str, list[str]] = {}
    for o in stray:
        out.setdefault(o.ticker, []).append(o.order_id)
    return out
