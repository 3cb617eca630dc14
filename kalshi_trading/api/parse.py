"""Wire JSON -> domain models.  The only place wire names are read.

Lenient (reference sections 12 and 13.8): current names first (`x_dollars`, `x_fp`), then the legacy
shapes (`x_fixed`, int cents `x`, int counts), unknown keys ignored, numbers accepted in place of
strings.  A missing required field is a `ResponseFormatError` naming it.
"""

from __future__ import annotations

from datetime import datetime, timezone
from decimal import Decimal
from typing import Any, Mapping

from kalshi_trading.errors import ResponseFormatError
from kalshi_trading.models import (
    Balance,
    CancelAck,
    Candle,
    DecreaseAck,
    Event,
    EventPosition,
    ExchangeStatus,
    Fill,
    Market,
    MarketPosition,
    Order,
    OrderAck,
    OrderBook,
    PriceLevel,
    QueuePosition,
    Series,
    Settlement,
    Trade,
)
from kalshi_trading.money import GRIDS, ONE, ZERO, MoneyError, PriceGrid, PriceRange, cents_to_dollars, to_decimal

_MISSING = object()


def _fail(obj: str, name: str) -> ResponseFormatError:
    return ResponseFormatError(f"{obj} is missing required field {name!r}")


def _num(value: Any, obj: str, name: str) -> Decimal:
    try:
        return to_decimal(value, f"{obj}.{name}")
    except MoneyError as exc:
        raise ResponseFormatError(str(exc)) from None


def dollars(d: Mapping, name: str, obj: str, default: Any = _MISSING) -> Decimal:
    """`name_dollars`, else `name_fixed`, else int cents `name`."""
    for key in (f"{name}_dollars", f"{name}_fixed"):
        value = d.get(key)
        if value is not None:
            return _num(value, obj, key)
    value = d.get(name)
    if value is not None:
        return _num(value, obj, name) / 100
    if default is _MISSING:
        raise _fail(obj, f"{name}_dollars")
    return default


def count(d: Mapping, name: str, obj: str, default: Any = _MISSING) -> Decimal:
    """`name_fp`, else a plain `name` (int contracts, or a string in V2 write responses)."""
    for key in (f"{name}_fp", name):
        value = d.get(key)
        if value is not None:
            return _num(value, obj, key)
    if default is _MISSING:
        raise _fail(obj, f"{name}_fp")
    return default


def plain_dollars(d: Mapping, key: str, obj: str, default: Any = _MISSING) -> Decimal:
    """A dollar string whose wire name carries no suffix (V2 write responses: `average_fill_price`, `fee_cost`)."""
    value = d.get(key)
    if value is None:
        if default is _MISSING:
            raise _fail(obj, key)
        return default
    return _num(value, obj, key)


def text(d: Mapping, key: str, obj: str, default: Any = _MISSING) -> str:
    value = d.get(key)
    if value is None:
        if default is _MISSING:
            raise _fail(obj, key)
        return default
    return str(value)


def timestamp(value: Any) -> datetime | None:
    """RFC 3339 text, or Unix seconds (ms when implausibly large), as aware UTC."""
    if value in (None, ""):
        return None
    if isinstance(value, (int, Decimal)) and not isinstance(value, bool):
        seconds = Decimal(value)
        if seconds > 10**11:
            seconds /= 1000
        return datetime.fromtimestamp(float(seconds), tz=timezone.utc)
    text_value = str(value).strip()
    if text_value.endswith("Z"):
        text_value = text_value[:-1] + "+00:00"
    try:
        parsed = datetime.fromisoformat(text_value)
    except ValueError:
        raise ResponseFormatError(f"unreadable timestamp {value!r}") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=timezone.utc)
    return parsed.astimezone(timezone.utc)


def _opt_dec(value: Any) -> Decimal | None:
    if value is None or value == "":
        return None
    try:
        return to_decimal(value)
    except MoneyError:
        return None


def direction(d: Mapping, obj: str) -> tuple[str, str]:
    """(outcome_side, book_side), deriving from the deprecated side/action pair when needed."""
    outcome = d.get("outcome_side")
    book = d.get("book_side")
    if outcome is None and book is None:
        side, action = d.get("side"), d.get("action")
        if side in ("yes", "no") and action in ("buy", "sell"):
            outcome = "yes" if (action == "buy") == (side == "yes") else "no"
        else:
            raise _fail(obj, "outcome_side")
    if outcome is None:
        outcome = "yes" if book == "bid" else "no"
    if book is None:
        book = "bid" if outcome == "yes" else "ask"
    return str(outcome), str(book)


