"""Domain facts as frozen dataclasses.

Prices are YES prices in dollars (`Decimal`), counts are contracts (`Decimal`),
times are timezone-aware UTC `datetime`s.  Wire names stay in `api/parse.py`;
these names are ours.

The closed sets are `StrEnum`s: a member equals (and prints as) its wire text, so comparisons with
strings keep working.  Sets the exchange may grow (statuses, self-trade prevention) have an UNKNOWN
member that a value this code does not know becomes (`known_member`, logged once per value); the two
sides of a binary contract cannot grow, so a side that is neither is a malformed answer, not UNKNOWN.
"""

from __future__ import annotations

import functools
import logging
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import TypeVar

from kalshi_trading.money import ONE, ZERO, PriceGrid

log = logging.getLogger(__name__)


class Side(StrEnum):
    """The contract a trader thinks in (an order's or fill's outcome side)."""

    YES = "yes"
    NO = "no"


class Action(StrEnum):
    BUY = "buy"
    SELL = "sell"


class BookSide(StrEnum):
    """V2 order side: bid = buy YES, ask = sell YES, always at a YES price."""

    BID = "bid"
    ASK = "ask"


class TimeInForce(StrEnum):
    """Sent with a create; the exchange never reports it back, so it has no UNKNOWN."""

    GTC = "good_till_canceled"
    IOC = "immediate_or_cancel"
    FOK = "fill_or_kill"


class SelfTradePrevention(StrEnum):
    TAKER_AT_CROSS = "taker_at_cross"
    MAKER = "maker"
    UNKNOWN = "unknown"  # read from an order only; never sent (OrderRequest refuses it)


class OrderStatus(StrEnum):
    RESTING = "resting"
    CANCELED = "canceled"
    EXECUTED = "executed"
    UNKNOWN = "unknown"  # a status this code does not know yet (logged once where it is parsed)


class MarketStatus(StrEnum):
    """A market's lifecycle (reference section 4); `inactive` is paused, trading happens only when `active`."""

    INITIALIZED = "initialized"
    INACTIVE = "inactive"
    ACTIVE = "active"
    CLOSED = "closed"
    DETERMINED = "determined"
    DISPUTED = "disputed"
    AMENDED = "amended"
    FINALIZED = "finalized"
    UNKNOWN = "unknown"


TRADING_STATUSES = frozenset({MarketStatus.ACTIVE})
SETTLED_STATUSES = frozenset({MarketStatus.DETERMINED, MarketStatus.FINALIZED, MarketStatus.AMENDED})

E = TypeVar("E", bound=StrEnum)


def known_member(cls: type[E], value: str, unknown: E) -> E:
    """`value` as a member of `cls`; a value this code does not know is `unknown` (logged once per value)."""
    try:
        return cls(value)
    except ValueError:
        note_unknown(cls.__name__, value, unknown.value)
        return unknown


@functools.lru_cache(maxsize=512)  # bounded: a misbehaving server cannot grow it without limit
def note_unknown(kind: str, value: str, treated_as: str) -> None:
    """Log, once per (kind, value), that the exchange sent a value this code does not know."""
    log.warning("unknown %s %r from the exchange; treated as %s", kind, value, treated_as)


def to_book_side(side: Side, action: Action) -> BookSide:
    """Reference section 7: buy YES / sell NO rest as bids; sell YES / buy NO as asks."""
    if (side is Side.YES) == (action is Action.BUY):
        return BookSide.BID
    return BookSide.ASK


def to_yes_price(side: Side, price: Decimal) -> Decimal:
    """A price on the trader's contract as the V2 YES price (NO at q is YES at 1 - q)."""
    return price if side is Side.YES else ONE - price


@dataclass(frozen=True)
class ExchangeStatus:
    exchange_active: bool
    trading_active: bool
    estimated_resume_time: datetime | None = None


@dataclass(frozen=True)
class Series:
    ticker: str
    title: str
    category: str
    frequency: str
    fee_type: str
    fee_multiplier: Decimal = ONE
    tags: tuple[str, ...] = ()


