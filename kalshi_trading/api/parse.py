"""Wire JSON -> domain models.  The only place wire names are read.

Lenient in names (reference sections 12 and 13.8): current names first (`x_dollars`, `x_fp`), then the
legacy shapes (`x_fixed`, int cents `x`, int counts), unknown keys ignored, numbers accepted in place of
strings.  Strict in shapes: an object that is not an object, a missing required field, a field of the wrong
type (text, flag, list, enum), a number that does not parse or is absurdly large, an unreadable time: each is
a `ResponseFormatError` naming the object and the field (the client adds the endpoint).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Mapping

from kalshi_trading.api.wire import (  # noqa: F401  (re-exported: callers read single values as parse.X)
    as_object,
    cents,
    choice,
    count,
    dollars,
    fail,
    field_list,
    field_obj,
    flag,
    in_unit,
    member,
    number,
    objects,
    one_line,
    optional_decimal,
    optional_member,
    plain_dollars,
    price,
    size,
    text,
    timestamp,
    wrong,
)
from kalshi_trading.errors import ResponseFormatError
from kalshi_trading.models import (
    Balance,
    BookSide,
    CancelAck,
    Candle,
    DecreaseAck,
    Event,
    EventPosition,
    ExchangeStatus,
    Fill,
    HistoricalCutoff,
    Market,
    MarketPosition,
    MarketStatus,
    Order,
    OrderAck,
    OrderBook,
    OrderStatus,
    PriceLevel,
    QueuePosition,
    SelfTradePrevention,
    Series,
    Settlement,
    Side,
    Trade,
)
from kalshi_trading.money import GRIDS, ONE, ZERO, PriceGrid, PriceRange


# The market status older answers used for `finalized` (reference section 13, "Other").
_LEGACY_MARKET_STATUS = {"settled": MarketStatus.FINALIZED}


def direction(d: Mapping, obj: str) -> tuple[Side, BookSide]:
    """(outcome_side, book_side), deriving from the deprecated side/action pair when needed.

    The sides of a binary contract are a closed set: anything else is a format error, never UNKNOWN."""
    outcome = choice(d, "outcome_side", obj, ("yes", "no"), None)
    book = choice(d, "book_side", obj, ("bid", "ask"), None)
    if outcome is None and book is None:
        side, action = d.get("side"), d.get("action")
        if isinstance(side, str) and isinstance(action, str) and side in ("yes", "no") and action in ("buy", "sell"):
            outcome = "yes" if (action == "buy") == (side == "yes") else "no"
        else:
            raise fail(obj, "outcome_side")
    if outcome is None:
        outcome = "yes" if book == "bid" else "no"
    if book is None:
        book = "bid" if outcome == "yes" else "ask"
    return Side(outcome), BookSide(book)


def price_grid(d: Mapping) -> PriceGrid:
    ranges = objects(d, "price_ranges", "Market", required=False)
    if ranges:
        return _grid(ranges)
    structure = d.get("price_level_structure") or "linear_cent"
    if isinstance(structure, str) and structure in GRIDS:
        return GRIDS[structure]
    tick = d.get("tick_size")  # legacy: int cents
    if tick is not None:
        step = number(tick, "Market", "tick_size") / 100
        if not (ZERO < step < ONE / 2):
            raise ResponseFormatError(f"Market field 'tick_size' is {tick!r}, not a tick in cents")
        return PriceGrid((PriceRange(step, ONE - step, step),))
    return GRIDS["linear_cent"]


def _grid(ranges: list[Mapping]) -> PriceGrid:
    parts = []
    for r in ranges:
        start, end, step = (number(r.get(k), "price_range", k) for k in ("start", "end", "step"))
        if step <= 0 or not (0 <= start <= end <= 1):
            raise ResponseFormatError(f"Market field 'price_ranges' has an impossible range {start}..{end} step {step}")
        parts.append(PriceRange(start, end, step))
    return PriceGrid(tuple(parts))


def exchange_status(d: Mapping) -> ExchangeStatus:
    obj = "ExchangeStatus"
    d = as_object(d, obj)
    return ExchangeStatus(
        exchange_active=flag(d, "exchange_active", obj),
        trading_active=flag(d, "trading_active", obj),
        estimated_resume_time=timestamp(d.get("exchange_estimated_resume_time")),
    )


def market(d: Mapping) -> Market:
    obj = "Market"
    d = as_object(d, obj)
    return Market(
        ticker=text(d, "ticker", obj),
        event_ticker=text(d, "event_ticker", obj, ""),
        status=member(d, "status", obj, MarketStatus, MarketStatus.UNKNOWN, _LEGACY_MARKET_STATUS),
        title=text(d, "title", obj, "") or text(d, "yes_sub_title", obj, ""),
        yes_sub_title=text(d, "yes_sub_title", obj, ""),
        no_sub_title=text(d, "no_sub_title", obj, ""),
        open_time=timestamp(d.get("open_time")),
        close_time=timestamp(d.get("close_time")),
        yes_bid=price(d, "yes_bid", obj, ZERO),
        yes_bid_size=size(d, "yes_bid_size", obj, ZERO),
        yes_ask=price(d, "yes_ask", obj, ZERO),
        yes_ask_size=size(d, "yes_ask_size", obj, ZERO),
        no_bid=price(d, "no_bid", obj, ZERO),
        no_ask=price(d, "no_ask", obj, ZERO),
        last_price=price(d, "last_price", obj, ZERO),
        volume=size(d, "volume", obj, ZERO),
        volume_24h=size(d, "volume_24h", obj, ZERO),
        open_interest=size(d, "open_interest", obj, ZERO),
        result=text(d, "result", obj, ""),
        price_grid=price_grid(d),
        price_level_structure=text(d, "price_level_structure", obj, ""),
        market_type=text(d, "market_type", obj, "binary"),
        rules_primary=text(d, "rules_primary", obj, ""),
        rules_secondary=text(d, "rules_secondary", obj, ""),
        settlement_value=price(d, "settlement_value", obj, None),
        expected_expiration_time=timestamp(d.get("expected_expiration_time")),
        strike_type=text(d, "strike_type", obj, None),
        floor_strike=optional_decimal(d.get("floor_strike")),
        cap_strike=optional_decimal(d.get("cap_strike")),
        can_close_early=flag(d, "can_close_early", obj, False),
        fee_waiver_expiration_time=timestamp(d.get("fee_waiver_expiration_time")),
    )


def series(d: Mapping) -> Series:
    obj = "Series"
    d = as_object(d, obj)
    tags = field_list(d, "tags", obj, required=False)
    if not all(isinstance(t, str) for t in tags):
        raise ResponseFormatError("Series field 'tags' must be a list of text")
    return Series(
        ticker=text(d, "ticker", obj),
        title=text(d, "title", obj, ""),
        category=text(d, "category", obj, ""),
        frequency=text(d, "frequency", obj, ""),
        fee_type=text(d, "fee_type", obj, "quadratic"),
        fee_multiplier=optional_decimal(d.get("fee_multiplier")) or ONE,
        tags=tuple(tags),
    )


def event(d: Mapping, markets: list | None = None) -> Event:
    obj = "Event"
    d = as_object(d, obj)
    nested = objects(d, "markets", obj, required=False) or markets or []
    return Event(
        event_ticker=text(d, "event_ticker", obj),
        series_ticker=text(d, "series_ticker", obj, ""),
        title=text(d, "title", obj, ""),
        sub_title=text(d, "sub_title", obj, ""),
        mutually_exclusive=flag(d, "mutually_exclusive", obj, False),
        markets=tuple(market(m) for m in nested),
        strike_date=timestamp(d.get("strike_date")),
        fee_type_override=text(d, "fee_type_override", obj, None),
        fee_multiplier_override=optional_decimal(d.get("fee_multiplier_override")),
    )


def _levels(book: Mapping, key: str, cents: bool) -> tuple[PriceLevel, ...]:
    levels = []
    for entry in field_list(book, key, "OrderBook", required=False):
        if not isinstance(entry, list) or len(entry) < 2:
            raise ResponseFormatError(f"OrderBook field {key!r} has a level that is not a [price, count] pair")
        level_price = number(entry[0], "OrderBook", key) / (100 if cents else 1)
        size = number(entry[1], "OrderBook", key)
        if not (ZERO <= level_price <= ONE):
            raise ResponseFormatError(f"OrderBook field {key!r} has a price outside $0..$1 ({level_price})")
        if size > 0:
            levels.append(PriceLevel(level_price, size))
    # The wire order is not guaranteed (ascending observed, "best to worst" documented): sort, best first.
    levels.sort(key=lambda lvl: lvl.price, reverse=True)
    return tuple(levels)


def orderbook(ticker: str, d: Mapping) -> OrderBook:
    """`orderbook_fp` (current), else the legacy `orderbook`; one of them is required."""
    d = as_object(d, "OrderBookResponse")
    if d.get("orderbook_fp") is not None:
        book = field_obj(d, "orderbook_fp", "OrderBookResponse")
        return OrderBook(ticker, _levels(book, "yes_dollars", False), _levels(book, "no_dollars", False))
    legacy = field_obj(d, "orderbook", "OrderBookResponse") if "orderbook" in d else None
    if legacy is None:
        raise fail("OrderBookResponse", "orderbook_fp")
    if "yes_dollars" in legacy or "no_dollars" in legacy:
        return OrderBook(ticker, _levels(legacy, "yes_dollars", False), _levels(legacy, "no_dollars", False))
    return OrderBook(ticker, _levels(legacy, "yes", True), _levels(legacy, "no", True))


def trade(d: Mapping) -> Trade:
    obj = "Trade"
    d = as_object(d, obj)
    taker_outcome = (choice(d, "taker_outcome_side", obj, ("yes", "no"), "")
                     or choice(d, "taker_side", obj, ("yes", "no"), ""))
    taker_book = (choice(d, "taker_book_side", obj, ("bid", "ask"), "")
                  or ("bid" if taker_outcome == "yes" else "ask" if taker_outcome else ""))
    return Trade(
        trade_id=text(d, "trade_id", obj),
        ticker=text(d, "ticker", obj, "") or text(d, "market_ticker", obj, ""),
        count=size(d, "count", obj),
        yes_price=price(d, "yes_price", obj),
        taker_outcome_side=Side(taker_outcome) if taker_outcome else None,
        taker_book_side=BookSide(taker_book) if taker_book else None,
        created_time=timestamp(d.get("created_time") or d.get("ts_ms")),
        is_block_trade=flag(d, "is_block_trade", obj, False),
    )


def _end_period(d: Mapping, obj: str) -> datetime:
    end = d.get("end_period_ts")
    if end is None:
        raise fail(obj, "end_period_ts")
    if not isinstance(end, int) or isinstance(end, bool):
        raise wrong(obj, "end_period_ts", end, "whole seconds")
    end_period = timestamp(end)
    if end_period is None:  # timestamp() is None only for a missing value
        raise fail(obj, "end_period_ts")
    return end_period


def candle(d: Mapping) -> Candle:
    obj = "Candle"
    d = as_object(d, obj)
    trades, yes_bid, yes_ask = (field_obj(d, k, obj) if d.get(k) is not None else {}
                                for k in ("price", "yes_bid", "yes_ask"))
    return Candle(
        end_period=_end_period(d, obj),
        yes_bid_close=price(yes_bid, "close", obj, None),
        yes_ask_close=price(yes_ask, "close", obj, None),
        price_open=price(trades, "open", obj, None),
        price_high=price(trades, "high", obj, None),
        price_low=price(trades, "low", obj, None),
        price_close=price(trades, "close", obj, None),
        volume=size(d, "volume", obj, ZERO),
        open_interest=size(d, "open_interest", obj, ZERO),
    )


def _hist_price(d: Mapping, name: str, obj: str) -> Any:
    """A historical candle's price: `name_dollars`, else the bare `name` as dollar text (the historical shape;
    an integer there is read as legacy cents, the other reading)."""
    value = d.get(f"{name}_dollars")
    if value is None:
        value = d.get(name)
        if value is None:
            return None
        if isinstance(value, int) and not isinstance(value, bool):
            value = number(value, obj, name) / 100
    result = number(value, obj, name)
    if not (ZERO <= result <= ONE):
        raise ResponseFormatError(f"{obj} field {name!r} is {result}, outside $0..$1")
    return result


def historical_candle(d: Mapping) -> Candle:
    """`MarketCandlestickHistorical`: as `candle`, with OHLC prices as bare dollar strings."""
    obj = "MarketCandlestickHistorical"
    d = as_object(d, obj)
    trades, yes_bid, yes_ask = (field_obj(d, k, obj) if d.get(k) is not None else {}
                                for k in ("price", "yes_bid", "yes_ask"))
    return Candle(
        end_period=_end_period(d, obj),
        yes_bid_close=_hist_price(yes_bid, "close", obj),
        yes_ask_close=_hist_price(yes_ask, "close", obj),
        price_open=_hist_price(trades, "open", obj),
        price_high=_hist_price(trades, "high", obj),
        price_low=_hist_price(trades, "low", obj),
        price_close=_hist_price(trades, "close", obj),
        volume=size(d, "volume", obj, ZERO),
        open_interest=size(d, "open_interest", obj, ZERO),
    )


def historical_cutoff(d: Mapping) -> HistoricalCutoff:
    obj = "HistoricalCutoff"
    d = as_object(d, obj)
    found = {}
    for name in ("market_settled_ts", "trades_created_ts", "orders_updated_ts"):
        when = timestamp(d.get(name))
        if when is None:
            raise fail(obj, name)
        found[name] = when
    return HistoricalCutoff(found["market_settled_ts"], found["trades_created_ts"], found["orders_updated_ts"])


def balance(d: Mapping) -> Balance:
    obj = "Balance"
    d = as_object(d, obj)
    if d.get("balance_dollars") is not None:
        cash = number(d["balance_dollars"], obj, "balance_dollars")
    elif d.get("balance") is not None:
        cash = cents(d, "balance", obj)
    else:
        raise fail(obj, "balance")
    return Balance(
        balance=cash,
        portfolio_value=cents(d, "portfolio_value", obj, ZERO),
        updated=timestamp(d.get("updated_ts")),
    )


def market_position(d: Mapping) -> MarketPosition:
    obj = "MarketPosition"
    d = as_object(d, obj)
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
    d = as_object(d, obj)
    return EventPosition(
        event_ticker=text(d, "event_ticker", obj),
        total_cost=dollars(d, "total_cost", obj, ZERO),
        total_cost_shares=size(d, "total_cost_shares", obj, ZERO),
        event_exposure=dollars(d, "event_exposure", obj, ZERO),
        realized_pnl=dollars(d, "realized_pnl", obj, ZERO),
        fees_paid=dollars(d, "fees_paid", obj, ZERO),
    )


def fill(d: Mapping) -> Fill:
    obj = "Fill"
    d = as_object(d, obj)
    outcome, book = direction(d, obj)
    return Fill(
        fill_id=text(d, "fill_id", obj, "") or text(d, "trade_id", obj),
        trade_id=text(d, "trade_id", obj, ""),
        order_id=text(d, "order_id", obj),
        ticker=text(d, "ticker", obj, "") or text(d, "market_ticker", obj),
        outcome_side=outcome,
        book_side=book,
        count=size(d, "count", obj),
        yes_price=price(d, "yes_price", obj),
        is_taker=flag(d, "is_taker", obj, False),
        fee=plain_dollars(d, "fee_cost", obj, ZERO),
        created_time=timestamp(d.get("created_time") or d.get("ts")),
    )


def settlement(d: Mapping) -> Settlement:
    obj = "Settlement"
    d = as_object(d, obj)
    return Settlement(
        ticker=text(d, "ticker", obj),
        event_ticker=text(d, "event_ticker", obj, ""),
        market_result=text(d, "market_result", obj),
        yes_count=size(d, "yes_count", obj, ZERO),
        yes_total_cost=dollars(d, "yes_total_cost", obj, ZERO),
        no_count=size(d, "no_count", obj, ZERO),
        no_total_cost=dollars(d, "no_total_cost", obj, ZERO),
        revenue=cents(d, "revenue", obj, ZERO),
        settled_time=timestamp(d.get("settled_time")),
        fee=plain_dollars(d, "fee_cost", obj, ZERO),
        value=cents(d, "value", obj, None),
    )


def order(d: Mapping) -> Order:
    obj = "Order"
    d = as_object(d, obj)
    outcome, book = direction(d, obj)
    if d.get("yes_price_dollars") is not None or d.get("yes_price") is not None:
        yes_price = price(d, "yes_price", obj)
    else:
        yes_price = ONE - price(d, "no_price", obj)
    return Order(
        order_id=text(d, "order_id", obj),
        client_order_id=text(d, "client_order_id", obj, ""),
        ticker=text(d, "ticker", obj),
        outcome_side=outcome,
        book_side=book,
        status=member(d, "status", obj, OrderStatus, OrderStatus.UNKNOWN),
        yes_price=yes_price,
        fill_count=size(d, "fill_count", obj, ZERO),
        remaining_count=size(d, "remaining_count", obj, ZERO),
        initial_count=size(d, "initial_count", obj, ZERO),
        taker_fill_cost=dollars(d, "taker_fill_cost", obj, ZERO),
        maker_fill_cost=dollars(d, "maker_fill_cost", obj, ZERO),
        taker_fees=dollars(d, "taker_fees", obj, ZERO),
        maker_fees=dollars(d, "maker_fees", obj, ZERO),
        created_time=timestamp(d.get("created_time")),
        last_update_time=timestamp(d.get("last_update_time")),
        expiration_time=timestamp(d.get("expiration_time")),
        self_trade_prevention_type=optional_member(d, "self_trade_prevention_type", obj, SelfTradePrevention,
                                                   SelfTradePrevention.UNKNOWN),
        order_group_id=text(d, "order_group_id", obj, None),
        type=text(d, "type", obj, "limit"),
    )


def order_ack(d: Mapping, client_order_id: str = "") -> OrderAck:
    obj = "CreateOrderV2Response"
    d = as_object(d, obj)
    return OrderAck(
        order_id=text(d, "order_id", obj),
        client_order_id=text(d, "client_order_id", obj, client_order_id) or client_order_id,
        fill_count=size(d, "fill_count", obj, ZERO),
        remaining_count=size(d, "remaining_count", obj, ZERO),
        average_fill_price=in_unit(plain_dollars(d, "average_fill_price", obj, None), obj, "average_fill_price"),
        average_fee_paid=plain_dollars(d, "average_fee_paid", obj, None),
        ts=timestamp(d.get("ts_ms")),
    )


def cancel_ack(d: Mapping) -> CancelAck:
    obj = "CancelOrderV2Response"
    d = as_object(d, obj)
    return CancelAck(
        order_id=text(d, "order_id", obj),
        client_order_id=text(d, "client_order_id", obj, ""),
        reduced_by=size(d, "reduced_by", obj, ZERO),
        ts=timestamp(d.get("ts_ms")),
    )


def decrease_ack(d: Mapping) -> DecreaseAck:
    obj = "DecreaseOrderV2Response"
    d = as_object(d, obj)
    return DecreaseAck(
        order_id=text(d, "order_id", obj),
        client_order_id=text(d, "client_order_id", obj, ""),
        remaining_count=size(d, "remaining_count", obj),
        ts=timestamp(d.get("ts_ms")),
    )


def queue_position(d: Mapping, order_id: str = "") -> QueuePosition:
    obj = "QueuePosition"
    d = as_object(d, obj)
    return QueuePosition(
        order_id=text(d, "order_id", obj, order_id) or order_id,
        ticker=text(d, "market_ticker", obj, ""),
        queue_position=size(d, "queue_position", obj),
    )


def batch_items(body: Any, sent: int) -> list[Mapping]:
    """The `orders` of a batch answer: objects, one per item sent, in order."""
    items = objects(as_object(body, "the response"), "orders", "the response")
    if len(items) != sent:
        raise ResponseFormatError(f"the response has {len(items)} orders for {sent} sent")
    return items


def item_error(err: Any) -> tuple[str | None, str, str | None]:
    """(code, one-line message, details) of a batch item's `error` (an object, or bare text)."""
    if isinstance(err, dict):
        code = err.get("code")
        code = one_line(code, 80) if isinstance(code, str) and code else None
        message = err.get("message")
        details = err.get("details")
        return (code, one_line(message) if isinstance(message, str) and message else code or "rejected",
                one_line(details) if details not in (None, "", {}, []) else None)
    return None, one_line(err) or "rejected", None
