"""Candlesticks as the official kalshi-typescript 3.30.0 models declare them, and one representation of
an empty book side everywhere (markets, candles, WebSocket ticker), so no quote is ever crossed.

The model checker below encodes what models/market-candlestick.ts, bid-ask-distribution.ts and
price-distribution.ts of the 3.30.0 package declare (read there, written here): every
MarketCandlestick key is required; BidAskDistribution's four `*_dollars` are required strings;
every PriceDistribution key is an optional string (absent, never null).  An empty ask shows as
"1.0000" with size "0.00" (an empty bid as "0.0000"), as the real exchange shows them.
"""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
import requests

from kalshi_trading.sim import wire
from tests.sim.conftest import T0, order
from tests.sim.wshelp import Feed, open_ws

D = Decimal
DOLLARS = re.compile(r"^\d+\.\d{4}(\d{2})?$")
FP = re.compile(r"^\d+\.\d{2}$")
ORDERS = "/portfolio/events/orders"
S0 = T0 // 1000  # on a minute boundary

# 3.30.0: key -> (kind, required)
BID_ASK = {k: ("$", True) for k in ("open_dollars", "low_dollars", "high_dollars", "close_dollars")}
PRICE = {k: ("$", False) for k in ("open_dollars", "low_dollars", "high_dollars", "close_dollars", "mean_dollars",
                                   "previous_dollars", "min_dollars", "max_dollars")}
CANDLE = {"end_period_ts": (int, True), "yes_bid": (BID_ASK, True), "yes_ask": (BID_ASK, True),
          "price": (PRICE, True), "volume_fp": ("fp", True), "open_interest_fp": ("fp", True)}


def check_model(obj, model: dict, where: str = "candle") -> None:
    """Required keys present, no key outside the model, no null, each value of the declared type."""
    assert isinstance(obj, dict), where
    missing = [k for k, (_, required) in model.items() if required and k not in obj]
    assert not missing, (where, missing, obj)
    extra = set(obj) - set(model)
    assert not extra, (where, extra)
    for key, value in obj.items():
        kind = model[key][0]
        assert value is not None, (where, key)
        if isinstance(kind, dict):
            check_model(value, kind, f"{where}.{key}")
        elif kind == "$":
            assert isinstance(value, str) and DOLLARS.match(value), (where, key, value)
        elif kind == "fp":
            assert isinstance(value, str) and FP.match(value), (where, key, value)
        else:
            assert isinstance(value, kind) and not isinstance(value, bool), (where, key, value)


def assert_not_crossed_candle(c: dict) -> None:
    """Open and close are simultaneous samples; a bid low/high is never above the ask low/high."""
    bid, ask = c["yes_bid"], c["yes_ask"]
    for key in ("open_dollars", "close_dollars", "low_dollars", "high_dollars"):
        assert D(bid[key]) <= D(ask[key]), (key, c)
    for side in (bid, ask):
        assert D(side["low_dollars"]) <= min(D(side["open_dollars"]), D(side["close_dollars"]))
        assert D(side["high_dollars"]) >= max(D(side["open_dollars"]), D(side["close_dollars"]))


def assert_not_crossed_market(m: dict) -> None:
    yb, ya, nb, na = (D(m[k]) for k in ("yes_bid_dollars", "yes_ask_dollars", "no_bid_dollars", "no_ask_dollars"))
    assert yb <= ya and nb <= na, m["ticker"]
    assert ya + nb == 1 and yb + na == 1, m["ticker"]
    assert D(m["previous_yes_bid_dollars"]) <= D(m["previous_yes_ask_dollars"]), m["ticker"]
    if D(m["yes_ask_size_fp"]) == 0:
        assert ya == 1, m["ticker"]
    if D(m["yes_bid_size_fp"]) == 0:
        assert yb == 0, m["ticker"]


def candles(who, ticker: str, start: int, end: int, period: int = 1, **extra) -> list[dict]:
    params = {"start_ts": start, "end_ts": end, "period_interval": period, **extra}
    r = requests.get(f"{who.base_url}/series/KXBTCD/markets/{ticker}/candlesticks", params=params, timeout=10)
    assert r.status_code == 200, r.text
    body = r.json()
    assert set(body) == {"ticker", "candlesticks"} and body["ticker"] == ticker
    for c in body["candlesticks"]:
        check_model(c, CANDLE)
        assert_not_crossed_candle(c)
    return body["candlesticks"]