@dataclass(frozen=True)
class Market:
    ticker: str
    event_ticker: str
    status: MarketStatus
    title: str
    yes_sub_title: str
    no_sub_title: str
    open_time: datetime | None
    close_time: datetime | None
    yes_bid: Decimal
    yes_bid_size: Decimal
    yes_ask: Decimal
    yes_ask_size: Decimal
    no_bid: Decimal
    no_ask: Decimal
    last_price: Decimal
    volume: Decimal
    volume_24h: Decimal
    open_interest: Decimal
    result: str
    price_grid: PriceGrid
    price_level_structure: str = ""
    market_type: str = "binary"
    rules_primary: str = ""
    rules_secondary: str = ""
    settlement_value: Decimal | None = None
    expected_expiration_time: datetime | None = None
    strike_type: str | None = None
    floor_strike: Decimal | None = None
    cap_strike: Decimal | None = None
    can_close_early: bool = False
    fee_waiver_expiration_time: datetime | None = None

    @property
    def best_yes_bid(self) -> Decimal | None:
        """The best YES bid, or None when no one bids (the exchange sends 0.0000, size 0)."""
        return self.yes_bid if 0 < self.yes_bid < 1 and self.yes_bid_size != 0 else None

    @property
    def best_yes_ask(self) -> Decimal | None:
        """The best YES ask, or None when no one offers (the exchange sends 1.0000 with size 0; older answers 0)."""
        return self.yes_ask if 0 < self.yes_ask < 1 and self.yes_ask_size != 0 else None

    @property
    def is_trading(self) -> bool:
        return self.status in TRADING_STATUSES

    @property
    def is_settled(self) -> bool:
        return self.status in SETTLED_STATUSES or self.result in ("yes", "no", "void", "scalar")


@dataclass(frozen=True)
class Event:
    event_ticker: str
    series_ticker: str
    title: str
    sub_title: str
    mutually_exclusive: bool
    markets: tuple[Market, ...] = ()
    strike_date: datetime | None = None
    fee_type_override: str | None = None
    fee_multiplier_override: Decimal | None = None


@dataclass(frozen=True)
class PriceLevel:
    price: Decimal
    count: Decimal


@dataclass(frozen=True)
class OrderBook:
    """Resting bids on each side. `yes_bids` at YES prices, `no_bids` at NO prices, best first."""

    ticker: str
    yes_bids: tuple[PriceLevel, ...]
    no_bids: tuple[PriceLevel, ...]

    @property
    def yes_asks(self) -> tuple[PriceLevel, ...]:
        """NO bids seen as YES asks at 1 - price, best (lowest) first."""
        return tuple(PriceLevel(ONE - lvl.price, lvl.count) for lvl in self.no_bids)

    @property
    def best_yes_bid(self) -> PriceLevel | None:
        return self.yes_bids[0] if self.yes_bids else None

    @property
    def best_yes_ask(self) -> PriceLevel | None:
        return self.yes_asks[0] if self.no_bids else None

    @property
    def mid(self) -> Decimal | None:
        bid, ask = self.best_yes_bid, self.best_yes_ask
        if bid is None or ask is None:
            return None
        return (bid.price + ask.price) / 2


@dataclass(frozen=True)
class Trade:
    trade_id: str
    ticker: str
    count: Decimal
    yes_price: Decimal
    taker_outcome_side: Side | None  # None when the trade does not say
    taker_book_side: BookSide | None
    created_time: datetime | None
    is_block_trade: bool = False

    @property
    def no_price(self) -> Decimal:
        return ONE - self.yes_price


@dataclass(frozen=True)
class Candle:
    end_period: datetime
    yes_bid_close: Decimal | None
    yes_ask_close: Decimal | None
    price_open: Decimal | None
    price_high: Decimal | None
    price_low: Decimal | None
    price_close: Decimal | None
    volume: Decimal
    open_interest: Decimal


@dataclass(frozen=True)
class HistoricalCutoff:
    """Where the exchange's historical tier begins (`GET /historical/cutoff`): older data is served only there."""

    market_settled: datetime  # markets settled before this (and their candles) live in /historical/markets
    trades_created: datetime  # public trades and fills created before this live in /historical/trades, /fills
    orders_updated: datetime


@dataclass(frozen=True)
class Balance:
    """Available cash and portfolio value, in dollars."""

    balance: Decimal
    portfolio_value: Decimal
    updated: datetime | None = None


@dataclass(frozen=True)
class MarketPosition:
    """Signed position: + YES, - NO.  Money fields are the exchange's own figures."""

    ticker: str
    position: Decimal
    total_traded: Decimal
    market_exposure: Decimal
    realized_pnl: Decimal
    fees_paid: Decimal
    last_updated: datetime | None = None


@dataclass(frozen=True)
class EventPosition:
    event_ticker: str
    total_cost: Decimal
    total_cost_shares: Decimal
    event_exposure: Decimal
    realized_pnl: Decimal
    fees_paid: Decimal


@dataclass(frozen=True)
class Positions:
    markets: tuple[MarketPosition, ...]
    events: tuple[EventPosition, ...]


