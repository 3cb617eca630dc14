"""The bot's inventory and P&L: positions, working orders and fills it has processed, all exact.

Average-cost accounting on the signed YES position (the exchange's own method): buying YES at p adds
+n at p, selling YES (an ask, i.e. buying NO at 1 - p) adds -n at p.  Shrinking a position realizes
n x (p - average) for a long, n x (average - p) for a short.  Fees are kept apart.
Daily figures reset when the UTC date of the injected clock changes.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import date, datetime
from decimal import ROUND_DOWN, Decimal

from kalshi_trading.auto.types import WorkingOrder
from kalshi_trading.models import BookSide
from kalshi_trading.money import ZERO

MICRO_DOLLAR = Decimal("0.000001")


@dataclass(frozen=True)
class BotFill:
    """One execution of one of the bot's orders (from the feed or from REST)."""

    key: str  # trade id (or fill id) + order id: the same execution seen twice has one key
    order_id: str
    ticker: str
    book_side: BookSide
    yes_price: Decimal
    count: Decimal
    fee: Decimal
    ts: datetime
    source: str = "rest"  # rest | feed | startup

    @property
    def signed(self) -> Decimal:
        return self.count if self.book_side is BookSide.BID else -self.count


def fill_key(trade_id: str | None, fill_id: str | None, order_id: str) -> str:
    return f"{trade_id or fill_id or ''}/{order_id}"


@dataclass
class TickerBook:
    """One market's position with its average cost and realized results."""

    position: Decimal = ZERO
    cost: Decimal = ZERO  # signed: position x average price
    realized: Decimal = ZERO
    fees: Decimal = ZERO
    volume: Decimal = ZERO
    fills: int = 0
    max_abs_position: Decimal = ZERO

    @property
    def average(self) -> Decimal | None:
        return self.cost / self.position if self.position else None

    def apply(self, signed: Decimal, price: Decimal, fee: Decimal) -> Decimal:
        """Apply a fill; returns the P&L it realized (fees excluded)."""
        realized = ZERO
        pos = self.position
        if pos == 0 or (pos > 0) == (signed > 0):
            self.cost += signed * price
            self.position = pos + signed
        else:
            closing = min(abs(signed), abs(pos))
            direction = 1 if pos > 0 else -1
            # The closed share of the (signed) cost basis, floored to $0.000001 towards zero with the remainder
            # staying in the basis, so every figure is an exact decimal (no 28-digit quotients).
            removed = (self.cost * closing / abs(pos)).quantize(MICRO_DOLLAR, rounding=ROUND_DOWN)
            realized = direction * closing * price - removed
            self.cost -= removed
            self.position = pos + signed
            rest = abs(signed) - closing
            if self.position == 0:
                self.cost = ZERO
            if rest > 0:  # flipped through zero: the remainder opens at this price
                self.cost = self.position * price
        self.realized += realized
        self.fees += fee
        self.volume += abs(signed)
        self.fills += 1
        self.max_abs_position = max(self.max_abs_position, abs(self.position))
        return realized

    def unrealized(self, mark: Decimal | None) -> Decimal:
        if mark is None or self.position == 0:
            return ZERO
        return self.position * mark - self.cost


@dataclass
class OrderRecord:
    """A working order the bot owns; `filled` lets an amend state the new total."""

    order_id: str
    ticker: str
    book_side: BookSide
    yes_price: Decimal
    remaining: Decimal
    filled: Decimal = ZERO
    tag: str = ""
    client_order_id: str = ""

    def view(self) -> WorkingOrder:
        return WorkingOrder(self.order_id, self.ticker, self.book_side, self.yes_price, self.remaining)


@dataclass
class Ledger:
    """Positions, P&L, working orders and processed fill keys of one bot."""

    books: dict[str, TickerBook] = field(default_factory=dict)
    orders: dict[str, OrderRecord] = field(default_factory=dict)
    seen: set[str] = field(default_factory=set)
    day: date | None = None
    realized_today: Decimal = ZERO  # net of fees
    last_fill_ts: datetime | None = None

    def book(self, ticker: str) -> TickerBook:
        tb = self.books.get(ticker)
        if tb is None:
            tb = self.books[ticker] = TickerBook()
        return tb

    def position(self, ticker: str) -> Decimal:
        tb = self.books.get(ticker)
        return tb.position if tb else ZERO

    def positions(self) -> dict[str, Decimal]:
        return {t: b.position for t, b in self.books.items()}

    def roll_day(self, now: datetime) -> bool:
        """Reset the day's realized P&L at a new UTC date; True if it rolled."""
        today = now.date()
        if self.day != today:
            rolled = self.day is not None
            self.day = today
            self.realized_today = ZERO
            return rolled
        return False

    def apply_fill(self, fill: BotFill) -> bool:
        """Apply a fill once (False if its key was already processed); shrinks the order it belongs to."""
        if fill.key in self.seen:
            return False
        self.seen.add(fill.key)
        realized = self.book(fill.ticker).apply(fill.signed, fill.yes_price, fill.fee)
        self.realized_today += realized - fill.fee
        if self.last_fill_ts is None or fill.ts > self.last_fill_ts:
            self.last_fill_ts = fill.ts
        order = self.orders.get(fill.order_id)
        if order is not None:
            order.filled += fill.count
            order.remaining = max(order.remaining - fill.count, ZERO)
            if order.remaining == 0:
                del self.orders[fill.order_id]
        return True

    def working(self) -> tuple[WorkingOrder, ...]:
        return tuple(o.view() for o in self.orders.values())

    def working_on(self, ticker: str) -> tuple[WorkingOrder, ...]:
        return tuple(o.view() for o in self.orders.values() if o.ticker == ticker)

    def unrealized(self, marks: dict[str, Decimal]) -> Decimal:
        return sum((b.unrealized(marks.get(t)) for t, b in self.books.items()), ZERO)

    def realized(self) -> Decimal:
        return sum((b.realized for b in self.books.values()), ZERO)

    def fees(self) -> Decimal:
        return sum((b.fees for b in self.books.values()), ZERO)

    def set_position(self, ticker: str, position: Decimal, price: Decimal | None) -> None:
        """Force a position to the exchange's figure (reconciliation); cost at `price` if the size changed."""
        tb = self.book(ticker)
        if tb.position == position:
            return
        avg = tb.average
        basis = avg if avg is not None and (tb.position > 0) == (position > 0) else price
        tb.position = position
        tb.cost = position * basis if basis is not None and position else ZERO
        tb.max_abs_position = max(tb.max_abs_position, abs(position))


def copy_order(order: OrderRecord, **changes) -> OrderRecord:
    return replace(order, **changes)