@pytest.fixture
def history(server, alice, bob, btc):
    """A market with bids and no asks for two minutes (first trade at 0.97 in the second), then an
    ask at 0.99 and a second trade there; five minutes of quote samples in all."""
    ex = server.exchange
    assert bob.post(ORDERS, json=order(btc, "bid", "0.97", "5")).status_code == 201
    ex.advance(60)
    market = bob.get(f"/markets/{btc}").json()["market"]
    assert market["yes_ask_dollars"] == "1.0000" and market["yes_ask_size_fp"] == "0.00"  # no asks: not "0.0000"
    assert market["yes_bid_dollars"] == "0.9700" and market["no_bid_dollars"] == "0.0000"
    assert market["no_ask_dollars"] == "0.0300"
    assert alice.post(ORDERS, json=order(btc, "ask", "0.97", "1", "immediate_or_cancel")).json()["fill_count"] == "1.00"
    ex.advance(60)
    assert bob.post(ORDERS, json=order(btc, "ask", "0.99", "2")).status_code == 201
    ex.advance(60)
    assert alice.post(ORDERS, json=order(btc, "bid", "0.99", "1", "immediate_or_cancel")).json()["fill_count"] == "1.00"
    ex.advance(120)
    return btc


def test_minute_candles_follow_the_models(alice, history):
    got = candles(alice, history, S0 - 60, S0 + 300)
    assert [c["end_period_ts"] for c in got] == [S0 + 60 * i for i in range(1, 6)]
    first, trade1, quiet, trade2, last = got
    # an empty ask is 1.0000 in candles too (it was "0.0000" beside bids of 0.9700)
    assert first["yes_bid"] == wire._ohlc(9700, 9700, 9700, 9700)
    assert first["yes_ask"] == wire._ohlc(10_000, 10_000, 10_000, 10_000)
    assert first["price"] == {} and first["volume_fp"] == "0.00"
    # the window holding the market's first trade: prices, no previous (the model lets it be absent)
    assert trade1["price"] == {"open_dollars": "0.9700", "low_dollars": "0.9700", "high_dollars": "0.9700",
                               "close_dollars": "0.9700", "mean_dollars": "0.9700", "min_dollars": "0.9700",
                               "max_dollars": "0.9700"}
    assert trade1["volume_fp"] == "1.00" and trade1["open_interest_fp"] == "1.00"
    # no trade: only the previous price; the ask arrived during the minute
    assert quiet["price"] == {"previous_dollars": "0.9700"}
    assert quiet["yes_ask"] == {"open_dollars": "1.0000", "low_dollars": "0.9900", "high_dollars": "1.0000",
                                "close_dollars": "0.9900"}
    assert trade2["price"]["previous_dollars"] == "0.9700" and trade2["price"]["close_dollars"] == "0.9900"
    assert last["price"] == {"previous_dollars": "0.9900"}
    assert last["yes_bid"]["close_dollars"] == "0.9700" and last["yes_ask"]["close_dollars"] == "0.9900"


