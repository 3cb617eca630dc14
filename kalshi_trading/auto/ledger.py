"""The bot's state in memory: its fills, its working orders, and what derives from them, owned by one object.

Facts, each stored once (and persisted through one writer, `auto.state.BotState`, in one transaction per change;
the fact types `BotFill` and `FillSource` are the storage port's, `store.botstate`):
- fills (from the feed, REST, or a start-up reconciliation), deduplicated by key (trade id + order id), and
  explicit adjustments (a position the exchange reports differently, forced to its figure: `FillSource.ADJUSTMENT`);
- working orders: their size as placed or amended (`count`, filled included) and what was taken off (`cancelled`).

Derived, never stored: positions and P&L (a `trading.pnl.LotBook` over the fills, average cost by default: the
exchange's method; FIFO on request), each order's `filled` (the sum of its fills) and `remaining`
(count - filled - cancelled), the newest fill time, and the day's realized P&L (the net effect of the fills executed
on the current UTC day).  Fills pruned from the store live on as a carried lot state (`BookCarry`).
"""

from __future__ import annotations

import uuid
from collections import deque
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from decimal import ROUND_HALF_EVEN, Decimal
from typing import TYPE_CHECKING, Iterable, Mapping

from kalshi_trading.auto.types import WorkingOrder
from kalshi_trading.models import BookSide
from kalshi_trading.money import ONE, ZERO
from kalshi_trading.store.botstate import BotFill, FillSource, StoredOrder
from kalshi_trading.trading.executor import OrderRef
from kalshi_trading.trading.pnl import LotBook, TickerPnl, unrealized

if TYPE_CHECKING:
    from kalshi_trading.auto.state import BotState

PRICE_STEP = Decimal("0.0001")  # the finest YES price the lot book accepts


def fill_key(trade_id: str | None, fill_id: str | None, order_id: str) -> str:
    return f"{trade_id or fill_id or ''}/{order_id}"


@dataclass
class OrderRecord:
    """A working order of the bot: its size facts and the fills applied to it (`filled`, `remaining` derive)."""

    order_id: str
    ticker: str
    book_side: BookSide
    yes_price: Decimal
    count: Decimal  # total size as placed or amended (or as the exchange last stated it), filled included
    cancelled: Decimal = ZERO  # taken off by decreases and by the cancel that ends it
    tag: str = ""
    client_order_id: str = ""
    fills: list[BotFill] = field(default_factory=list, compare=False)

    @property
    def filled(self) -> Decimal:
        return sum((f.count for f in self.fills), ZERO)

    @property
    def remaining(self) -> Decimal:
        return max(self.count - self.filled - self.cancelled, ZERO)

    @classmethod
    def of(cls, fact: StoredOrder) -> "OrderRecord":
        """A stored working order, its fills still to be applied."""
        return cls(fact.order_id, fact.ticker, fact.book_side, fact.yes_price, fact.count, fact.cancelled, fact.tag,
                   fact.client_order_id)

    def fact(self) -> StoredOrder:
        """What the store keeps of it (its fills are facts of their own)."""
        return StoredOrder(self.order_id, self.ticker, self.book_side, self.yes_price, self.count, self.cancelled,
                           self.tag, self.client_order_id)

    def view(self) -> WorkingOrder:
        return WorkingOrder(self.order_id, self.ticker, self.book_side, self.yes_price, self.remaining)

    def ref(self) -> OrderRef:
        return OrderRef(self.order_id, self.ticker, self.client_order_id, self.book_side)

    def stated(self, fill_count: Decimal, remaining: Decimal) -> None:
        """The exchange states the order's filled and remaining counts: size it so that `remaining` derives to
        the exchange's once its fills are all here (fills still on their way are not counted twice)."""
        self.count = max(fill_count, self.filled) + remaining + self.cancelled


@dataclass
class TickerStats:
    """Activity of one market over the state's whole history (carried when fills are pruned)."""

    fills: int = 0
    volume: Decimal = ZERO
    max_abs_position: Decimal = ZERO


