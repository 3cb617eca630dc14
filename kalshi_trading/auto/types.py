"""The vocabulary the bot's loop, strategies and risk engine share.

Prices are YES prices in dollars, counts contracts, both `Decimal`; times are tz-aware UTC.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from enum import Enum
from typing import Protocol, Union, runtime_checkable

from kalshi_trading.auto.botconfig import MarketConfig
from kalshi_trading.models import BookSide, OrderBook, PriceLevel
from kalshi_trading.money import ONE, PriceGrid

# --- orders ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TargetOrder:
    """An order a strategy wants working: bid = buy YES, ask = sell YES, at a YES price.

    Tags say what the order is for; a tag containing ``take`` asks the loop to send it
    immediate-or-cancel (the edge taker's clips), anything else rests.
    """

    ticker: str
    book_side: BookSide
    yes_price: Decimal
    count: Decimal
    tag: str = ""


Quote = TargetOrder


@dataclass(frozen=True)
class WorkingOrder:
    """One of our orders resting on the exchange."""

    order_id: str
    ticker: str
    book_side: BookSide
    yes_price: Decimal
    remaining: Decimal


# --- events ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class BookUpdate:
    ticker: str
    ts: datetime


@dataclass(frozen=True)
class TradeEvent:
    ticker: str
    yes_price: Decimal
    count: Decimal
    taker_book_side: BookSide | None  # None when the exchange does not say
    ts: datetime


@dataclass(frozen=True)
class FillEvent:
    ticker: str
    order_id: str
    book_side: BookSide
    yes_price: Decimal
    count: Decimal
    fee: Decimal
    ts: datetime


@dataclass(frozen=True)
class SignalEvent:
    name: str
    value: float
    ts: datetime


@dataclass(frozen=True)
class TimerEvent:
    ts: datetime


@dataclass(frozen=True)
class BookStaleEvent:
    """The market's book stopped being usable (a gap, a disconnect); a resync is under way."""

    ticker: str
    reason: str
    ts: datetime


@dataclass(frozen=True)
class MarketClosed:
    """The market stopped trading (paused, determined, settled): nothing is quoted on it any more."""

    ticker: str
    reason: str
    ts: datetime


Event = Union[BookUpdate, TradeEvent, FillEvent, SignalEvent, TimerEvent, BookStaleEvent, MarketClosed]


# --- the book a strategy reads --------------------------------------------------------------------


@runtime_checkable
class BookView(Protocol):
    """A read-only view of one market's book in YES prices."""

    @property
    def best_bid(self) -> Decimal | None: ...

    @property
    def best_bid_size(self) -> Decimal | None: ...

    @property
    def best_ask(self) -> Decimal | None: ...

    @property
    def best_ask_size(self) -> Decimal | None: ...

    @property
    def mid(self) -> Decimal | None: ...

    @property
    def spread(self) -> Decimal | None: ...

    @property
    def stale(self) -> bool: ...

    def depth(self, n: int) -> tuple[tuple[PriceLevel, ...], tuple[PriceLevel, ...]]:
        """Up to `n` levels a side: (YES bids best-first, YES asks best-first)."""
        ...


@dataclass(frozen=True)
class SimpleBookView:
    """A frozen `BookView` over explicit levels: tests, REST polling (`from_order_book`)."""

    bids: tuple[PriceLevel, ...] = ()
    asks: tuple[PriceLevel, ...] = ()
    stale: bool = False
    ts: datetime | None = None

    @classmethod
    def from_order_book(cls, book: OrderBook, stale: bool = False, ts: datetime | None = None) -> "SimpleBookView":
        bids = tuple(sorted(book.yes_bids, key=lambda lvl: lvl.price, reverse=True))
        asks = tuple(sorted((PriceLevel(ONE - lvl.price, lvl.count) for lvl in book.no_bids),
                            key=lambda lvl: lvl.price))
        return cls(bids, asks, stale, ts)

    @classmethod
    def top(cls, bid: Decimal | None, bid_size: Decimal | None, ask: Decimal | None, ask_size: Decimal | None,
            stale: bool = False, ts: datetime | None = None) -> "SimpleBookView":
        """A one-level book (either side may be empty)."""
        bids = (PriceLevel(bid, bid_size or Decimal(0)),) if bid is not None else ()
        asks = (PriceLevel(ask, ask_size or Decimal(0)),) if ask is not None else ()
        return cls(bids, asks, stale, ts)

    @property
    def best_bid(self) -> Decimal | None:
        return self.bids[0].price if self.bids else None

    @property
    def best_bid_size(self) -> Decimal | None:
        return self.bids[0].count if self.bids else None

    @property
    def best_ask(self) -> Decimal | None:
        return self.asks[0].price if self.asks else None

    @property
    def best_ask_size(self) -> Decimal | None:
        return self.asks[0].count if self.asks else None

    @property
    def mid(self) -> Decimal | None:
        if not self.bids or not self.asks:
            return None
        return (self.bids[0].price + self.asks[0].price) / 2

    @property
    def spread(self) -> Decimal | None:
        if not self.bids or not self.asks:
            return None
        return self.asks[0].price - self.bids[0].price

    def depth(self, n: int) -> tuple[tuple[PriceLevel, ...], tuple[PriceLevel, ...]]:
        return self.bids[:n], self.asks[:n]


BookTop = SimpleBookView


# --- what a strategy sees -------------------------------------------------------------------------


@dataclass(frozen=True)
class MarketSnapshot:
    """Everything a strategy may read about one market at one moment.  `position`: + YES, - NO."""

    ticker: str
    book: BookView
    position: Decimal
    working: tuple[WorkingOrder, ...]
    config: MarketConfig
    grid: PriceGrid
    fee_type: str
    fee_multiplier: Decimal
    now: datetime
    close_time: datetime | None = None
    strike_type: str | None = None
    floor_strike: Decimal | None = None
    cap_strike: Decimal | None = None


class Strategy(Protocol):
    """Turns an event and a snapshot into the full set of orders wanted on that market.

    It never calls the exchange; the loop diffs the answer against the working orders,
    passes new orders through the risk engine and sends them.  An empty list = want nothing.
    """

    name: str

    def targets(self, event: Event, snapshot: MarketSnapshot) -> list[TargetOrder]: ...


@dataclass(frozen=True, slots=True)
class BookBand:
    """The part of a book a decision read: YES bids at or above `yes_floor` and NO bids at or above `no_floor`
    (price units of each side; a floor of 0 is the whole side).  A delta below a floor cannot change the decision;
    nor can one that adds size at a floor exactly (only a decrease there can empty what others rest at it)."""

    yes_floor: int
    no_floor: int

    def touches(self, yes: bool, price: int, delta: int) -> bool:
        floor = self.yes_floor if yes else self.no_floor
        return price > floor or (price == floor and delta < 0)


@runtime_checkable
class BookBanded(Protocol):
    """A strategy whose targets on a market depend only on that market's book within a band (`BookBand`), its
    position, its working orders and its configuration: not on the event that woke it, nor on the time.  After a
    pass that changed nothing, the loop does not decide the market again until something it read changes (a delta
    inside the band, a snapshot, a fill, an order's news, a risk, configuration or timer pass): the same decisions,
    made once.  `book_band` answers None when it cannot say (the loop then decides on every event)."""

    def book_band(self, snapshot: MarketSnapshot) -> BookBand | None: ...


@runtime_checkable
class SpreadGated(Protocol):
    """A quoting strategy that says when it wants to quote (its spread gate); the report measures quote uptime
    over exactly that time."""

    def gate_open(self, snapshot: MarketSnapshot) -> bool: ...


# --- risk -----------------------------------------------------------------------------------------


class RiskState(str, Enum):
    ACTIVE = "active"
    REDUCING = "reducing"  # only orders that shrink exposure
    HALTED = "halted"  # nothing until a person calls resume()


@dataclass(frozen=True)
class Decision:
    allowed: bool
    rule: str
    reason: str


@dataclass(frozen=True)
class RiskContext:
    """What the risk engine needs to know, gathered by the loop from the portfolio and the books.

    `working` should exclude orders the loop is about to cancel (a replacement is not additive).
    `marks` are YES prices per ticker; P&L figures are dollars (negative = loss).
    """

    positions: dict[str, Decimal]
    working: tuple[WorkingOrder, ...]
    marks: dict[str, Decimal]
    realized_pnl_today: Decimal
    unrealized_pnl: Decimal
    book_stale: dict[str, bool]
    grids: dict[str, PriceGrid]


@dataclass(frozen=True)
class StateChange:
    """The risk engine moved between states.  `must_cancel_all`: the loop cancels every working order."""

    old: RiskState
    new: RiskState
    reason: str
    ts: datetime
    must_cancel_all: bool = False