def test_synthetic_candle_carries_the_previous_quote(alice, history):
    for start, before_end, previous in ((S0 + 200, S0 + 180, "0.9700"), (S0 + 61, S0 + 60, None),
                                        (S0 + 250, S0 + 240, "0.9900")):
        plain = candles(alice, history, start, S0 + 300)
        with_synthetic = candles(alice, history, start, S0 + 300, include_latest_before_start="true")
        assert with_synthetic[1:] == plain
        synthetic = with_synthetic[0]
        [real_before] = [c for c in candles(alice, history, S0 - 60, S0 + 300) if c["end_period_ts"] == before_end]
        assert synthetic["end_period_ts"] == -(-start // 60) * 60
        assert synthetic["yes_bid"] == real_before["yes_bid"] and synthetic["yes_ask"] == real_before["yes_ask"]
        assert synthetic["price"] == ({} if previous is None else {"previous_dollars": previous})
        assert synthetic["volume_fp"] == "0.00" and synthetic["open_interest_fp"] == real_before["open_interest_fp"]


def test_no_synthetic_candle_without_history(alice, history):
    plain = candles(alice, history, S0 - 600, S0 + 300)
    assert candles(alice, history, S0 - 600, S0 + 300, include_latest_before_start="true") == plain


def test_hourly_and_batch_candles(alice, history):
    [hour] = candles(alice, history, S0 - 3600, S0 + 300, period=60)
    assert hour["end_period_ts"] == S0 + 1800  # 14:30 + 30 min = 15:00
    assert hour["yes_bid"]["open_dollars"] == "0.9700"
    assert hour["yes_ask"] == {"open_dollars": "1.0000", "low_dollars": "0.9900", "high_dollars": "1.0000",
                               "close_dollars": "0.9900"}
    assert hour["price"]["open_dollars"] == "0.9700" and hour["price"]["close_dollars"] == "0.9900"
    assert hour["price"]["mean_dollars"] == "0.9800" and "previous_dollars" not in hour["price"]
    assert hour["volume_fp"] == "2.00"
    r = requests.get(f"{alice.base_url}/markets/candlesticks", timeout=10, params={
        "market_tickers": history, "start_ts": S0 + 200, "end_ts": S0 + 300, "period_interval": 1,
        "include_latest_before_start": "true"})
    [entry] = r.json()["markets"]
    assert set(entry) == {"market_ticker", "candlesticks"} and entry["market_ticker"] == history
    for c in entry["candlesticks"]:
        check_model(c, CANDLE)
    assert entry["candlesticks"] == candles(alice, history, S0 + 200, S0 + 300, include_latest_before_start="true")


def test_a_period_without_a_quote_sample_carries_the_last_one():
    """Pure: rows as `candles.aggregate` gives them, one with a trade but no quote sample."""
    quote = [4000, 4200, 3900, 4100, 4500, 4600, 4400, 4400] + [None] * 4 + [0, 0, 7]
    trade_only = [None] * 8 + [4200, 4200, 4200, 4200, 4200 * 300, 300, 0]
    out = wire.candles([(60, quote, None), (120, trade_only, None)], 0, 1, False)
    assert out[1]["yes_bid"] == wire._ohlc(4100, 4100, 4100, 4100)
    assert out[1]["yes_ask"] == wire._ohlc(4400, 4400, 4400, 4400)
    assert out[1]["open_interest_fp"] == "0.07" and out[1]["volume_fp"] == "3.00"
    lone = wire.candles([(60, trade_only, None)], 0, 1, False)[0]  # nothing sampled yet: both sides empty
    assert lone["yes_bid"] == wire._ohlc(0, 0, 0, 0) and lone["yes_ask"] == wire._ohlc(10_000, 10_000, 10_000, 10_000)
    for c in out + [lone]:
        check_model(c, CANDLE)


def test_no_quote_is_ever_crossed_in_markets_candles_and_ws_ticker(server, alice, bob, btc):
    other = next(t for t, m in server.exchange.engine.markets.items()
                 if m.status == "active" and m.series_ticker == "KXBTCD" and t != btc)
    with open_ws(server, alice) as ws:
        feed = Feed(ws)
        _, [sub] = feed.subscribe(["ticker"], [btc, other], send_initial_snapshot=True)
        assert sub["type"] == "subscribed"
        steps = [(bob, btc, "bid", "0.97", "5"), (bob, other, "ask", "0.03", "2"),  # one side each
                 (alice, btc, "ask", "0.97", "1", "immediate_or_cancel"), (bob, btc, "ask", "0.99", "2"),
                 (alice, other, "bid", "0.03", "2", "immediate_or_cancel"),  # `other` empty again
                 (alice, btc, "bid", "0.99", "2", "immediate_or_cancel")]  # btc's asks gone again
        for who, ticker, side, price, count, *tif in steps:
            assert who.post(ORDERS, json=order(ticker, side, price, count, *tif)).status_code == 201
            server.exchange.advance(30)
        tickers = [f["msg"] for f in feed.drain() if f["type"] == "ticker"]
    assert len(tickers) >= len(steps)
    seen = set()
    for t in tickers:
        bid, ask = D(t["yes_bid_dollars"]), D(t["yes_ask_dollars"])
        assert bid <= ask, t
        if D(t["yes_ask_size_fp"]) == 0:
            assert ask == 1, t
        if D(t["yes_bid_size_fp"]) == 0:
            assert bid == 0, t
        seen.add((t["market_ticker"], t["yes_bid_dollars"], t["yes_ask_dollars"]))
    assert (btc, "0.9700", "1.0000") in seen and (other, "0.0000", "0.0300") in seen
    assert (other, "0.0000", "1.0000") in seen  # both sides empty
    markets = requests.get(f"{alice.base_url}/markets", params={"limit": 1000}, timeout=10).json()["markets"]
    assert markets
    for m in markets:
        assert_not_crossed_market(m)
    by_ticker = {m["ticker"]: m for m in markets}
    assert by_ticker[btc]["yes_ask_dollars"] == "1.0000" and by_ticker[btc]["no_bid_dollars"] == "0.0000"
    for ticker in (btc, other):
        assert candles(alice, ticker, S0 - 60, S0 + 400)  # checked (model, not crossed) inside
        assert candles(alice, ticker, S0 + 100, S0 + 400, include_latest_before_start="true")