class Ledger:
    """Positions, P&L, working orders and processed fills of one bot; every change persists through `store`."""

    def __init__(self, store: BotState | None = None, *, method: str = "avg"):
        self.store = store
        self.method = method
        self.lots = LotBook(method, keep_lots=False)
        self.orders: dict[str, OrderRecord] = {}
        self.seen: set[str] = set()
        self.stats: dict[str, TickerStats] = {}
        self.last_fill_ts: datetime | None = None
        self.day: date | None = None
        self.realized_today = ZERO  # net of fees: the fills executed on `day` (UTC), derived from `_effects`
        self.folded_today: tuple[date, Decimal] | None = None  # net P&L of `day` folded before an upgrade
        self._effects: deque[tuple[datetime, Decimal]] = deque()  # (fill time, net P&L effect), recent fills
        self._pnl: dict[str, TickerPnl] = {}  # per-market figures, dropped when a fill lands there

    # --- reads ----------------------------------------------------------------------------------------
    def pnl(self, ticker: str) -> TickerPnl:
        cached = self._pnl.get(ticker)
        if cached is None:
            cached = self._pnl[ticker] = self.lots.ticker_pnl(ticker, with_lots=False)
        return cached

    def tickers(self) -> list[str]:
        """Markets with any fill or carried state (old ones included): every one the lot book holds has stats."""
        return list(self.stats)

    def position(self, ticker: str) -> Decimal:
        return self.pnl(ticker).position

    def positions(self) -> dict[str, Decimal]:
        return {t: self.pnl(t).position for t in self.stats}

    def realized(self) -> Decimal:
        return sum((self.pnl(t).realized_pnl for t in self.tickers()), ZERO)

    def fees(self) -> Decimal:
        return sum((self.pnl(t).fees_paid for t in self.tickers()), ZERO)

    def ticker_unrealized(self, ticker: str, mark: Decimal | None) -> Decimal:
        p = self.pnl(ticker)
        if mark is None or p.position == 0:
            return ZERO
        return unrealized(p.position, p.cost_basis, mark)

    def unrealized(self, marks: Mapping[str, Decimal]) -> Decimal:
        return sum((self.ticker_unrealized(t, marks.get(t)) for t in self.stats), ZERO)

    def working(self) -> tuple[WorkingOrder, ...]:
        return tuple(o.view() for o in self.orders.values())

    def working_on(self, ticker: str) -> tuple[WorkingOrder, ...]:
        return tuple(o.view() for o in self.orders.values() if o.ticker == ticker)

    def stats_of(self, ticker: str) -> TickerStats:
        return self.stats.get(ticker) or TickerStats()

    # --- fills ----------------------------------------------------------------------------------------
    def apply_fill(self, fill: BotFill) -> bool:
        """Count a fill once (False if its key was already processed); an order it completes stops working.
        The fill (and the order it ends) is committed before memory changes."""
        if fill.key in self.seen:
            return False
        order = self.orders.get(fill.order_id)
        ends = order is not None and order.remaining - fill.count <= 0
        if self.store is not None:
            self.store.write_fill(fill, ends_order=fill.order_id if ends else None)
        self.replay(fill)
        if ends:
            del self.orders[fill.order_id]
        return True

    def replay(self, fill: BotFill) -> None:
        """Apply a fill to memory only (loading, or after it was persisted)."""
        t = fill.ticker
        before = self.pnl(t).net_pnl
        self.lots.apply_fill(fill.as_fill())
        self._pnl.pop(t, None)
        effect = self.pnl(t).net_pnl - before
        stats = self.stats.setdefault(t, TickerStats())
        if not fill.is_adjustment:
            stats.fills += 1
            stats.volume += fill.count
            self.seen.add(fill.key)
            if self.last_fill_ts is None or fill.ts > self.last_fill_ts:
                self.last_fill_ts = fill.ts
            order = self.orders.get(fill.order_id)
            if order is not None:
                order.fills.append(fill)
        stats.max_abs_position = max(stats.max_abs_position, abs(self.pnl(t).position))
        self._effects.append((fill.ts, effect))
        if self.day is None or fill.ts.astimezone(timezone.utc).date() >= self.day:
            self.realized_today += effect

    def remember(self, fill: BotFill) -> None:
        """A fill already inside the carried state (an upgraded file's): known for de-duplication, the newest
        fill time and its order's filled count; positions and P&L already include it."""
        self.seen.add(fill.key)
        if self.last_fill_ts is None or fill.ts > self.last_fill_ts:
            self.last_fill_ts = fill.ts
        order = self.orders.get(fill.order_id)
        if order is not None:
            order.fills.append(fill)

    def adjust(self, ticker: str, position: Decimal, price: Decimal | None, ts: datetime) -> list[BotFill]:
        """Force the position to the exchange's figure with explicit adjustment facts (zero-fee, at `price`).

        Without a price, the part that shrinks the position leaves at its average cost (no P&L) and a part that
        adds is carried at zero cost.  Returns the adjustments recorded (none when the position already agrees)."""
        ours = self.position(ticker)
        if ours == position:
            return []
        steps = [position]
        if ours != 0 and (position == 0 or (ours > 0) != (position > 0)):
            steps = [ZERO, position] if position != 0 else [ZERO]  # close, then open the other side
        made = []
        for target in steps:
            current = self.position(ticker)
            delta = target - current
            if delta == 0:
                continue
            at = price if price is not None else self._unpriced(ticker, current, delta)
            fill = BotFill(f"adjust:{uuid.uuid4().hex}", "", ticker, BookSide.BID if delta > 0 else BookSide.ASK,
                           at, abs(delta), ZERO, ts, FillSource.ADJUSTMENT)
            if self.store is not None:
                self.store.write_fill(fill)
            self.replay(fill)
            made.append(fill)
        return made

    def _unpriced(self, ticker: str, current: Decimal, delta: Decimal) -> Decimal:
        """The YES price of an adjustment with no price: the held side's average cost when it shrinks the
        position, zero cost (YES 0, or NO 0 = YES 1) when it opens one."""
        if current != 0 and (current > 0) != (delta > 0):
            avg = self.pnl(ticker).cost_basis / abs(current)  # per contract of the side held
            yes = avg if current > 0 else ONE - avg
            return yes.quantize(PRICE_STEP, rounding=ROUND_HALF_EVEN)
        return ZERO if delta > 0 else ONE

    # --- orders ---------------------------------------------------------------------------------------
    def add_order(self, order: OrderRecord) -> None:
        """A new working order (placed, or adopted from the exchange)."""
        if self.store is not None:
            self.store.save_order(order)
        self.orders[order.order_id] = order

    def amended(self, order_id: str, yes_price: Decimal, fill_count: Decimal, remaining: Decimal) -> None:
        """The exchange took an amend (or states the order so): new price and size; an order with nothing
        remaining stops working."""
        order = self.orders.get(order_id)
        if order is None:
            return
        order.yes_price = yes_price
        order.stated(fill_count, remaining)
        if remaining > 0:
            if self.store is not None:
                self.store.save_order(order)
        else:
            self.drop(order_id)

    def cancelled(self, order_id: str) -> None:
        """The bot cancelled the order: whatever was left is taken off; it stops working."""
        order = self.orders.get(order_id)
        if order is not None:
            order.cancelled += order.remaining
        self.drop(order_id)

    def decreased(self, order_id: str, remaining: Decimal) -> None:
        """The bot decreased the order to `remaining` (the exchange's answer)."""
        order = self.orders.get(order_id)
        if order is None:
            return
        order.cancelled += max(order.remaining - remaining, ZERO)
        if order.remaining > 0:
            if self.store is not None:
                self.store.save_order(order)
        else:
            self.drop(order_id)

    def drop(self, order_id: str) -> None:
        """Stop tracking an order (gone from the exchange: filled, cancelled, expired)."""
        if self.store is not None:
            self.store.remove_order(order_id)
        self.orders.pop(order_id, None)

    def clear_orders(self) -> None:
        if self.store is not None:
            self.store.replace_orders(())
        self.orders.clear()

    # --- the day and the state file's size ------------------------------------------------------------
    def roll_day(self, now: datetime) -> bool:
        """At a new UTC date the day's P&L counts that day's fills only; True if it rolled."""
        today = now.astimezone(timezone.utc).date()
        if self.day == today:
            return False
        rolled = self.day is not None
        self.day = today
        self.recount_today()
        return rolled

    def recount_today(self) -> None:
        day = self.day
        if day is None:
            return
        start = datetime.combine(day, time.min, timezone.utc)
        while self._effects and self._effects[0][0] < start - timedelta(days=1):
            self._effects.popleft()  # older than yesterday: never counted again
        total = sum((e for ts, e in self._effects if ts >= start), ZERO)
        if self.folded_today is not None and self.folded_today[0] == day:
            total += self.folded_today[1]
        self.realized_today = total

    def prune(self, now: datetime) -> int:
        """Drop processed fills older than the daily P&L window from the state file (positions and P&L go on
        from a carried lot state); returns how many fill rows were removed."""
        if self.store is None:
            return 0
        removed = self.store.prune_fills(now, self.last_fill_ts, keep_orders=self.orders)
        self.seen.difference_update(removed)
        return len(removed)


def order_from(order_id: str, ticker: str, book_side: BookSide, yes_price: Decimal, fill_count: Decimal,
               remaining: Decimal, tag: str, client_order_id: str, fills: Iterable[BotFill] = ()) -> OrderRecord:
    """A working order as the exchange states it (placed or adopted), with the fills already applied to it."""
    rec = OrderRecord(order_id, ticker, book_side, yes_price, ZERO, ZERO, tag, client_order_id, list(fills))
    rec.stated(fill_count, remaining)
    return rec