def price_grid(d: Mapping) -> PriceGrid:
    ranges = d.get("price_ranges")
    if ranges:
        return PriceGrid(tuple(
            PriceRange(_num(r["start"], "price_range", "start"), _num(r["end"], "price_range", "end"),
                       _num(r["step"], "price_range", "step"))
            for r in ranges
        ))
    structure = d.get("price_level_structure") or "linear_cent"
    if structure in GRIDS:
        return GRIDS[structure]
    tick = d.get("tick_size")  # legacy: int cents
    if tick is not None:
        step = _num(tick, "market", "tick_size") / 100
        return PriceGrid((PriceRange(step, ONE - step, step),))
    return GRIDS["linear_cent"]


def exchange_status(d: Mapping) -> ExchangeStatus:
    return ExchangeStatus(
        exchange_active=bool(d.get("exchange_active", False)),
        trading_active=bool(d.get("trading_active", False)),
        estimated_resume_time=timestamp(d.get("exchange_estimated_resume_time")),
    )


def market(d: Mapping) -> Market:
    obj = "Market"
    return Market(
        ticker=text(d, "ticker", obj),
        event_ticker=text(d, "event_ticker", obj, ""),
        status=text(d, "status", obj),
        title=text(d, "title", obj, "") or text(d, "yes_sub_title", obj, ""),
        yes_sub_title=text(d, "yes_sub_title", obj, ""),
        no_sub_title=text(d, "no_sub_title", obj, ""),
        open_time=timestamp(d.get("open_time")),
        close_time=timestamp(d.get("close_time")),
        yes_bid=dollars(d, "yes_bid", obj, ZERO),
        yes_bid_size=count(d, "yes_bid_size", obj, ZERO),
        yes_ask=dollars(d, "yes_ask", obj, ZERO),
        yes_ask_size=count(d, "yes_ask_size", obj, ZERO),
        no_bid=dollars(d, "no_bid", obj, ZERO),
        no_ask=dollars(d, "no_ask", obj, ZERO),
        last_price=dollars(d, "last_price", obj, ZERO),
        volume=count(d, "volume", obj, ZERO),
        volume_24h=count(d, "volume_24h", obj, ZERO),
        open_interest=count(d, "open_interest", obj, ZERO),
        result=text(d, "result", obj, ""),
        price_grid=price_grid(d),
        price_level_structure=text(d, "price_level_structure", obj, ""),
        market_type=text(d, "market_type", obj, "binary"),
        rules_primary=text(d, "rules_primary", obj, ""),
        rules_secondary=text(d, "rules_secondary", obj, ""),
        settlement_value=dollars(d, "settlement_value", obj, None),
        expected_expiration_time=timestamp(d.get("expected_expiration_time")),
        strike_type=d.get("strike_type"),
        floor_strike=_opt_dec(d.get("floor_strike")),
        cap_strike=_opt_dec(d.get("cap_strike")),
        can_close_early=bool(d.get("can_close_early", False)),
        fee_waiver_expiration_time=timestamp(d.get("fee_waiver_expiration_time")),
    )


def series(d: Mapping) -> Series:
    obj = "Series"
    return Series(
        ticker=text(d, "ticker", obj),
        title=text(d, "title", obj, ""),
        category=text(d, "category", obj, ""),
        frequency=text(d, "frequency", obj, ""),
        fee_type=text(d, "fee_type", obj, "quadratic"),
        fee_multiplier=_opt_dec(d.get("fee_multiplier")) or ONE,
        tags=tuple(d.get("tags") or ()),
    )


def event(d: Mapping, markets: list | None = None) -> Event:
    obj = "Event"
    nested = d.get("markets") or markets or []
    return Event(
        event_ticker=text(d, "event_ticker", obj),
        series_ticker=text(d, "series_ticker", obj, ""),
        title=text(d, "title", obj, ""),
        sub_title=text(d, "sub_title", obj, ""),
        mutually_exclusive=bool(d.get("mutually_exclusive", False)),
        markets=tuple(market(m) for m in nested),
        strike_date=timestamp(d.get("strike_date")),
        fee_type_override=d.get("fee_type_override"),
        fee_multiplier_override=_opt_dec(d.get("fee_multiplier_override")),
    )


