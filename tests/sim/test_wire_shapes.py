"""Every response carries the reference's required keys with the right types; no legacy keys."""

from __future__ import annotations

import re
from decimal import Decimal

import requests

from tests.sim.conftest import order

DOLLARS = re.compile(r"^-?\d+\.\d{4}(\d{2})?$")
FP = re.compile(r"^-?\d+\.\d{2}$")
DT = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$")
LEGACY = {"yes_bid", "yes_ask", "no_bid", "no_ask", "last_price", "volume", "open_interest", "yes_price", "no_price",
          "count", "fill_count", "remaining_count", "position", "market_exposure", "realized_pnl", "fees_paid",
          "total_traded", "taker_fees", "maker_fees", "queue_position", "taker_side", "side", "action", "category",
          "risk_limit_cents", "yes_price_fixed", "tick_size", "resting_orders_count"}

MARKET_REQUIRED = {
    "ticker": str, "event_ticker": str, "market_type": str, "yes_sub_title": str, "no_sub_title": str,
    "created_time": "dt", "updated_time": "dt", "open_time": "dt", "close_time": "dt", "latest_expiration_time": "dt",
    "settlement_timer_seconds": int, "status": str, "yes_bid_dollars": "$", "yes_bid_size_fp": "fp",
    "yes_ask_dollars": "$", "yes_ask_size_fp": "fp", "no_bid_dollars": "$", "no_ask_dollars": "$",
    "last_price_dollars": "$", "volume_fp": "fp", "volume_24h_fp": "fp", "open_interest_fp": "fp", "result": str,
    "can_close_early": bool, "notional_value_dollars": "$", "previous_yes_bid_dollars": "$",
    "previous_yes_ask_dollars": "$", "previous_price_dollars": "$", "expiration_value": str, "rules_primary": str,
    "rules_secondary": str, "price_level_structure": str, "price_ranges": list,
}
ORDER_REQUIRED = {
    "order_id": str, "user_id": str, "client_order_id": str, "ticker": str, "outcome_side": str, "book_side": str,
    "type": str, "status": str, "yes_price_dollars": "$", "no_price_dollars": "$", "fill_count_fp": "fp",
    "remaining_count_fp": "fp", "initial_count_fp": "fp", "taker_fill_cost_dollars": "$",
    "maker_fill_cost_dollars": "$", "taker_fees_dollars": "$", "maker_fees_dollars": "$",
}
FILL_REQUIRED = {
    "fill_id": str, "trade_id": str, "order_id": str, "ticker": str, "market_ticker": str, "exchange_index": int,
    "outcome_side": str, "book_side": str, "count_fp": "fp", "yes_price_dollars": "$", "no_price_dollars": "$",
    "is_taker": bool, "fee_cost": "$",
}
POSITION_REQUIRED = {
    "ticker": str, "exchange_index": int, "position_fp": "fp", "total_traded_dollars": "$",
    "market_exposure_dollars": "$", "realized_pnl_dollars": "$", "fees_paid_dollars": "$", "last_updated_ts": "dt",
}
EVENT_POSITION_REQUIRED = {
    "event_ticker": str, "total_cost_dollars": "$", "total_cost_shares_fp": "fp", "event_exposure_dollars": "$",
    "realized_pnl_dollars": "$", "fees_paid_dollars": "$",
}
SETTLEMENT_REQUIRED = {
    "ticker": str, "event_ticker": str, "exchange_index": int, "market_result": str, "yes_count_fp": "fp",
    "yes_total_cost_dollars": "$", "no_count_fp": "fp", "no_total_cost_dollars": "$", "revenue": int,
    "settled_time": "dt", "fee_cost": "$",
}
EVENT_REQUIRED = {"event_ticker": str, "series_ticker": str, "title": str, "sub_title": str,
                  "collateral_return_type": str, "mutually_exclusive": bool}
SERIES_REQUIRED = {"ticker": str, "frequency": str, "title": str, "category": str, "categories": list,
                   "contract_url": str, "contract_terms_url": str, "fee_type": str, "fee_multiplier": (int, float)}


