"""Private channels (fill, user_orders, market_positions) reach only their owner; public trade and
ticker; market_lifecycle_v2 on settlement and listing."""

from __future__ import annotations

import pytest

from tests.sim.wshelp import Feed, open_ws

FILL_KEYS = {"trade_id", "order_id", "market_ticker", "is_taker", "outcome_side", "book_side", "yes_price_dollars",
             "count_fp", "fee_cost", "post_position_fp", "ts_ms"}
POSITION_KEYS = {"user_id", "market_ticker", "position_fp", "position_cost_dollars", "realized_pnl_dollars",
                 "fees_paid_dollars", "position_fee_cost_dollars", "volume_fp"}
ORDER_KEYS = {"order_id", "user_id", "client_order_id", "ticker", "status", "outcome_side", "book_side",
              "yes_price_dollars", "fill_count_fp", "remaining_count_fp", "initial_count_fp", "created_ts_ms",
              "last_updated_ts_ms", "exchange_index"}
TICKER_KEYS = {"market_ticker", "market_id", "price_dollars", "yes_bid_dollars", "yes_ask_dollars", "yes_bid_size_fp",
               "yes_ask_size_fp", "last_trade_size_fp", "volume_fp", "open_interest_fp", "dollar_volume",
               "dollar_open_interest", "ts_ms"}
TRADE_KEYS = {"trade_id", "market_ticker", "yes_price_dollars", "no_price_dollars", "count_fp", "taker_outcome_side",
              "taker_book_side", "ts_ms"}
PRIVATE = ["fill", "user_orders", "market_positions"]


def _place(who, ticker, side, price, count, **extra) -> dict:
    body = {"ticker": ticker, "side": side, "price": price, "count": count, "time_in_force": "good_till_canceled",
            "self_trade_prevention_type": "taker_at_cross", **extra}
    r = who.post("/portfolio/events/orders", json=body)
    assert r.status_code == 201, r.text
    return r.json()


@pytest.fixture
def two(server, alice, bob):
    with open_ws(server, alice) as wa, open_ws(server, bob) as wb:
        yield Feed(wa), Feed(wb)


def test_private_channels_only_to_the_owner(server, alice, bob, btc, two):
    fa, fb = two
    fa.subscribe(PRIVATE)
    fb.subscribe(PRIVATE)
    resting = _place(alice, btc, "bid", "0.40", "10", client_order_id="a-1")
    taker = _place(bob, btc, "ask", "0.40", "4", time_in_force="immediate_or_cancel")
    a, b = fa.drain(), fb.drain()
    assert all(f["type"] in ("fill", "user_order", "market_position") for f in a + b)
    assert "seq" not in {k for f in a + b for k in f}
    a_fills = [f["msg"] for f in a if f["type"] == "fill"]
    b_fills = [f["msg"] for f in b if f["type"] == "fill"]
    assert len(a_fills) == 1 and len(b_fills) == 1
    af, bf = a_fills[0], b_fills[0]
    assert FILL_KEYS <= set(af) and FILL_KEYS <= set(bf)
    assert af["order_id"] == resting["order_id"] and bf["order_id"] == taker["order_id"]
    assert af["trade_id"] == bf["trade_id"]
    assert (af["is_taker"], af["outcome_side"], af["book_side"]) == (False, "yes", "bid")
    assert (bf["is_taker"], bf["outcome_side"], bf["book_side"]) == (True, "no", "ask")
    assert af["yes_price_dollars"] == bf["yes_price_dollars"] == "0.4000"
    assert af["count_fp"] == "4.00" and af["post_position_fp"] == "4.00" and bf["post_position_fp"] == "-4.00"
    assert af["client_order_id"] == "a-1" and "client_order_id" not in bf
    # fees match the REST fills exactly
    rest_a = alice.get("/portfolio/fills").json()["fills"][0]
    rest_b = bob.get("/portfolio/fills").json()["fills"][0]
    assert af["fee_cost"] == rest_a["fee_cost"] and bf["fee_cost"] == rest_b["fee_cost"]
    # orders: only one's own, final state
    a_orders = [f["msg"] for f in a if f["type"] == "user_order"]
    b_orders = [f["msg"] for f in b if f["type"] == "user_order"]
    assert {o["order_id"] for o in a_orders} == {resting["order_id"]}
    assert {o["order_id"] for o in b_orders} == {taker["order_id"]}
    assert all(ORDER_KEYS <= set(o) for o in a_orders + b_orders)
    assert a_orders[-1]["status"] == "resting" and a_orders[-1]["fill_count_fp"] == "4.00"
    assert a_orders[-1]["remaining_count_fp"] == "6.00" and a_orders[-1]["client_order_id"] == "a-1"
    assert b_orders[-1]["status"] == "canceled" or b_orders[-1]["status"] == "executed"
    # positions
    [ap] = [f["msg"] for f in a if f["type"] == "market_position"]
    [bp] = [f["msg"] for f in b if f["type"] == "market_position"]
    assert POSITION_KEYS <= set(ap) and ap["position_fp"] == "4.00" and bp["position_fp"] == "-4.00"
    rest_pos = alice.get("/portfolio/positions").json()["market_positions"][0]
    assert ap["position_cost_dollars"] == rest_pos["market_exposure_dollars"]
    assert ap["fees_paid_dollars"] == rest_pos["fees_paid_dollars"]
    # a cancel reaches only alice
    assert alice.delete(f"/portfolio/events/orders/{resting['order_id']}").status_code == 200
    a, b = fa.drain(), fb.drain()
    assert [f["msg"]["status"] for f in a if f["type"] == "user_order"] == ["canceled"]
    assert b == []