def _levels(raw: Any, cents: bool) -> tuple[PriceLevel, ...]:
    levels = []
    for entry in raw or ():
        price = _num(entry[0], "orderbook", "price")
        if cents:
            price /= 100
        size = _num(entry[1], "orderbook", "count")
        if size > 0:
            levels.append(PriceLevel(price, size))
    # The wire order is not guaranteed (ascending observed, "best to worst" documented): sort, best first.
    levels.sort(key=lambda lvl: lvl.price, reverse=True)
    return tuple(levels)


def orderbook(ticker: str, d: Mapping) -> OrderBook:
    book = d.get("orderbook_fp")
    if book is not None:
        return OrderBook(ticker, _levels(book.get("yes_dollars"), False), _levels(book.get("no_dollars"), False))
    legacy = d.get("orderbook") or {}
    if "yes_dollars" in legacy or "no_dollars" in legacy:
        return OrderBook(ticker, _levels(legacy.get("yes_dollars"), False), _levels(legacy.get("no_dollars"), False))
    return OrderBook(ticker, _levels(legacy.get("yes"), True), _levels(legacy.get("no"), True))


def trade(d: Mapping) -> Trade:
    obj = "Trade"
    taker_outcome = d.get("taker_outcome_side") or d.get("taker_side") or ""
    taker_book = d.get("taker_book_side") or ("bid" if taker_outcome == "yes" else "ask" if taker_outcome else "")
    return Trade(
        trade_id=text(d, "trade_id", obj),
        ticker=text(d, "ticker", obj, "") or text(d, "market_ticker", obj, ""),
        count=count(d, "count", obj),
        yes_price=dollars(d, "yes_price", obj),
        taker_outcome_side=str(taker_outcome),
        taker_book_side=str(taker_book),
        created_time=timestamp(d.get("created_time") or d.get("ts_ms")),
        is_block_trade=bool(d.get("is_block_trade", False)),
    )


def candle(d: Mapping) -> Candle:
    obj = "Candle"
    price = d.get("price") or {}
    yes_bid = d.get("yes_bid") or {}
    yes_ask = d.get("yes_ask") or {}
    return Candle(
        end_period=timestamp(int(d["end_period_ts"])) if "end_period_ts" in d else None,
        yes_bid_close=dollars(yes_bid, "close", obj, None),
        yes_ask_close=dollars(yes_ask, "close", obj, None),
        price_open=dollars(price, "open", obj, None),
        price_high=dollars(price, "high", obj, None),
        price_low=dollars(price, "low", obj, None),
        price_close=dollars(price, "close", obj, None),
        volume=count(d, "volume", obj, ZERO),
        open_interest=count(d, "open_interest", obj, ZERO),
    )


def balance(d: Mapping) -> Balance:
    obj = "Balance"
    if d.get("balance_dollars") is not None:
        cash = _num(d["balance_dollars"], obj, "balance_dollars")
    elif d.get("balance") is not None:
        cash = cents_to_dollars(d["balance"])
    else:
        raise _fail(obj, "balance")
    value = d.get("portfolio_value")
    return Balance(
        balance=cash,
        portfolio_value=cents_to_dollars(value) if value is not None else ZERO,
        updated=timestamp(d.get("updated_ts")),
    )


def market_position(d: Mapping) -> MarketPosition:
    obj = "MarketPosition"
    return MarketPosition(
        ticker=text(d, "ticker", obj),
        position=count(d, "position", obj),
        total_traded=dollars(d, "total_traded", obj, ZERO),
        market_exposure=dollars(d, "market_exposure", obj, ZERO),
        realized_pnl=dollars(d, "realized_pnl", obj, ZERO),
        fees_paid=dollars(d, "fees_paid", obj, ZERO),
        last_updated=timestamp(d.get("last_updated_ts")),
    )


def event_position(d: Mapping) -> EventPosition:
    obj = "EventPosition"
    return EventPosition(
        event_ticker=text(d, "event_ticker", obj),
        total_cost=dollars(d, "total_cost", obj, ZERO),
        total_cost_shares=count(d, "total_cost_shares", obj, ZERO),
        event_exposure=dollars(d, "event_exposure", obj, ZERO),
        realized_pnl=dollars(d, "realized_pnl", obj, ZERO),
        fees_paid=dollars(d, "fees_paid", obj, ZERO),
    )


