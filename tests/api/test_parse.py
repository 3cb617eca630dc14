"""Lenient parsing: current names first, the reference's legacy shapes tolerated, unknown keys ignored."""

from decimal import Decimal as D

import pytest

from kalshi_trading.api import parse
from kalshi_trading.errors import ResponseFormatError

MARKET = {
    "ticker": "KXBTCD-26NOV2117-T97500", "event_ticker": "KXBTCD-26NOV2117", "market_type": "binary",
    "yes_sub_title": "$97,500 or above", "no_sub_title": "below", "created_time": "2026-11-21T10:00:00Z",
    "updated_time": "2026-11-21T10:00:00Z", "open_time": "2026-11-21T16:00:00Z", "close_time": "2026-11-21T17:00:00Z",
    "latest_expiration_time": "2026-11-28T17:00:00Z", "settlement_timer_seconds": 60, "status": "active",
    "yes_bid_dollars": "0.4200", "yes_bid_size_fp": "13.00", "yes_ask_dollars": "0.4400", "yes_ask_size_fp": "17.00",
    "no_bid_dollars": "0.5600", "no_ask_dollars": "0.5800", "last_price_dollars": "0.4300", "volume_fp": "120.00",
    "volume_24h_fp": "80.00", "open_interest_fp": "50.00", "result": "", "can_close_early": False,
    "notional_value_dollars": "1.0000", "previous_yes_bid_dollars": "0", "previous_yes_ask_dollars": "0",
    "previous_price_dollars": "0", "expiration_value": "", "rules_primary": "r", "rules_secondary": "",
    "price_level_structure": "tapered_deci_cent",
    "price_ranges": [{"start": "0.001", "end": "0.100", "step": "0.001"},
                     {"start": "0.10", "end": "0.90", "step": "0.01"},
                     {"start": "0.900", "end": "0.999", "step": "0.001"}],
    "floor_strike": 97500, "strike_type": "greater", "brand_new_field": {"x": 1},
}


def test_market_current_shape():
    m = parse.market(MARKET)
    assert m.yes_bid == D("0.42") and m.yes_ask_size == D(17) and m.is_trading
    assert m.price_grid.contains(D("0.055")) and not m.price_grid.contains(D("0.555"))
    assert m.close_time.tzinfo is not None and m.floor_strike == D(97500)


def test_market_legacy_cents():
    legacy = {"ticker": "T", "status": "active", "yes_bid": 42, "yes_ask": 44, "last_price": 43, "volume": 7,
              "tick_size": 1}
    m = parse.market(legacy)
    assert m.yes_bid == D("0.42") and m.volume == D(7) and m.price_grid.contains(D("0.99"))


def test_missing_required_field_is_clear():
    with pytest.raises(ResponseFormatError, match="ticker"):
        parse.market({"status": "active"})
    with pytest.raises(ResponseFormatError, match="count_fp"):
        parse.fill({"fill_id": "f", "order_id": "o", "ticker": "T", "outcome_side": "yes", "book_side": "bid",
                    "yes_price_dollars": "0.5"})


def test_orderbook_current_sorted_best_first():
    book = parse.orderbook("T", {"orderbook_fp": {"yes_dollars": [["0.4000", "5.00"], ["0.4200", "13.00"]],
                                                  "no_dollars": [["0.5600", "17.00"]]}})
    assert book.best_yes_bid.price == D("0.42") and book.best_yes_ask.price == D("0.44")
    assert book.best_yes_ask.count == D(17) and book.mid == D("0.43")


def test_orderbook_legacy_shapes():
    cents = parse.orderbook("T", {"orderbook": {"yes": [[42, 13]], "no": [[56, 17]]}})
    assert cents.best_yes_bid.price == D("0.42") and cents.best_yes_ask.price == D("0.44")
    dollars = parse.orderbook("T", {"orderbook": {"yes_dollars": [["0.420", 13]], "no_dollars": []}})
    assert dollars.best_yes_bid.count == D(13) and dollars.best_yes_ask is None
    empty = parse.orderbook("T", {"orderbook": {}})
    assert empty.mid is None


def test_fill_current_and_deprecated_direction():
    cur = parse.fill({"fill_id": "f1", "trade_id": "f1", "order_id": "o", "ticker": "T", "market_ticker": "T",
                      "outcome_side": "no", "book_side": "ask", "count_fp": "2.50", "yes_price_dollars": "0.6100",
                      "no_price_dollars": "0.3900", "is_taker": True, "fee_cost": "0.016700",
                      "created_time": "2026-11-21T12:00:00.123Z"})
    assert cur.signed_count == D("-2.5") and cur.no_price == D("0.39") and cur.fee == D("0.0167")
    old = parse.fill({"trade_id": "f2", "order_id": "o", "ticker": "T", "side": "no", "action": "sell",
                      "count": 3, "yes_price": 40, "ts": 1700000000})
    # selling NO is buying YES exposure: outcome yes, book bid
    assert (old.outcome_side, old.book_side) == ("yes", "bid") and old.yes_price == D("0.40") and old.fill_id == "f2"


def test_order_and_acks():
    o = parse.order({"order_id": "o", "ticker": "T", "status": "resting", "side": "yes", "action": "buy",
                     "no_price_dollars": "0.4800", "fill_count": 0, "remaining_count": 10, "initial_count": 10})
    assert o.yes_price == D("0.52") and o.book_side == "bid"
    ack = parse.order_ack({"order_id": "o", "fill_count": "1.50", "remaining_count": "8.50",
                           "average_fill_price": "0.5150", "ts_ms": 1700000000000})
    assert ack.fill_count == D("1.5") and ack.average_fill_price == D("0.515")
    assert parse.cancel_ack({"order_id": "o", "reduced_by": "8.50", "ts_ms": 1}).reduced_by == D("8.5")


def test_balance_and_settlement():
    bal = parse.balance({"balance": 99998, "portfolio_value": 150, "updated_ts": 1700000000})
    assert bal.balance == D("999.98") and bal.portfolio_value == D("1.5")
    s = parse.settlement({"ticker": "T", "event_ticker": "E", "market_result": "yes", "yes_count_fp": "10.00",
                          "yes_total_cost_dollars": "5.2000", "no_count_fp": "0.00", "no_total_cost_dollars": "0",
                          "revenue": 1000, "settled_time": "2026-11-21T17:05:00Z", "fee_cost": "0.000000",
                          "value": 100})
    assert s.revenue == D(10) and s.yes_total_cost == D("5.2") and s.value == D(1)


def test_numbers_in_place_of_strings_and_no_float():
    import json

    from kalshi_trading.api.transport import parse_body

    body = parse_body(json.dumps({"yes_price_dollars": 0.1, "count_fp": 3}))
    assert isinstance(body["yes_price_dollars"], D) and body["yes_price_dollars"] == D("0.1")