def test_private_channel_market_filter(server, alice, bob, btc, two):
    other = next(t for t, m in server.exchange.engine.markets.items() if m.status == "active" and t != btc)
    fa, _ = two
    fa.subscribe(["user_orders"], [other])
    _place(alice, btc, "bid", "0.10", "1")
    assert fa.drain() == []
    _place(alice, other, "bid", "0.02", "1")
    assert [f["msg"]["ticker"] for f in fa.drain()] == [other]


def test_trade_and_ticker_are_public(server, alice, bob, btc, two):
    fa, fb = two
    _, [t] = fb.subscribe(["trade"])
    _, [k] = fb.subscribe(["ticker"], [btc], send_initial_snapshot=True)
    initial = fb.recv()
    assert initial["type"] == "ticker" and TICKER_KEYS == set(initial["msg"]) and "seq" not in initial
    _place(alice, btc, "bid", "0.40", "10")
    _place(alice, btc, "ask", "0.48", "3")
    _place(bob, btc, "ask", "0.40", "4", time_in_force="immediate_or_cancel")
    frames = fb.drain()
    trades = [f for f in frames if f["type"] == "trade"]
    assert len(trades) == 1 and trades[0]["sid"] == t["msg"]["sid"]
    tr = trades[0]["msg"]
    assert TRADE_KEYS <= set(tr) and tr["count_fp"] == "4.00" and tr["yes_price_dollars"] == "0.4000"
    assert (tr["taker_outcome_side"], tr["taker_book_side"], tr["no_price_dollars"]) == ("no", "ask", "0.6000")
    tickers = [f["msg"] for f in frames if f["type"] == "ticker"]
    assert tickers and all(f["sid"] == k["msg"]["sid"] for f in frames if f["type"] == "ticker")
    last = tickers[-1]
    market = bob.get(f"/markets/{btc}").json()["market"]
    assert last["yes_bid_dollars"] == market["yes_bid_dollars"] == "0.4000"
    assert last["yes_ask_dollars"] == market["yes_ask_dollars"] == "0.4800"
    assert last["yes_bid_size_fp"] == "6.00" and last["last_trade_size_fp"] == "4.00"
    assert last["volume_fp"] == market["volume_fp"] and last["price_dollars"] == "0.4000"
    assert isinstance(last["dollar_volume"], int)


def test_lifecycle_on_settle(server, alice, bob, btc, two):
    fa, _ = two
    _place(alice, btc, "bid", "0.40", "2")
    _place(bob, btc, "ask", "0.40", "2")
    fa.subscribe(["market_lifecycle_v2", "market_positions"])
    server.exchange.settle(btc, "yes")
    frames = fa.drain()
    life = [f["msg"] for f in frames if f["type"] == "market_lifecycle_v2"]
    assert [m["event_type"] for m in life] == ["close_date_updated", "determined", "settled"]
    assert all(m["market_ticker"] == btc for m in life)
    assert life[-1]["result"] == "yes" and life[-1]["settlement_value"] == "1.0000"
    assert isinstance(life[-1]["settled_ts"], int) and life[-1]["settled_ts"] < 10**11  # seconds
    [pos] = [f["msg"] for f in frames if f["type"] == "market_position"]
    assert pos["position_fp"] == "0.00" and pos["market_ticker"] == btc
    settlement = alice.get("/portfolio/settlements").json()["settlements"][0]
    assert settlement["revenue"] == 200


def test_lifecycle_on_listing(server, alice, two):
    fa, _ = two
    fa.subscribe(["market_lifecycle_v2"])
    server.exchange.advance(3600)
    frames = fa.drain()
    kinds = {f["type"] for f in frames}
    assert {"market_lifecycle_v2", "event_lifecycle"} <= kinds
    created = [f["msg"] for f in frames if f["type"] == "market_lifecycle_v2" and f["msg"]["event_type"] == "created"]
    assert created and all(isinstance(m["open_ts"], int) and isinstance(m["close_ts"], int) for m in created)
    event = next(f["msg"] for f in frames if f["type"] == "event_lifecycle")
    assert event["event_ticker"] and event["series_ticker"]
