"""What a market feed delivers: typed, frozen events, and the wire parsers for the non-book channels.

Money and counts are `Decimal` (parsed once, here, through `api.parse`'s lenient helpers, which
also read the legacy cent/int shapes of reference section 12); times are aware UTC.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from decimal import Decimal
from enum import Enum
from typing import Callable, Mapping, TypeVar, Union

from kalshi_trading.api import parse
from kalshi_trading.models import BookSide, OrderStatus, Side, note_unknown

def utcnow() -> datetime:
    return datetime.now(timezone.utc)


class LifecycleEvent(str, Enum):
    """`market_lifecycle_v2` event types (reference section 11); anything new maps to UNKNOWN."""

    CREATED = "created"
    ACTIVATED = "activated"
    DEACTIVATED = "deactivated"
    CLOSE_DATE_UPDATED = "close_date_updated"
    DETERMINED = "determined"
    SETTLED = "settled"
    PRICE_LEVEL_STRUCTURE_UPDATED = "price_level_structure_updated"
    METADATA_UPDATED = "metadata_updated"
    UNKNOWN = "unknown"

    @property
    def stops_trading(self) -> bool:
        """After this event the market takes no orders (paused, determined or settled)."""
        return self in (LifecycleEvent.DEACTIVATED, LifecycleEvent.DETERMINED, LifecycleEvent.SETTLED)


@dataclass(frozen=True)
class BookUpdated:
    """A snapshot or delta was applied to `feed.books[ticker]`.  A delta says which level it changed (`yes`: the
    YES-bid side, else the NO-bid side; `price` in that side's own price units; `delta`: the signed size change in
    units), so a strategy that reads only the top of the book can tell a change below it (`auto.types.BookBand`);
    `yes` is None for a snapshot, or when the feed does not say."""

    ticker: str
    ts: datetime
    snapshot: bool = False
    yes: bool | None = None
    price: int = 0
    delta: int = 0


@dataclass(frozen=True)
class BookStale:
    """`feed.books[ticker]` stopped being usable (gap, duplicate, disconnect...); a resync is under way."""

    ticker: str
    reason: str
    ts: datetime


@dataclass(frozen=True)
class Resynced:
    """A stale book got its fresh snapshot and is usable again."""

    ticker: str
    reason: str
    ts: datetime


@dataclass(frozen=True)
class TradeMsg:
    ticker: str
    trade_id: str
    yes_price: Decimal
    count: Decimal
    taker_outcome_side: Side | None  # None when the message does not say
    taker_book_side: BookSide | None
    ts: datetime

    @property
    def no_price(self) -> Decimal:
        return 1 - self.yes_price


@dataclass(frozen=True)
class FillMsg:
    """One of our fills (the `fill` channel): `yes_price` is the V2 (YES) price."""

    ticker: str
    trade_id: str
    order_id: str
    is_taker: bool
    outcome_side: Side | None
    book_side: BookSide | None
    yes_price: Decimal
    count: Decimal
    fee: Decimal
    post_position: Decimal | None
    ts: datetime
    client_order_id: str | None = None


@dataclass(frozen=True)
class TickerMsg:
    ticker: str
    price: Decimal | None
    yes_bid: Decimal | None
    yes_ask: Decimal | None
    yes_bid_size: Decimal | None
    yes_ask_size: Decimal | None
    volume: Decimal | None
    open_interest: Decimal | None
    ts: datetime


@dataclass(frozen=True)
class PositionMsg:
    ticker: str
    position: Decimal
    position_cost: Decimal | None
    realized_pnl: Decimal | None
    fees_paid: Decimal | None
    volume: Decimal | None
    ts: datetime


@dataclass(frozen=True)
class LifecycleMsg:
    """A market's lifecycle changed (`market_lifecycle_v2`, or `event_lifecycle` with the event ticker)."""

    ticker: str
    event_type: LifecycleEvent
    result: str | None
    close_ts: datetime | None
    ts: datetime
    settlement_value: Decimal | None = None
    determination_ts: datetime | None = None
    is_deactivated: bool | None = None


