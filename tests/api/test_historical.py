"""The historical tier's reads against HTTP-level fakes: the cutoff, paginated trades, candles in both price
readings (bare dollar text, the historical shape; `_dollars`; legacy integer cents), and unreadable answers."""

from __future__ import annotations

from datetime import datetime, timezone
from decimal import Decimal as D

import pytest
import responses

from kalshi_trading.api.client import KalshiClient
from kalshi_trading.api.retry import RetryPolicy
from kalshi_trading.errors import ResponseFormatError, UsageError

BASE = "https://api.test/trade-api/v2"
T = "KXBTCD-26NOV2117-T95000"


@pytest.fixture
def client():
    c = KalshiClient.build(BASE, None, None, rate_tier=None, retry=RetryPolicy(max_attempts=1))
    yield c
    c.close()


@responses.activate
def test_the_cutoff(client):
    responses.get(f"{BASE}/historical/cutoff", json={
        "market_settled_ts": "2026-11-19T00:00:00Z", "trades_created_ts": "2026-11-20T00:00:00Z",
        "orders_updated_ts": "2026-11-20T00:00:00.5Z", "market_positions_last_updated_ts": "2026-11-19T00:00:00Z"})
    cut = client.get_historical_cutoff()
    assert cut.market_settled == datetime(2026, 11, 19, tzinfo=timezone.utc)
    assert cut.trades_created == datetime(2026, 11, 20, tzinfo=timezone.utc)
    assert cut.orders_updated.microsecond == 500_000


@pytest.mark.parametrize("body", [{}, {"market_settled_ts": "2026-11-19T00:00:00Z"},
                                  {"market_settled_ts": "yesterday", "trades_created_ts": 1,
                                   "orders_updated_ts": 1}])
@responses.activate
def test_an_unreadable_cutoff_names_the_endpoint(client, body):
    responses.get(f"{BASE}/historical/cutoff", json=body)
    with pytest.raises(ResponseFormatError, match="GET /historical/cutoff"):
        client.get_historical_cutoff()


@responses.activate
def test_historical_trades_follow_every_page_with_the_same_filters(client):
    def trade(i: int) -> dict:
        return {"trade_id": f"t{i}", "ticker": T, "count_fp": "2.00", "yes_price_dollars": "0.4100",
                "no_price_dollars": "0.5900", "taker_outcome_side": "yes", "taker_book_side": "bid",
                "created_time": "2026-11-01T10:00:00Z"}
    responses.get(f"{BASE}/historical/trades", json={"trades": [trade(1), trade(2)], "cursor": "p2"})
    responses.get(f"{BASE}/historical/trades", json={"trades": [trade(2), trade(3)], "cursor": ""})
    trades = list(client.iter_historical_trades(T, datetime(2026, 11, 1, tzinfo=timezone.utc), 1_800_000_000))
    assert [t.trade_id for t in trades] == ["t1", "t2", "t3"]  # de-duplicated across pages
    assert trades[0].yes_price == D("0.41") and trades[0].count == D(2)
    first, second = (call.request.params for call in responses.calls)
    assert first == {"limit": "1000", "ticker": T, "min_ts": "1793491200", "max_ts": "1800000000"}
    assert second == {**first, "cursor": "p2"}


@responses.activate
def test_historical_candles_read_bare_dollar_text_and_the_other_readings(client):
    responses.get(f"{BASE}/historical/markets/{T}/candlesticks", json={"ticker": T, "candlesticks": [
        {"end_period_ts": 1_700_000_060, "yes_bid": {"open": "0.4000", "low": "0.3900", "high": "0.4100",
                                                     "close": "0.4000"},
         "yes_ask": {"open": "0.4400", "low": "0.4300", "high": "0.4500", "close": "0.4400"},
         "price": {"open": "0.4100", "low": "0.4100", "high": "0.4200", "close": "0.4200", "mean": "0.4150",
                   "previous": None}, "volume": "12.00", "open_interest": "30.00"},
        {"end_period_ts": 1_700_000_120, "yes_bid": {"close_dollars": "0.3800"}, "yes_ask": {"close": 45},
         "price": {"open": None, "close": None}, "volume_fp": "0.00", "open_interest_fp": "30.00"}]})
    first, second = client.get_historical_candlesticks(T, 1_700_000_000, 1_700_000_200, 1)
    assert (first.yes_bid_close, first.yes_ask_close, first.price_close, first.volume) == (
        D("0.4"), D("0.44"), D("0.42"), D(12))
    assert (second.yes_bid_close, second.yes_ask_close, second.price_close) == (D("0.38"), D("0.45"), None)
    assert responses.calls[0].request.params == {"start_ts": "1700000000", "end_ts": "1700000200",
                                                 "period_interval": "1"}


@pytest.mark.parametrize("candle", [{"end_period_ts": 1, "yes_bid": {"close": "1.5"}},
                                    {"end_period_ts": "soon"}, {"yes_bid": {"close": "0.4"}},
                                    {"end_period_ts": 1, "price": {"close": "cheap"}}])
@responses.activate
def test_an_unreadable_historical_candle_names_the_endpoint_and_the_field(client, candle):
    responses.get(f"{BASE}/historical/markets/{T}/candlesticks", json={"candlesticks": [candle]})
    with pytest.raises(ResponseFormatError, match="GET /historical/markets/{ticker}/candlesticks"):
        client.get_historical_candlesticks(T, 0, 10, 60)


def test_a_candle_period_the_exchange_does_not_have_is_refused_before_any_request(client):
    with pytest.raises(UsageError, match="1, 60, 1440"):
        client.get_historical_candlesticks(T, 0, 10, 5)
