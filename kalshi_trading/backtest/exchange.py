"""The in-process exchange of a backtest: `SimulatedExchange` implements the loop's `ExchangePort` over the
recording's books and the queue model of `matching.py`.

Requests are answered at once, as the exchange's acknowledgement would be (a placement is resting, an amend has its
new price and size, a cancel took off what remained), and take effect on the book `latency` later, in the order
sent: a placement joins the queue then (a post-only order that would cross the book then is rejected, as the
exchange rejects it), an amend re-prices (a new price, or more size, goes to the back of the queue; less size at the
same price keeps its place, as the simulator does), a cancel leaves (fills before it arrives still count).  What
happens on the book comes back to the loop as the exchange's WebSocket would tell it: a `FillMsg` per fill, a
`UserOrderMsg` when the exchange cancels an order itself (a post-only order rejected on arrival, a market settled).
With no latency a placement arrives inside the call, so a crossing post-only order is refused by the call itself
(`RejectedError`, like the exchange's `invalid_order` / "post only cross") and an immediate-or-cancel order answers
with its fills.

Fees are the exchange's: `money.fill_fee` of the market's fee schedule, maker or taker, per fill.  A market that is
paused (deactivated) fills nothing and takes no orders; one determined or settled (lifecycle events) cancels our
orders, takes none, and its result is kept for the report's settlement.  Positions are the fills' (a settled market
keeps its position: the report settles it).
"""

from __future__ import annotations

import bisect
import heapq
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import Callable, Iterable, Iterator, Mapping, Sequence

from kalshi_trading.auto.exchange import Placed
from kalshi_trading.auto.ledger import OrderRecord
from kalshi_trading.auto.ports import Clock, MarketInfo
from kalshi_trading.auto.types import TargetOrder
from kalshi_trading.backtest.matching import Match, QueueBook, QueueModel, Resting
from kalshi_trading.errors import NotFoundError, RejectedError
from kalshi_trading.marketdata.book import LocalBook
from kalshi_trading.marketdata.events import FeedEvent, FillMsg, LifecycleEvent, LifecycleMsg, UserOrderMsg
from kalshi_trading.models import BookSide, Fill, Market, Order, OrderStatus, Side
from kalshi_trading.money import COUNT_UNITS, PRICE_UNITS, fill_fee
from kalshi_trading.trading.executor import OrderRef

log = logging.getLogger(__name__)

EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
US = timedelta(microseconds=1)
PENDING, RESTING, EXECUTED, CANCELED = "pending", "resting", "executed", "canceled"


def micros(ts: datetime) -> int:
    """An aware time as integer microseconds since the epoch (exact)."""
    return (ts - EPOCH) // US


def _units(value: Decimal, scale: int) -> int | None:
    scaled = value * scale
    return int(scaled) if scaled == scaled.to_integral_value() else None


@dataclass(eq=False)
class SimOrder:
    """One of our orders at the simulated exchange: what the bot was told (`ack_*`) and what the book has."""

    order_id: str
    client_order_id: str
    ticker: str
    bid: bool
    price: int
    remaining: int
    ioc: bool
    post_only: bool
    created: datetime
    status: str = PENDING
    filled: int = 0
    ack_price: int = 0
    ack_total: int = 0
    cancel_sent: bool = False
    resting: Resting | None = None

    @property
    def live(self) -> bool:
        """Still working as far as the bot was told (no cancel sent, not finished)."""
        return self.status in (PENDING, RESTING) and not self.cancel_sent


@dataclass
class ExchangeStats:
    """What the simulated exchange saw (sizes in contracts as exact Decimals in `as_dict`)."""

    place_requests: int = 0
    amend_requests: int = 0
    cancel_requests: int = 0
    rejected: int = 0  # refused by the call (latency 0: post-only crossing; any latency: grid, size, closed market)
    rejected_on_arrival: int = 0  # post-only orders (and amends) that would have crossed when they reached the book
    cancelled_by_exchange: int = 0  # settlement, rejection on arrival
    placed_units: int = 0  # size of the placements accepted, plus what amends added
    filled_units: int = 0
    maker_fills: int = 0
    taker_fills: int = 0
    trades_without_side: int = 0  # recorded trades whose taker side was not given (not used for fills)
    trades_while_stale: int = 0

    def as_dict(self) -> dict:
        out = {k: v for k, v in self.__dict__.items() if not k.endswith("_units")}
        out["placed_size"] = str(Decimal(self.placed_units) / COUNT_UNITS)
        out["filled_size"] = str(Decimal(self.filled_units) / COUNT_UNITS)
        return out


