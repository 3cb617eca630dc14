"""End to end: concurrent clients, and background participants over real HTTP."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal

import pytest

from kalshi_trading.sim.clock import ManualClock
from kalshi_trading.sim.runtime import start_embedded
from tests.sim.conftest import T0, Signed, order

pytestmark = pytest.mark.e2e


def test_concurrent_clients_keep_the_books_consistent(server, alice, bob, btc):
    def work(args):
        client, side, i = args
        price = f"0.{45 + i % 10}" if side == "bid" else f"0.{50 + i % 10}"
        return client.post("/portfolio/events/orders", json=order(btc, side, price, "1")).status_code

    jobs = [(alice if i % 2 else bob, "bid" if i % 2 else "ask", i) for i in range(80)]
    with ThreadPoolExecutor(8) as pool:
        codes = list(pool.map(work, jobs))
    assert set(codes) == {201}
    engine = server.exchange.engine
    assert not engine.books[btc].is_crossed()
    a = engine.by_key[alice.key_id]
    b = engine.by_key[bob.key_id]
    filled_a = sum(f.qty for f in a.fills)
    filled_b = sum(f.qty for f in b.fills)
    assert filled_a == filled_b == engine.markets[btc].volume


def test_participants_provide_liquidity_over_http(tmp_path):
    clock = ManualClock(T0)
    with start_embedded(tmp_path, seed=11, participants=True, clock=clock) as srv:
        acct = srv.demo_account
        client = Signed(srv.base_url, acct.key_id, acct.private_key_path)
        srv.exchange.advance(3)
        ticker = min((m for m in srv.exchange.engine.markets.values()
                      if m.status == "active" and m.series_ticker == "KXBTCD"), key=lambda m: abs(m.fair - 0.5)).ticker
        market = client.get(f"/markets/{ticker}").json()["market"]
        ask = Decimal(market["yes_ask_dollars"])
        assert ask > 0 and Decimal(market["yes_ask_size_fp"]) > 0
        r = client.post("/portfolio/events/orders", json=order(ticker, "bid", str(ask), "1", "immediate_or_cancel"))
        assert r.json()["fill_count"] == "1.00"
        srv.exchange.advance(120)
        trades = client.get("/markets/trades", params={"limit": 1000}).json()["trades"]
        assert len(trades) > 1
        start = T0 // 1000 - 60
        candles = client.get(f"/series/KXBTCD/markets/{ticker}/candlesticks",
                             params={"start_ts": start, "end_ts": start + 600, "period_interval": 1}).json()
        assert candles["ticker"] == ticker and candles["candlesticks"]
        c = candles["candlesticks"][0]
        assert set(c) >= {"end_period_ts", "yes_bid", "yes_ask", "price", "volume_fp", "open_interest_fp"}
        assert set(c["yes_bid"]) == {"open_dollars", "low_dollars", "high_dollars", "close_dollars"}
        hourly = client.get(f"/series/KXBTCD/markets/{ticker}/candlesticks",
                            params={"start_ts": start, "end_ts": start + 600, "period_interval": 60}).json()
        assert len(hourly["candlesticks"]) <= 2
        assert client.get(f"/series/KXBTCD/markets/{ticker}/candlesticks",
                          params={"start_ts": start, "end_ts": start + 600, "period_interval": 5}).status_code == 400