@dataclass(frozen=True)
class Fill:
    """One execution of one of our orders.  `book_side` bid = bought YES, ask = sold YES, at `yes_price`."""

    fill_id: str
    order_id: str
    ticker: str
    outcome_side: Side
    book_side: BookSide
    count: Decimal
    yes_price: Decimal
    is_taker: bool
    fee: Decimal
    created_time: datetime | None
    trade_id: str = ""

    @property
    def no_price(self) -> Decimal:
        return ONE - self.yes_price

    @property
    def signed_count(self) -> Decimal:
        """Change in the signed (+YES / -NO) position."""
        return self.count if self.book_side == BookSide.BID else -self.count


@dataclass(frozen=True)
class Settlement:
    ticker: str
    event_ticker: str
    market_result: str
    yes_count: Decimal
    yes_total_cost: Decimal
    no_count: Decimal
    no_total_cost: Decimal
    revenue: Decimal
    settled_time: datetime | None
    fee: Decimal = ZERO
    value: Decimal | None = None


@dataclass(frozen=True)
class Order:
    order_id: str
    client_order_id: str
    ticker: str
    outcome_side: Side
    book_side: BookSide
    status: OrderStatus
    yes_price: Decimal
    fill_count: Decimal
    remaining_count: Decimal
    initial_count: Decimal
    taker_fill_cost: Decimal = ZERO
    maker_fill_cost: Decimal = ZERO
    taker_fees: Decimal = ZERO
    maker_fees: Decimal = ZERO
    created_time: datetime | None = None
    last_update_time: datetime | None = None
    expiration_time: datetime | None = None
    self_trade_prevention_type: SelfTradePrevention | None = None
    order_group_id: str | None = None
    type: str = "limit"

    @property
    def no_price(self) -> Decimal:
        return ONE - self.yes_price

    @property
    def fees(self) -> Decimal:
        return self.taker_fees + self.maker_fees

    @property
    def is_open(self) -> bool:
        return self.status == OrderStatus.RESTING


@dataclass(frozen=True)
class OrderAck:
    """What a V2 create or amend answered: the order id and what filled straight away."""

    order_id: str
    client_order_id: str
    fill_count: Decimal
    remaining_count: Decimal
    average_fill_price: Decimal | None = None
    average_fee_paid: Decimal | None = None
    ts: datetime | None = None
    order: Order | None = None  # filled in when the ack was recovered from a 409 by fetching the order


@dataclass(frozen=True)
class CancelAck:
    order_id: str
    client_order_id: str
    reduced_by: Decimal
    ts: datetime | None = None
    already_gone: bool = False
    order: Order | None = None


@dataclass(frozen=True)
class DecreaseAck:
    order_id: str
    client_order_id: str
    remaining_count: Decimal
    ts: datetime | None = None


@dataclass(frozen=True)
class BatchItemResult:
    """One item of a batch create or cancel: either an ack or an error."""

    index: int
    ack: OrderAck | CancelAck | None = None
    error: Exception | None = None


@dataclass(frozen=True)
class QueuePosition:
    order_id: str
    ticker: str
    queue_position: Decimal


@dataclass(frozen=True)
class OrderRequest:
    """A V2 create request, validated when built (design rule 4).

    Price checks against the market's grid need the market, so they live in the
    executor; here only what is true of every order.
    """

    ticker: str
    book_side: BookSide
    count: Decimal
    yes_price: Decimal
    time_in_force: TimeInForce = TimeInForce.GTC
    client_order_id: str = ""
    post_only: bool = False
    reduce_only: bool = False
    expiration_ts: int | None = None
    self_trade_prevention: SelfTradePrevention = SelfTradePrevention.TAKER_AT_CROSS
    order_group_id: str | None = None
    cancel_order_on_pause: bool = False
    extra: dict = field(default_factory=dict, compare=False)

    def __post_init__(self) -> None:
        from kalshi_trading import ids
        from kalshi_trading.errors import UsageError
        from kalshi_trading.money import is_valid_count

        if not self.ticker or not isinstance(self.ticker, str):
            raise UsageError("an order needs a market ticker")
        ids.market_ticker(self.ticker)  # the documented form, or a UsageError naming it
        if self.client_order_id:
            ids.client_order_id(self.client_order_id)
        if not isinstance(self.count, Decimal) or not is_valid_count(self.count):
            raise UsageError(f"count {self.count} must be a positive multiple of 0.01 contracts")
        if not isinstance(self.yes_price, Decimal) or not (ZERO < self.yes_price < ONE):
            raise UsageError(f"price {self.yes_price} must be strictly between $0 and $1")
        if self.self_trade_prevention is SelfTradePrevention.UNKNOWN:
            raise UsageError("self-trade prevention must be taker_at_cross or maker")
        if self.expiration_ts is not None and self.time_in_force is not TimeInForce.GTC:
            raise UsageError("an expiration time needs time in force good_till_canceled")