def fill(d: Mapping) -> Fill:
    obj = "Fill"
    outcome, book = direction(d, obj)
    fee = d.get("fee_cost")
    return Fill(
        fill_id=text(d, "fill_id", obj, "") or text(d, "trade_id", obj),
        trade_id=text(d, "trade_id", obj, ""),
        order_id=text(d, "order_id", obj),
        ticker=text(d, "ticker", obj, "") or text(d, "market_ticker", obj),
        outcome_side=outcome,
        book_side=book,
        count=count(d, "count", obj),
        yes_price=dollars(d, "yes_price", obj),
        is_taker=bool(d.get("is_taker", False)),
        fee=_num(fee, obj, "fee_cost") if fee is not None else ZERO,
        created_time=timestamp(d.get("created_time") or d.get("ts")),
    )


def settlement(d: Mapping) -> Settlement:
    obj = "Settlement"
    revenue = d.get("revenue")
    value = d.get("value")
    fee = d.get("fee_cost")
    return Settlement(
        ticker=text(d, "ticker", obj),
        event_ticker=text(d, "event_ticker", obj, ""),
        market_result=text(d, "market_result", obj),
        yes_count=count(d, "yes_count", obj, ZERO),
        yes_total_cost=dollars(d, "yes_total_cost", obj, ZERO),
        no_count=count(d, "no_count", obj, ZERO),
        no_total_cost=dollars(d, "no_total_cost", obj, ZERO),
        revenue=cents_to_dollars(revenue) if revenue is not None else ZERO,
        settled_time=timestamp(d.get("settled_time")),
        fee=_num(fee, obj, "fee_cost") if fee is not None else ZERO,
        value=cents_to_dollars(value) if value is not None else None,
    )


def order(d: Mapping) -> Order:
    obj = "Order"
    outcome, book = direction(d, obj)
    if d.get("yes_price_dollars") is not None or d.get("yes_price") is not None:
        yes_price = dollars(d, "yes_price", obj)
    else:
        yes_price = ONE - dollars(d, "no_price", obj)
    return Order(
        order_id=text(d, "order_id", obj),
        client_order_id=text(d, "client_order_id", obj, ""),
        ticker=text(d, "ticker", obj),
        outcome_side=outcome,
        book_side=book,
        status=text(d, "status", obj),
        yes_price=yes_price,
        fill_count=count(d, "fill_count", obj, ZERO),
        remaining_count=count(d, "remaining_count", obj, ZERO),
        initial_count=count(d, "initial_count", obj, ZERO),
        taker_fill_cost=dollars(d, "taker_fill_cost", obj, ZERO),
        maker_fill_cost=dollars(d, "maker_fill_cost", obj, ZERO),
        taker_fees=dollars(d, "taker_fees", obj, ZERO),
        maker_fees=dollars(d, "maker_fees", obj, ZERO),
        created_time=timestamp(d.get("created_time")),
        last_update_time=timestamp(d.get("last_update_time")),
        expiration_time=timestamp(d.get("expiration_time")),
        self_trade_prevention_type=d.get("self_trade_prevention_type"),
        order_group_id=d.get("order_group_id"),
        type=text(d, "type", obj, "limit"),
    )


def order_ack(d: Mapping, client_order_id: str = "") -> OrderAck:
    obj = "CreateOrderV2Response"
    return OrderAck(
        order_id=text(d, "order_id", obj),
        client_order_id=text(d, "client_order_id", obj, client_order_id) or client_order_id,
        fill_count=count(d, "fill_count", obj, ZERO),
        remaining_count=count(d, "remaining_count", obj, ZERO),
        average_fill_price=plain_dollars(d, "average_fill_price", obj, None),
        average_fee_paid=plain_dollars(d, "average_fee_paid", obj, None),
        ts=timestamp(d.get("ts_ms")),
    )


def cancel_ack(d: Mapping) -> CancelAck:
    obj = "CancelOrderV2Response"
    return CancelAck(
        order_id=text(d, "order_id", obj),
        client_order_id=text(d, "client_order_id", obj, ""),
        reduced_by=count(d, "reduced_by", obj, ZERO),
        ts=timestamp(d.get("ts_ms")),
    )


def decrease_ack(d: Mapping) -> DecreaseAck:
    obj = "DecreaseOrderV2Response"
    return DecreaseAck(
        order_id=text(d, "order_id", obj),
        client_order_id=text(d, "client_order_id", obj, ""),
        remaining_count=count(d, "remaining_count", obj),
        ts=timestamp(d.get("ts_ms")),
    )


def queue_position(d: Mapping, order_id: str = "") -> QueuePosition:
    obj = "QueuePosition"
    return QueuePosition(
        order_id=text(d, "order_id", obj, order_id) or order_id,
        ticker=text(d, "market_ticker", obj, ""),
        queue_position=count(d, "queue_position", obj),
    )