@dataclass(frozen=True)
class UserOrderMsg:
    order_id: str
    ticker: str
    status: OrderStatus
    outcome_side: Side | None
    book_side: BookSide | None
    yes_price: Decimal | None
    fill_count: Decimal | None
    remaining_count: Decimal | None
    initial_count: Decimal | None
    client_order_id: str | None
    ts: datetime


@dataclass(frozen=True)
class Disconnected:
    reason: str
    ts: datetime


@dataclass(frozen=True)
class Reconnected:
    """Connected again (and resubscribed) after `attempts` tries; every book will resync."""

    attempts: int
    ts: datetime


@dataclass(frozen=True)
class FeedError:
    """The server refused a command (`code` per reference section 11) or a source failed."""

    code: int | str
    message: str
    ts: datetime
    channel: str | None = None


FeedEvent = Union[BookUpdated, BookStale, Resynced, TradeMsg, FillMsg, TickerMsg, PositionMsg, LifecycleMsg,
                  UserOrderMsg, Disconnected, Reconnected, FeedError]

# each event type's short name (the `event` field of `kalshi watch --json` lines, decision logs)
EVENT_KIND: dict[type, str] = {
    BookUpdated: "book", BookStale: "stale", Resynced: "resynced", TradeMsg: "trade", FillMsg: "fill",
    TickerMsg: "ticker", PositionMsg: "position", LifecycleMsg: "lifecycle", UserOrderMsg: "user_order",
    Disconnected: "disconnected", Reconnected: "reconnected", FeedError: "error",
}


# ----------------------------------------------------------------------------------- wire -> event
def ts_of(msg: Mapping, key: str = "ts_ms") -> datetime:
    """The message's `ts_ms` (or legacy `ts`), else now."""
    value = msg.get(key)
    if value is None:
        value = msg.get("ts")
    if isinstance(value, int) and not isinstance(value, bool):
        return datetime.fromtimestamp(value / 1000 if value > 10**11 else value, tz=timezone.utc)
    return parse.timestamp(value) or utcnow()


def _ticker(msg: Mapping) -> str:
    return str(msg.get("market_ticker") or msg.get("ticker") or "")


def _opt_dollars(msg: Mapping, name: str) -> Decimal | None:
    return parse.dollars(msg, name, "ws", None)


def _opt_count(msg: Mapping, name: str) -> Decimal | None:
    return parse.count(msg, name, "ws", None)


E = TypeVar("E", bound=Enum)


def wire_enum(cls: type[E], value: object, default: E | None = None) -> E | None:
    """`value` as a member of `cls` (None when absent); an unknown value is logged once and becomes `default`."""
    if value is None or value == "":
        return None
    try:
        return cls(str(value))
    except ValueError:
        note_unknown(cls.__name__, str(value)[:80], default.value if default is not None else "absent")
        return default


def _outcome(msg: Mapping, key: str) -> Side | None:
    """`outcome_side`, else derived from the deprecated side + action (or `taker_side`)."""
    value = msg.get(key)
    if value:
        return wire_enum(Side, value)
    side, action = msg.get("side"), msg.get("action")
    if side in ("yes", "no") and action in ("buy", "sell"):
        return Side.YES if (action == "buy") == (side == "yes") else Side.NO
    return wire_enum(Side, msg.get("taker_side") or side)


def _book_side(msg: Mapping, key: str, outcome: Side | None) -> BookSide | None:
    value = msg.get(key)
    if value:
        return wire_enum(BookSide, value)
    if outcome is None:
        return None
    return BookSide.BID if outcome is Side.YES else BookSide.ASK


def trade_msg(msg: Mapping) -> TradeMsg:
    outcome = _outcome(msg, "taker_outcome_side")
    return TradeMsg(
        ticker=_ticker(msg),
        trade_id=str(msg.get("trade_id") or ""),
        yes_price=parse.dollars(msg, "yes_price", "trade"),
        count=parse.count(msg, "count", "trade"),
        taker_outcome_side=outcome,
        taker_book_side=_book_side(msg, "taker_book_side", outcome),
        ts=ts_of(msg),
    )


