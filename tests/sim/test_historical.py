"""The historical tier over real HTTP: markets settled before the cutoff, their trades, fills, orders and
positions leave the live endpoints for /historical/*, and the move survives a restart."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

import pytest
import requests

from kalshi_trading.sim.exchange import KEEP_FINALIZED_MS
from kalshi_trading.sim.runtime import start_embedded
from tests.sim.conftest import Signed, active_market, order

DAY_S = 86_400


def _ts(text: str) -> int:
    return int(datetime.fromisoformat(text).timestamp() * 1000)


@pytest.fixture
def traded(server, alice, bob):
    """Alice buys 2 YES @ 0.40 from Bob in the rain market, rests one more bid and cancels it; settled YES."""
    ticker = active_market(server, "KXRAINNYC")
    assert bob.post("/portfolio/events/orders", json=order(ticker, "ask", "0.40", "2")).status_code == 201
    taken = alice.post("/portfolio/events/orders", json=order(ticker, "bid", "0.40", "2", client_order_id="take"))
    assert taken.json()["fill_count"] == "2.00"
    rest = alice.post("/portfolio/events/orders", json=order(ticker, "bid", "0.10", "1")).json()["order_id"]
    alice.delete(f"/portfolio/events/orders/{rest}")
    fee = Decimal(alice.get("/portfolio/fills", params={"ticker": ticker}).json()["fills"][0]["fee_cost"])
    server.exchange.settle(ticker, "yes")
    return {"ticker": ticker, "order_id": taken.json()["order_id"], "fee": fee,
            "event": server.exchange.engine.markets[ticker].event_ticker}


def _pass_cutoff(server):
    server.exchange.advance(KEEP_FINALIZED_MS / 1000 + 120)


def test_cutoff_shape_and_market_still_live_before_it(server, alice, traded):
    cut = requests.get(alice.base_url + "/historical/cutoff", timeout=10).json()
    assert set(cut) == {"market_settled_ts", "trades_created_ts", "orders_updated_ts",
                        "market_positions_last_updated_ts"}
    settled = server.exchange.engine.markets[traded["ticker"]].settled_ms
    assert _ts(cut["market_settled_ts"]) < settled  # not yet before the cutoff: still live
    assert alice.get(f"/markets/{traded['ticker']}").json()["market"]["status"] == "finalized"
    assert alice.get(f"/historical/markets/{traded['ticker']}").status_code == 404
    assert alice.get("/historical/fills").json()["fills"] == []


def test_settled_market_and_its_records_move_after_the_cutoff(server, alice, traded):
    ticker = traded["ticker"]
    _pass_cutoff(server)
    cut = alice.get("/historical/cutoff").json()
    settled = server.exchange.extras.history.markets[ticker].settled_ms
    assert _ts(cut["market_settled_ts"]) > settled
    # the market: gone from /markets, served by /historical/markets
    assert alice.get(f"/markets/{ticker}").status_code == 404
    assert ticker not in [m["ticker"] for m in alice.get("/markets", params={"limit": 1000}).json()["markets"]]
    got = alice.get(f"/historical/markets/{ticker}").json()["market"]
    assert got["status"] == "finalized" and got["result"] == "yes" and got["settlement_value_dollars"] == "1.0000"
    listed = alice.get("/historical/markets", params={"tickers": ticker}).json()
    assert [m["ticker"] for m in listed["markets"]] == [ticker] and listed["cursor"] == ""
    by_event = alice.get("/historical/markets", params={"event_ticker": traded["event"]}).json()["markets"]
    assert ticker in [m["ticker"] for m in by_event]
    # its event is still served at /events (the real exchange keeps events forever)
    assert alice.get(f"/events/{traded['event']}").status_code == 200
    # public trades
    assert alice.get("/markets/trades", params={"ticker": ticker}).json()["trades"] == []
    trades = requests.get(alice.base_url + "/historical/trades", params={"ticker": ticker}, timeout=10).json()
    assert [(t["count_fp"], t["yes_price_dollars"]) for t in trades["trades"]] == [("2.00", "0.4000")]
    assert _ts(trades["trades"][0]["created_time"]) < _ts(cut["trades_created_ts"])
    # the account's fill and its finished orders
    assert alice.get("/portfolio/fills", params={"ticker": ticker}).json()["fills"] == []
    fills = alice.get("/historical/fills", params={"ticker": ticker}).json()["fills"]
    assert [(f["order_id"], f["count_fp"], f["is_taker"]) for f in fills] == [(traded["order_id"], "2.00", True)]
    assert traded["order_id"] not in [o["order_id"] for o in alice.get("/portfolio/orders").json()["orders"]]
    assert alice.get(f"/portfolio/orders/{traded['order_id']}").status_code == 404
    orders = alice.get("/historical/orders", params={"ticker": ticker}).json()["orders"]
    assert {o["status"] for o in orders} == {"executed", "canceled"} and len(orders) == 2
    # the settled position, P&L exact: 2 x (1.00 - 0.40) = 1.20 realized, fees apart
    pos = alice.get("/historical/positions", params={"ticker": ticker}).json()
    row = pos["market_positions"][0]
    assert row["position_fp"] == "0.00" and row["total_traded_dollars"] == "0.8000"
    assert row["realized_pnl_dollars"] == "1.2000" and Decimal(row["fees_paid_dollars"]) == traded["fee"]
    assert pos["event_positions"][0]["event_ticker"] == traded["event"]


def test_counterparty_and_private_reads_are_per_account(server, alice, bob, traded):
    _pass_cutoff(server)
    ticker = traded["ticker"]
    row = bob.get("/historical/positions").json()["market_positions"][0]
    assert row["ticker"] == ticker and row["realized_pnl_dollars"] == "-1.2000"
    assert [f["book_side"] for f in bob.get("/historical/fills").json()["fills"]] == ["ask"]
    for path in ("/historical/fills", "/historical/orders", "/historical/positions"):
        assert requests.get(alice.base_url + path, timeout=10).status_code == 401


def test_historical_candles_shape(server, alice, traded):
    ticker = traded["ticker"]
    server.save()  # finished candle minutes go to the store, where the historical tier reads them
    _pass_cutoff(server)
    server.save()
    now = server.clock.now_ms() // 1000
    r = alice.get(f"/historical/markets/{ticker}/candlesticks",
                  params={"start_ts": now - 5 * DAY_S, "end_ts": now, "period_interval": 60}).json()
    assert r["ticker"] == ticker and r["candlesticks"]
    for candle in r["candlesticks"]:
        assert set(candle) == {"end_period_ts", "yes_bid", "yes_ask", "price", "volume", "open_interest"}
        for side in ("yes_bid", "yes_ask"):
            assert all(isinstance(candle[side][k], str) for k in ("open", "low", "high", "close"))
            assert Decimal(candle["yes_bid"]["close"]) <= Decimal(candle["yes_ask"]["close"])  # never crossed
        assert set(candle["price"]) == {"open", "low", "high", "close", "mean", "previous"}
    traded_candles = [c for c in r["candlesticks"] if c["price"]["close"] is not None]
    assert traded_candles and traded_candles[0]["price"]["close"] == "0.4000" and traded_candles[0]["volume"] == "2.00"
    bad = alice.get(f"/historical/markets/{ticker}/candlesticks",
                    params={"start_ts": 0, "end_ts": 1, "period_interval": 5})
    assert bad.status_code == 400
    live = active_market(server, "KXBTCD")
    missing = alice.get(f"/historical/markets/{live}/candlesticks",
                        params={"start_ts": 0, "end_ts": 1, "period_interval": 1})
    assert missing.status_code == 404


def test_filters_and_validation(server, alice, traded):
    _pass_cutoff(server)
    r = alice.get("/historical/markets", params={"tickers": traded["ticker"], "event_ticker": traded["event"]})
    assert r.status_code == 400 and r.json()["error"]["code"] == "invalid_parameters"
    assert alice.get("/historical/markets", params={"limit": 1001}).status_code == 400
    assert alice.get("/historical/markets", params={"mve_filter": "only"}).json()["markets"] == []
    assert alice.get("/historical/trades", params={"is_block_trade": "true"}).json()["trades"] == []
    assert alice.get("/historical/fills", params={"ticker": "NOPE"}).json()["fills"] == []
    assert alice.get("/historical/markets/NOPE").status_code == 404


def test_history_survives_a_restart(tmp_path, server, alice, traded):
    _pass_cutoff(server)
    server.stop()
    acct = server.demo_account
    with start_embedded(tmp_path, participants=False, clock=server.clock) as again:
        client = Signed(again.base_url, acct.key_id, acct.private_key_path)
        assert client.get(f"/historical/markets/{traded['ticker']}").status_code == 200
        assert len(client.get("/historical/fills").json()["fills"]) == 1
        assert len(client.get("/historical/orders").json()["orders"]) == 2
        assert client.get("/historical/positions").json()["market_positions"][0]["realized_pnl_dollars"] == "1.2000"
        assert client.get(f"/markets/{traded['ticker']}").status_code == 404


def test_the_tier_keeps_fourteen_days(server, alice, traded):
    from kalshi_trading.sim.history import HISTORY_KEEP_MS

    _pass_cutoff(server)
    assert alice.get(f"/events/{traded['event']}").status_code == 200
    server.exchange.advance(HISTORY_KEEP_MS / 1000 + 120)
    assert alice.get(f"/historical/markets/{traded['ticker']}").status_code == 404
    assert alice.get("/historical/fills").json()["fills"] == []
    assert alice.get("/historical/orders").json()["orders"] == []
    assert alice.get("/historical/positions").json()["market_positions"] == []
    assert alice.get(f"/events/{traded['event']}").status_code == 404  # none of its markets remain anywhere
    assert alice.get("/portfolio/settlements").json()["settlements"]  # settlements stay on the live endpoint