@dataclass(frozen=True)
class SettlementNote:
    """A market's result from its lifecycle events."""

    ticker: str
    result: str
    value: Decimal | None
    ts: datetime


class SimulatedExchange:
    """`ExchangePort` for a backtest (see the module docstring)."""

    def __init__(self, books: Mapping[str, LocalBook], clock: Clock, markets: Mapping[str, MarketInfo], *,
                 queue: QueueModel = QueueModel.CONSERVATIVE, latency: timedelta = timedelta(0),
                 post_only: bool = True, on_fill: Callable[[Fill], None] | None = None):
        self.books = books
        self.clock = clock
        self.markets = dict(markets)
        self.queue = queue
        self.latency_us = latency // US
        self.post_only = post_only
        self.on_fill = on_fill or (lambda fill: None)
        self.on_placed: Callable[[TargetOrder, str], None] | None = None  # told (target, id) of each accepted order
        self.stats = ExchangeStats()
        self.orders: dict[str, SimOrder] = {}
        self.fills: list[Fill] = []
        self.fill_times: list[int] = []  # microseconds of `fills`, for fills_since
        self.by_order: dict[str, list[Fill]] = {}
        self.positions_units: dict[str, int] = {}
        self.settlements: dict[str, SettlementNote] = {}
        self.paused: set[str] = set()
        self.outbox: list[FeedEvent] = []
        self.quoting: dict[str, list[int]] = {}  # ticker -> [our bids, our asks] on the book
        self.quote_log: list[tuple[int, str, bool]] = []  # (time us, ticker, quoted both sides) at each change
        self._queues: dict[str, QueueBook] = {}
        self._due: list[tuple[int, int, str, SimOrder, tuple]] = []
        self._seq = 0
        self._ids = 0

    # ---------------------------------------------------------------- time
    def now_us(self) -> int:
        return micros(self.clock.now())

    def next_due(self) -> int | None:
        """When the next request reaches the book (microseconds), if any is on its way."""
        return self._due[0][0] if self._due else None

    def process_due(self, now: int) -> None:
        """Every request due by `now` reaches the book, in the order sent."""
        due = self._due
        while due and due[0][0] <= now:
            _, _, kind, order, args = heapq.heappop(due)
            if kind == "place":
                self._arrive_place(order, sync=False)
            elif kind == "amend":
                self._arrive_amend(order, *args)
            else:
                self._arrive_cancel(order)

    def _send(self, kind: str, order: SimOrder, args: tuple = ()) -> bool:
        """Queue a request for the book; False when it arrives at once (no latency: the caller handles it)."""
        if self.latency_us <= 0:
            return False
        self._seq += 1
        heapq.heappush(self._due, (self.now_us() + self.latency_us, self._seq, kind, order, args))
        return True

    def queue_of(self, ticker: str) -> QueueBook:
        q = self._queues.get(ticker)
        if q is None:
            q = self._queues[ticker] = QueueBook(self.books[ticker], self.queue, self.now_us)
        return q

    # ---------------------------------------------------------------- ExchangePort: writes
    def place(self, target: TargetOrder, market: Market | None, ioc: bool) -> Placed:
        """Accept an order (checked as the exchange checks it); it reaches the book after the latency."""
        self.stats.place_requests += 1
        price, count = self._checked(target.ticker, target.yes_price, target.count)
        self._ids += 1
        order_id = f"bt-{self._ids:07d}"
        order = SimOrder(order_id, f"bt-coid-{self._ids:07d}", target.ticker, target.book_side is BookSide.BID,
                         price, count, ioc, self.post_only and not ioc, self.clock.now(), ack_price=price,
                         ack_total=count)
        self.orders[order_id] = order
        if self.on_placed is not None:  # as the live port does (the edge taker joins its decisions to fills by id)
            self.on_placed(target, order_id)
        if not self._send("place", order):
            self._arrive_place(order, sync=True)
            self.stats.placed_units += count
            status = order.status if order.status != PENDING else RESTING
            return Placed(order_id, order.client_order_id, _count(order.filled), _count(order.remaining), status)
        self.stats.placed_units += count
        return Placed(order_id, order.client_order_id, _count(0), _count(0 if ioc else count),
                      PENDING if ioc else RESTING)

    def amend(self, order: OrderRecord, target: TargetOrder, market: Market | None = None) -> Placed:
        """New price and total size (filled + remaining, the exchange's meaning); takes effect after the latency."""
        self.stats.amend_requests += 1
        o = self._known(order.order_id)
        price, _ = self._checked(o.ticker, target.yes_price, target.count)
        total = _units(order.filled + target.count, COUNT_UNITS) or 0
        if total <= o.filled:
            self.stats.rejected += 1
            raise RejectedError("count must exceed the filled count", status=400, code="invalid_order_size")
        self.stats.placed_units += max(0, total - o.ack_total)
        o.ack_price, o.ack_total = price, total
        if not self._send("amend", o, (price, total)):
            self._arrive_amend(o, price, total)
        remaining = o.remaining if o.status == RESTING else total - o.filled
        return Placed(o.order_id, o.client_order_id, _count(o.filled), _count(max(remaining, 0)),
                      RESTING if o.status in (RESTING, PENDING) else o.status)

    def decrease(self, order: OrderRecord, reduce_to: Decimal) -> Decimal:
        """Reduce the remaining size (an amend to less at the same price: it keeps its place); after the latency."""
        o = self._known(order.order_id)
        to = _units(reduce_to, COUNT_UNITS) or 0
        total = o.filled + min(to, max(o.ack_total - o.filled, 0))
        if total <= o.filled:
            self.cancel(order)
            return Decimal(0)
        o.ack_total = total
        if not self._send("amend", o, (o.ack_price, total)):
            self._arrive_amend(o, o.ack_price, total)
        return _count(total - o.filled)

    def cancel(self, order: OrderRecord) -> Decimal:
        """Cancel one order (it leaves the book after the latency); an order already gone counts as cancelled."""
        self.stats.cancel_requests += 1
        o = self.orders.get(order.order_id)
        if o is None or not o.live:
            return Decimal(0)
        o.cancel_sent = True
        left = o.remaining
        if not self._send("cancel", o):
            self._arrive_cancel(o)
        return _count(left)

    def cancel_orders(self, orders: Iterable[OrderRef]) -> int:
        n = 0
        for ref in orders:
            o = self.orders.get(ref.order_id)
            if o is not None and o.live:
                self.stats.cancel_requests += 1
                o.cancel_sent = True
                if not self._send("cancel", o):
                    self._arrive_cancel(o)
                n += 1
        return n

    def record_fills(self, fills: Sequence[Fill]) -> int:
        """No journal in a backtest: the fills stay here (`fills`)."""
        return 0

    # ---------------------------------------------------------------- ExchangePort: reads
    def resting_orders(self, tickers: Iterable[str] | None = None) -> list[Order]:
        """Our working orders as acknowledged (an order on its way counts; one with a cancel sent does not)."""
        wanted = None if tickers is None else set(tickers)
        return [self._order(o) for o in self.orders.values()
                if o.live and not o.ioc and (wanted is None or o.ticker in wanted)]

    def fills_since(self, ts: datetime | None) -> Iterator[Fill]:
        start = 0 if ts is None else bisect.bisect_left(self.fill_times, micros(ts) - 2_000_000)
        return iter(self.fills[start:])

    def order_fills(self, order_id: str) -> Iterator[Fill]:
        return iter(list(self.by_order.get(order_id, ())))

    def positions(self) -> dict[str, Decimal]:
        return {t: _count(n) for t, n in self.positions_units.items() if n}

    # ---------------------------------------------------------------- the recording
    def on_book(self, ticker: str) -> None:
        """The recorded book of `ticker` changed."""
        q = self._queues.get(ticker)
        if q is not None and q.orders and ticker not in self.paused:
            self._apply(q.on_book(), ticker)

    def on_trade(self, ticker: str, yes_price: Decimal, count: Decimal, taker_bid: bool | None) -> None:
        q = self._queues.get(ticker)
        if q is None or not q.orders or ticker in self.paused:
            return
        if taker_bid is None:
            self.stats.trades_without_side += 1
            return
        if q.book.stale:
            self.stats.trades_while_stale += 1
            return
        price = _units(yes_price, PRICE_UNITS)
        size = _units(count, COUNT_UNITS)
        if price is None or size is None:
            return
        self._apply(q.on_trade(price, size, taker_bid), ticker)

    def on_resync(self, ticker: str) -> None:
        q = self._queues.get(ticker)
        if q is None:
            return
        q.on_resync()
        for r in list(q.orders):  # an order that arrived on a stale book and crosses the fresh one
            o = self.orders[r.key]
            if o.post_only and q.crosses(r.bid, r.price):
                self._reject_on_arrival(o)

    def on_lifecycle(self, ev: LifecycleMsg) -> None:
        t = ev.ticker
        if t not in self.markets:
            return
        kind = ev.event_type
        if kind is LifecycleEvent.DEACTIVATED:
            self.paused.add(t)
        elif kind is LifecycleEvent.ACTIVATED:
            self.paused.discard(t)
        elif kind in (LifecycleEvent.DETERMINED, LifecycleEvent.SETTLED):
            self.paused.add(t)
            if ev.result and (t not in self.settlements or kind is LifecycleEvent.SETTLED):
                self.settlements[t] = SettlementNote(t, ev.result.lower(), ev.settlement_value, ev.ts)
            for o in list(self.orders.values()):
                if o.ticker == t and o.status in (PENDING, RESTING):
                    self._finish(o, CANCELED)
                    self.stats.cancelled_by_exchange += 1
                    self._tell(o, OrderStatus.CANCELED)

    # ---------------------------------------------------------------- arrivals
    def _arrive_place(self, o: SimOrder, sync: bool) -> None:
        if o.status != PENDING:
            return
        if o.ticker in self.paused:
            self._refuse(o, sync, RejectedError("market is not open for trading", status=400, code="market_closed"))
            return
        q = self.queue_of(o.ticker)
        if o.ioc:
            for price, n in q.take(o.bid, o.price, o.remaining):
                self._fill(o, n, price, taker=True)
            self._finish(o, EXECUTED if o.remaining == 0 else CANCELED)
            return
        if q.crosses(o.bid, o.price):
            if o.post_only:
                self._refuse(o, sync, RejectedError("post only order would cross the book", status=400,
                                                    code="invalid_order", details="post only cross"))
                return
            for price, n in q.take(o.bid, o.price, o.remaining):
                self._fill(o, n, price, taker=True)
            if o.remaining == 0:
                self._finish(o, EXECUTED)
                return
        o.status = RESTING
        o.resting = Resting(o.order_id, o.bid, o.price, o.remaining)
        q.join(o.resting)
        self._quote(o.ticker, o.bid, +1)

    def _arrive_amend(self, o: SimOrder, price: int, total: int) -> None:
        if o.status != RESTING or o.resting is None:
            return  # filled or cancelled meanwhile (the exchange would have answered 404)
        remaining = total - o.filled
        if remaining <= 0:
            return
        r = o.resting
        q = self.queue_of(o.ticker)
        if price == o.price and remaining <= o.remaining:  # less at the same price keeps its place
            o.remaining = r.remaining = remaining
            return
        if o.post_only and q.crosses(o.bid, price):
            self._reject_on_arrival(o)
            return
        q.leave(r)
        o.price, o.remaining = price, remaining
        o.resting = Resting(o.order_id, o.bid, price, remaining)
        q.join(o.resting)

    def _arrive_cancel(self, o: SimOrder) -> None:
        if o.status in (PENDING, RESTING):
            self._finish(o, CANCELED)

    def _refuse(self, o: SimOrder, sync: bool, error: RejectedError) -> None:
        """A placement the book refuses: the call raises it (no latency), or the exchange cancels the order."""
        if sync:
            o.status = CANCELED
            self.stats.rejected += 1
            raise error
        self._reject_on_arrival(o)

    def _reject_on_arrival(self, o: SimOrder) -> None:
        self._finish(o, CANCELED)
        self.stats.rejected_on_arrival += 1
        self.stats.cancelled_by_exchange += 1
        self._tell(o, OrderStatus.CANCELED)

    def _finish(self, o: SimOrder, status: str) -> None:
        was_resting = o.status == RESTING
        o.status = status
        if o.resting is not None:
            self.queue_of(o.ticker).leave(o.resting)
            o.resting = None
        if was_resting:
            self._quote(o.ticker, o.bid, -1)

    # ---------------------------------------------------------------- fills
    def _apply(self, matches: list[Match], ticker: str) -> None:
        for m in matches:
            o = self.orders[m.order.key]
            n = min(m.count, o.remaining)
            if n > 0 and o.status == RESTING:
                self._fill(o, n, m.price, m.taker)
                if o.remaining == 0:
                    self._finish(o, EXECUTED)

    def _fill(self, o: SimOrder, n: int, price: int, taker: bool) -> None:
        info = self.markets[o.ticker]
        count, yes_price = _count(n), Decimal(price) / PRICE_UNITS
        fee = fill_fee(count, yes_price, info.fee_type, taker, info.fee_multiplier)
        now = self.clock.now()
        self._ids += 1
        trade_id = f"bt-fill-{self._ids:07d}"
        side = BookSide.BID if o.bid else BookSide.ASK
        outcome = Side.YES if o.bid else Side.NO
        fill = Fill(trade_id, o.order_id, o.ticker, outcome, side, count, yes_price, taker, fee, now, trade_id)
        o.filled += n
        o.remaining -= n
        if o.resting is not None:
            o.resting.remaining = o.remaining
        position = self.positions_units.get(o.ticker, 0) + (n if o.bid else -n)
        self.positions_units[o.ticker] = position
        self.fills.append(fill)
        self.fill_times.append(micros(now))
        self.by_order.setdefault(o.order_id, []).append(fill)
        self.stats.filled_units += n
        if taker:
            self.stats.taker_fills += 1
        else:
            self.stats.maker_fills += 1
        self.outbox.append(FillMsg(o.ticker, trade_id, o.order_id, taker, outcome, side, yes_price, count, fee,
                                   _count(position), now, o.client_order_id))
        self.on_fill(fill)

    # ---------------------------------------------------------------- helpers
    def _checked(self, ticker: str, yes_price: Decimal, count: Decimal) -> tuple[int, int]:
        info = self.markets.get(ticker)
        if info is None:
            self.stats.rejected += 1
            raise NotFoundError("market not found", status=404, code="not_found", details=ticker)
        if ticker in self.paused:
            self.stats.rejected += 1
            raise RejectedError("market is not open for trading", status=400, code="market_closed")
        price = _units(yes_price, PRICE_UNITS)
        if price is None or not 0 < price < PRICE_UNITS or not info.grid.contains(yes_price):
            self.stats.rejected += 1
            raise RejectedError("price is not on the market's price grid", status=400, code="invalid_price",
                                details=str(yes_price))
        size = _units(count, COUNT_UNITS)
        if size is None or size <= 0:
            self.stats.rejected += 1
            raise RejectedError("count must be a positive multiple of 0.01", status=400, code="invalid_order_size")
        return price, size

    def _known(self, order_id: str) -> SimOrder:
        o = self.orders.get(order_id)
        if o is None or not o.live:
            raise NotFoundError("order is no longer resting", status=404, code="not_found", details=order_id)
        return o

    def _order(self, o: SimOrder) -> Order:
        remaining = max(o.ack_total - o.filled, 0)
        return Order(o.order_id, o.client_order_id, o.ticker, Side.YES if o.bid else Side.NO,
                     BookSide.BID if o.bid else BookSide.ASK, OrderStatus.RESTING, Decimal(o.ack_price) / PRICE_UNITS,
                     _count(o.filled), _count(remaining), _count(o.ack_total), created_time=o.created)

    def _tell(self, o: SimOrder, status: OrderStatus) -> None:
        self.outbox.append(UserOrderMsg(o.order_id, o.ticker, status, Side.YES if o.bid else Side.NO,
                                        BookSide.BID if o.bid else BookSide.ASK, Decimal(o.price) / PRICE_UNITS,
                                        _count(o.filled), _count(0), _count(o.filled + o.remaining),
                                        o.client_order_id, self.clock.now()))

    def _quote(self, ticker: str, bid: bool, change: int) -> None:
        counts = self.quoting.get(ticker)
        if counts is None:
            counts = self.quoting[ticker] = [0, 0]
        before = counts[0] > 0 and counts[1] > 0
        counts[0 if bid else 1] += change
        after = counts[0] > 0 and counts[1] > 0
        if before != after:
            self.quote_log.append((self.now_us(), ticker, after))


def _count(units: int) -> Decimal:
    return Decimal(units) / COUNT_UNITS