def fill_msg(msg: Mapping) -> FillMsg:
    outcome = _outcome(msg, "outcome_side")
    fee = msg.get("fee_cost")
    return FillMsg(
        ticker=_ticker(msg),
        trade_id=str(msg.get("trade_id") or ""),
        order_id=str(msg.get("order_id") or ""),
        is_taker=bool(msg.get("is_taker", False)),
        outcome_side=outcome,
        book_side=_book_side(msg, "book_side", outcome),
        yes_price=parse.dollars(msg, "yes_price", "fill"),
        count=parse.count(msg, "count", "fill"),
        fee=parse.plain_dollars(msg, "fee_cost", "fill") if fee is not None else Decimal(0),
        post_position=_opt_count(msg, "post_position"),
        ts=ts_of(msg),
        client_order_id=msg.get("client_order_id"),
    )


def ticker_msg(msg: Mapping) -> TickerMsg:
    return TickerMsg(
        ticker=_ticker(msg),
        price=_opt_dollars(msg, "price"),
        yes_bid=_opt_dollars(msg, "yes_bid"),
        yes_ask=_opt_dollars(msg, "yes_ask"),
        yes_bid_size=_opt_count(msg, "yes_bid_size"),
        yes_ask_size=_opt_count(msg, "yes_ask_size"),
        volume=_opt_count(msg, "volume"),
        open_interest=_opt_count(msg, "open_interest"),
        ts=ts_of(msg),
    )


def position_msg(msg: Mapping) -> PositionMsg:
    return PositionMsg(
        ticker=_ticker(msg),
        position=parse.count(msg, "position", "market_position", Decimal(0)),
        position_cost=_opt_dollars(msg, "position_cost"),
        realized_pnl=_opt_dollars(msg, "realized_pnl"),
        fees_paid=_opt_dollars(msg, "fees_paid"),
        volume=_opt_count(msg, "volume"),
        ts=ts_of(msg),
    )


def _opt_ts(msg: Mapping, key: str) -> datetime | None:
    value = msg.get(key)
    return parse.timestamp(value) if value is not None else None


def lifecycle_msg(msg: Mapping) -> LifecycleMsg:
    result = msg.get("result")
    deactivated = msg.get("is_deactivated")
    return LifecycleMsg(
        ticker=_ticker(msg) or str(msg.get("event_ticker") or ""),
        event_type=wire_enum(LifecycleEvent, msg.get("event_type"), LifecycleEvent.UNKNOWN) or LifecycleEvent.UNKNOWN,
        result=str(result) if result else None,
        close_ts=_opt_ts(msg, "close_ts"),
        ts=ts_of(msg),
        settlement_value=_opt_dollars(msg, "settlement_value"),
        determination_ts=_opt_ts(msg, "determination_ts"),
        is_deactivated=deactivated if isinstance(deactivated, bool) else None,
    )


def user_order_msg(msg: Mapping) -> UserOrderMsg:
    outcome = _outcome(msg, "outcome_side")
    return UserOrderMsg(
        order_id=str(msg.get("order_id") or ""),
        ticker=_ticker(msg),
        status=wire_enum(OrderStatus, msg.get("status"), OrderStatus.UNKNOWN) or OrderStatus.UNKNOWN,
        outcome_side=outcome,
        book_side=_book_side(msg, "book_side", outcome),
        yes_price=_opt_dollars(msg, "yes_price"),
        fill_count=_opt_count(msg, "fill_count"),
        remaining_count=_opt_count(msg, "remaining_count"),
        initial_count=_opt_count(msg, "initial_count"),
        client_order_id=msg.get("client_order_id"),
        ts=ts_of(msg, "last_updated_ts_ms"),
    )


# type on the wire -> parser; the book types are the feed's own business
PARSERS: dict[str, Callable[[Mapping], FeedEvent]] = {
    "trade": trade_msg,
    "fill": fill_msg,
    "ticker": ticker_msg,
    "ticker_v2": ticker_msg,
    "market_position": position_msg,
    "market_lifecycle_v2": lifecycle_msg,
    "market_lifecycle": lifecycle_msg,
    "event_lifecycle": lifecycle_msg,
    "user_order": user_order_msg,
}