def check(obj: dict, spec: dict, legacy: set = LEGACY) -> None:
    missing = set(spec) - set(obj)
    assert not missing, f"missing {missing}"
    for key, kind in spec.items():
        value = obj[key]
        if kind == "$":
            assert isinstance(value, str) and DOLLARS.match(value), (key, value)
        elif kind == "fp":
            assert isinstance(value, str) and FP.match(value), (key, value)
        elif kind == "dt":
            assert isinstance(value, str) and DT.match(value), (key, value)
        else:
            assert isinstance(value, kind) and not (kind is int and isinstance(value, bool)), (key, value)
    assert not (legacy & set(obj)), legacy & set(obj)


def _trade(alice, bob, btc):
    bob.post("/portfolio/events/orders", json=order(btc, "ask", "0.52", "2"))
    alice.post("/portfolio/events/orders", json=order(btc, "bid", "0.52", "2"))
    alice.post("/portfolio/events/orders", json=order(btc, "bid", "0.40", "1"))


def test_market_shapes(alice, bob, btc):
    _trade(alice, bob, btc)
    markets = requests.get(alice.base_url + "/markets", params={"limit": 1000}, timeout=10).json()["markets"]
    assert markets
    for m in markets:
        check(m, MARKET_REQUIRED)
        assert m["status"] in ("initialized", "inactive", "active", "closed", "determined", "disputed", "amended",
                               "finalized")
        for r in m["price_ranges"]:
            assert set(r) == {"start", "end", "step"} and all(DOLLARS.match(v) for v in r.values())
    structures = {m["price_level_structure"] for m in markets}
    assert {"linear_cent", "tapered_deci_cent", "deci_cent"} <= structures
    one = requests.get(alice.base_url + f"/markets/{btc}", timeout=10).json()["market"]
    assert one["last_price_dollars"] == "0.5200" and one["volume_fp"] == "2.00" and one["open_interest_fp"] == "2.00"
    assert one["yes_bid_dollars"] == "0.4000" and one["no_ask_dollars"] == "0.6000"
    # an empty ask side shows as the exchange shows it: ask 1.0000 x 0, NO bid 0.0000 (never crossed)
    assert one["yes_ask_dollars"] == "1.0000" and one["yes_ask_size_fp"] == "0.00" and one["no_bid_dollars"] == "0.0000"


def test_portfolio_shapes(alice, bob, btc):
    _trade(alice, bob, btc)
    bal = alice.get("/portfolio/balance").json()
    assert isinstance(bal["balance"], int) and isinstance(bal["portfolio_value"], int)
    assert DOLLARS.match(bal["balance_dollars"]) and isinstance(bal["updated_ts"], int)
    for o in alice.get("/portfolio/orders").json()["orders"]:
        check(o, ORDER_REQUIRED)
        assert Decimal(o["yes_price_dollars"]) + Decimal(o["no_price_dollars"]) == 1
    for f in alice.get("/portfolio/fills").json()["fills"]:
        check(f, FILL_REQUIRED)
        assert len(f["fee_cost"].split(".")[1]) == 6
    pos = alice.get("/portfolio/positions").json()
    assert set(pos) >= {"market_positions", "event_positions", "cursor"}
    for p in pos["market_positions"]:
        check(p, POSITION_REQUIRED)
    for e in pos["event_positions"]:
        check(e, EVENT_POSITION_REQUIRED)


def test_settlement_shape(alice, bob, server, btc):
    _trade(alice, bob, btc)
    server.exchange.settle(btc, "yes")
    s = alice.get("/portfolio/settlements").json()["settlements"]
    assert len(s) == 1
    check(s[0], SETTLEMENT_REQUIRED)
    assert s[0]["revenue"] == 200 and s[0]["value"] == 100


def test_events_series_exchange_shapes(alice, btc, server):
    base = alice.base_url
    get = lambda p, **q: requests.get(base + p, params=q, timeout=10)  # noqa: E731
    events = get("/events", with_nested_markets="true").json()
    assert events["cursor"] == "" or isinstance(events["cursor"], str)
    for e in events["events"]:
        check(e, EVENT_REQUIRED)
        for m in e["markets"]:
            check(m, MARKET_REQUIRED)
    temp = next(e for e in events["events"] if e["series_ticker"] == "KXHIGHNY")
    assert temp["mutually_exclusive"] is True
    assert {m.get("strike_type") for m in temp["markets"]} == {"less", "between", "greater"}
    one = get(f"/events/{temp['event_ticker']}").json()
    assert set(one) == {"event", "markets"} and one["markets"]
    for s in get("/series").json()["series"]:
        check(s, SERIES_REQUIRED, LEGACY - {"category"})
    assert get("/series/KXBTCD").json()["series"]["fee_type"] == "quadratic_with_maker_fees"
    assert "series_fee_change_arr" in get("/series/fee_changes", show_historical="true").json()
    status = get("/exchange/status").json()
    assert status["exchange_active"] is True and status["trading_active"] is True
    assert "standard_hours" in get("/exchange/schedule").json()["schedule"]
    assert DT.match(get("/exchange/user_data_timestamp").json()["as_of_time"])
    assert set(get("/historical/cutoff").json()) >= {"market_settled_ts", "trades_created_ts", "orders_updated_ts"}
    costs = get("/account/endpoint_costs").json()
    assert costs["default_cost"] == 10 and isinstance(costs["endpoint_costs"], list)
    limits = alice.get("/account/limits").json()
    assert set(limits) >= {"usage_tier", "read", "write", "grants"}


def test_orderbook_shape(alice, bob, btc):
    for p in ("0.40", "0.42", "0.41"):
        alice.post("/portfolio/events/orders", json=order(btc, "bid", p, "1"))
    for p in ("0.60", "0.58"):
        bob.post("/portfolio/events/orders", json=order(btc, "ask", p, "2"))
    book = requests.get(alice.base_url + f"/markets/{btc}/orderbook", timeout=10).json()
    assert set(book) == {"orderbook_fp"}
    ob = book["orderbook_fp"]
    assert ob["yes_dollars"] == [["0.4000", "1.00"], ["0.4100", "1.00"], ["0.4200", "1.00"]]
    assert ob["no_dollars"] == [["0.4000", "2.00"], ["0.4200", "2.00"]]  # asks 0.60/0.58 as NO bids, best last
    top = requests.get(alice.base_url + f"/markets/{btc}/orderbook", params={"depth": 1}, timeout=10).json()
    assert top["orderbook_fp"] == {"yes_dollars": [["0.4200", "1.00"]], "no_dollars": [["0.4200", "2.00"]]}
    deep = requests.get(alice.base_url + f"/markets/{btc}/orderbook", params={"depth": 101}, timeout=10)
    assert deep.status_code == 400
    many = requests.get(alice.base_url + "/markets/orderbooks", params=[("tickers", btc), ("tickers", btc)], timeout=10)
    assert [b["ticker"] for b in many.json()["orderbooks"]] == [btc, btc]


def test_market_filters(alice, server):
    base = alice.base_url
    get = lambda **q: requests.get(base + "/markets", params=q, timeout=10)  # noqa: E731
    assert all(m["status"] == "active" for m in get(status="open", limit=1000).json()["markets"])
    assert all(m["status"] == "initialized" for m in get(status="unopened", limit=1000).json()["markets"])
    assert get(status="unopened").json()["markets"]
    assert get(status="bogus").status_code == 400
    assert get(min_created_ts=1, min_close_ts=1).status_code == 400
    assert get(min_close_ts=1, status="open").status_code == 400
    assert get(min_close_ts=1, status="closed").status_code == 200
    assert get(limit=1001).status_code == 400
    assert get(limit=0).status_code == 400
    one = get(series_ticker="KXRAINNYC").json()["markets"]
    assert one and all(m["ticker"].startswith("KXRAINNYC") for m in one)
    pages, cursor = [], None
    while True:
        body = get(limit=7, **({"cursor": cursor} if cursor else {})).json()
        pages += body["markets"]
        cursor = body["cursor"]
        if not cursor:
            break
    assert len(pages) == len(server.exchange.engine.markets) and cursor == ""
