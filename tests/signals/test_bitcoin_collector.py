"""The bitcoin spot and Crypto.com history collectors against a loopback server, in the exact shapes of
data-sources.md section 2: success, mids and medians, each documented error envelope, HTTP errors, garbage,
timeouts, stale quotes, and the core quorum."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone
from decimal import Decimal as D

import pytest

from kalshi_trading.errors import ConfigError
from kalshi_trading.signals.collectors.bitcoin import (HistoryCollector, HistoryConfig, SpotCollector, SpotConfig,
                                                       TickerSource)
from kalshi_trading.signals.collectors.tickers import Venue
from kalshi_trading.signals.types import SourceStatus
from tests.signals import shapes
from tests.signals.conftest import NOW, fixed_clock

ISO_NOW = "2026-12-01T17:00:00.123456789Z"  # Coinbase writes nanoseconds
MS_NOW = int(NOW.timestamp() * 1000)
PATHS = {
    "coinbase": "/products/BTC-USD/ticker",
    "coinbase-advanced": "/api/v3/brokerage/market/products/BTC-USD/ticker",
    "kraken": "/0/public/Ticker",
    "bitstamp": "/api/v2/ticker/btcusd/",
    "cryptocom": "/exchange/v1/public/get-tickers",
}


def all_good(sources) -> None:
    sources.set("coinbase", PATHS["coinbase"], shapes.coinbase("100000.00", "100001.00", "100000.10", ISO_NOW))
    sources.set("kraken", PATHS["kraken"], shapes.kraken("100002.00000", "100003.00000", "100002.50000"))
    sources.set("bitstamp", PATHS["bitstamp"], shapes.bitstamp("99999", "100000", "99999", str(int(NOW.timestamp()))))
    sources.set("cryptocom", PATHS["cryptocom"], shapes.cryptocom_ticker("100001.00", "100002.00", "100001.20", MS_NOW))


def spot_config(sources, **kw) -> SpotConfig:
    ages = kw.pop("ages", {})
    core = kw.pop("core", ("coinbase", "kraken", "bitstamp"))
    venues = kw.pop("venues", ("coinbase", "kraken", "bitstamp", "cryptocom"))
    return SpotConfig(tuple(TickerSource(Venue(v), sources.base(v), ages.get(v, 30.0), v in core) for v in venues),
                      timeout=kw.pop("timeout", 2.0), **kw)


def collect(sources, session, **kw):
    with ThreadPoolExecutor(8) as pool:
        return SpotCollector(spot_config(sources, **kw), session, fixed_clock()).collect(pool)


def test_four_sources_median_of_mids(sources, session):
    all_good(sources)
    sample = collect(sources, session)
    mids = {q.source: q.mid for q in sample.quotes}
    # coinbase (100000.00 + 100001.00) / 2 = 100000.50; kraken (100002 + 100003) / 2 = 100002.50;
    # bitstamp (99999 + 100000) / 2 = 99999.50; cryptocom (100001 + 100002) / 2 = 100001.50
    assert mids == {"coinbase": D("100000.50"), "kraken": D("100002.50000"), "bitstamp": D("99999.5"),
                    "cryptocom": D("100001.50")}
    # sorted: 99999.5, 100000.5, 100001.5, 100002.5 -> median (100000.5 + 100001.5) / 2 = 100001.0
    assert sample.spot == D("100001.0")
    assert sample.core_answered == 3 and sample.reason is None
    assert [h.status for h in sample.health] == [SourceStatus.OK] * 4
    assert all(isinstance(q.bid, D) for q in sample.quotes)


def test_the_requests_use_the_real_paths_and_queries(sources, session):
    all_good(sources)
    collect(sources, session)
    assert sources.requests_to("kraken") == [("/ext/kraken/0/public/Ticker", {"pair": "XBTUSD"})]
    assert sources.requests_to("cryptocom") == [("/ext/cryptocom/exchange/v1/public/get-tickers",
                                                 {"instrument_name": "BTC_USD"})]
    assert sources.requests_to("coinbase") == [("/ext/coinbase/products/BTC-USD/ticker", {})]
    assert sources.requests_to("bitstamp") == [("/ext/bitstamp/api/v2/ticker/btcusd/", {})]


def test_coinbase_advanced(sources, session):
    sources.set("coinbase-advanced", PATHS["coinbase-advanced"],
                shapes.coinbase_advanced("100010.01", "100010.03", "100010.02", "2026-12-01T16:59:59.5Z"))
    sample = collect(sources, session, venues=("coinbase-advanced",), core=("coinbase-advanced",), quorum=1)
    (q,) = sample.quotes
    assert q.mid == D("100010.02") and q.at == datetime(2026, 12, 1, 16, 59, 59, 500000, tzinfo=timezone.utc)
    assert sources.requests_to("coinbase-advanced")[0][1] == {"limit": "1"}


def test_one_sided_book_uses_the_last_trade(sources, session):
    sources.set("cryptocom", PATHS["cryptocom"], shapes.cryptocom_ticker(None, "100002.00", "100001.20", MS_NOW))
    sample = collect(sources, session, venues=("cryptocom",), core=("cryptocom",), quorum=1)
    assert sample.spot == D("100001.20")


def test_kraken_is_stamped_on_receipt_and_never_stale(sources, session):
    sources.set("kraken", PATHS["kraken"], shapes.kraken("100002.0", "100003.0", "100002.5"))
    sample = collect(sources, session, venues=("kraken",), core=("kraken",), quorum=1, ages={"kraken": 0.001})
    (q,) = sample.quotes
    assert q.stamped_on_receipt and q.at == q.received_at == NOW


@pytest.mark.parametrize("venue, body, status, status_out, reason", [
    ("kraken", shapes.KRAKEN_UNKNOWN_PAIR, 200, SourceStatus.FAILED, "error list: EQuery:Unknown asset pair"),
    ("cryptocom", shapes.cryptocom("public/get-tickers", {}, code=40003, message="INVALID_REQUEST"), 200,
     SourceStatus.FAILED, "code 40003: INVALID_REQUEST"),
    ("cryptocom", shapes.cryptocom("public/get-tickers", {}, code=10004, message="BAD_REQUEST"), 400,
     SourceStatus.FAILED, "HTTP 400: BAD_REQUEST"),
    ("coinbase", {"message": "NotFound"}, 404, SourceStatus.FAILED, "HTTP 404: NotFound"),
    ("coinbase", "upstream down", 503, SourceStatus.FAILED, "HTTP 503"),
    ("bitstamp", {"status": "error", "reason": "Rate limit exceeded"}, 429, SourceStatus.FAILED,
     "HTTP 429: Rate limit exceeded"),
    ("coinbase", "<html>", 200, SourceStatus.GARBAGE, "not JSON"),
    ("coinbase", ["price", "1"], 200, SourceStatus.GARBAGE, "the body is not an object"),
    ("coinbase", shapes.coinbase("abc", "100001.00", "100000.1", ISO_NOW), 200, SourceStatus.GARBAGE,
     "bid is not a number"),
    ("coinbase", shapes.coinbase("-1", "100001.00", "100000.1", ISO_NOW), 200, SourceStatus.GARBAGE,
     "bid is not a positive price"),
    ("coinbase", shapes.coinbase("NaN", "100001.00", "100000.1", ISO_NOW), 200, SourceStatus.GARBAGE,
     "not a positive price"),
    ("coinbase", {k: v for k, v in shapes.coinbase("1", "2", "1", ISO_NOW).items() if k != "time"}, 200,
     SourceStatus.GARBAGE, "the body has no 'time'"),
    ("coinbase", shapes.coinbase("1", "2", "1", "yesterday"), 200, SourceStatus.GARBAGE, "not an ISO time"),
    ("coinbase", {"bid": None, "ask": None, "price": None, "time": ISO_NOW}, 200, SourceStatus.GARBAGE,
     "no two-sided book and no last price"),
    ("kraken", {"error": [], "result": {"XXBTZUSD": {"a": [], "b": ["1"], "c": ["1"]}}}, 200,
     SourceStatus.GARBAGE, "result pair.a is empty"),
    ("kraken", {"error": [], "result": {"XETHZUSD": {}, "XLTCZUSD": {}}}, 200, SourceStatus.GARBAGE,
     "result has no XXBTZUSD"),
    ("kraken", {"error": "EGeneral:Internal error", "result": {}}, 200, SourceStatus.GARBAGE, "error is not a list"),
    ("bitstamp", shapes.bitstamp("1", "2", "1", "soon"), 200, SourceStatus.GARBAGE, "timestamp is not a timestamp"),
    ("cryptocom", shapes.cryptocom("public/get-tickers", {"data": []}), 200, SourceStatus.GARBAGE,
     "result.data is empty"),
    ("cryptocom", {"id": 1, "method": "public/get-tickers", "code": "oops"}, 200, SourceStatus.GARBAGE,
     "code is not an integer"),
    ("cryptocom", {"id": 1, "method": "public/get-tickers", "code": 0}, 200, SourceStatus.GARBAGE,
     "the body has no 'result'"),
])
def test_each_failure_is_a_health_with_its_reason(sources, session, caplog, venue, body, status, status_out, reason):
    all_good(sources)
    sources.set(venue, PATHS.get(venue, ""), body, status)
    sample = collect(sources, session)
    bad = [h for h in sample.health if h.source == venue]
    assert len(bad) == 1 and bad[0].status is status_out and reason in (bad[0].reason or ""), bad
    assert venue not in sample.sources_used
    assert sample.spot is not None  # the other three still make the quorum: the cycle goes on
    assert sum(reason in r.getMessage() and venue in r.getMessage() for r in caplog.records) == 1


def test_a_timeout_is_skipped(sources, session):
    all_good(sources)
    sources.set("bitstamp", PATHS["bitstamp"], shapes.bitstamp("1", "2", "1", "1"), delay=0.5)
    sample = collect(sources, session, timeout=0.1)
    (h,) = [h for h in sample.health if h.source == "bitstamp"]
    assert h.status is SourceStatus.FAILED and h.reason == "timed out after 0.1 s"
    assert sample.spot == D("100001.50")  # median of 100000.50, 100001.50, 100002.50


def test_stale_quotes_are_dropped(sources, session):
    all_good(sources)
    old = NOW - timedelta(seconds=120)
    sources.set("coinbase", PATHS["coinbase"], shapes.coinbase("1", "2", "1", old.isoformat().replace("+00:00", "Z")))
    sources.set("bitstamp", PATHS["bitstamp"], shapes.bitstamp("1", "2", "1", str(int(old.timestamp()))))
    sample = collect(sources, session, ages={"coinbase": 30.0, "bitstamp": 200.0})
    by = {h.source: h for h in sample.health}
    assert by["coinbase"].status is SourceStatus.STALE and by["coinbase"].reason == "quote is 120 s old (limit 30 s)"
    assert by["bitstamp"].status is SourceStatus.OK  # 120 s is within its 200 s limit


def test_a_quote_from_the_future_is_not_fresh(sources, session):
    all_good(sources)
    ahead = NOW + timedelta(hours=2)
    sources.set("bitstamp", PATHS["bitstamp"], shapes.bitstamp("1", "2", "1", str(int(ahead.timestamp()))))
    sample = collect(sources, session)
    (h,) = [h for h in sample.health if h.source == "bitstamp"]
    assert h.status is SourceStatus.STALE and h.reason == "quote is stamped 7200 s in the future (limit 30 s)"


def test_quorum_failure_means_no_spot(sources, session, caplog):
    all_good(sources)
    sources.set("coinbase", PATHS["coinbase"], "down", 502)
    sources.set("kraken", PATHS["kraken"], shapes.KRAKEN_UNKNOWN_PAIR)
    sample = collect(sources, session)  # bitstamp (core) and cryptocom (not core) answer
    assert sample.spot is None
    assert sample.reason == "quorum not met: 1 of 3 core sources answered (need 2)"
    assert {q.source for q in sample.quotes} == {"bitstamp", "cryptocom"}


def test_sequential_gives_the_same_answer(sources, session):
    all_good(sources)
    seq = SpotCollector(spot_config(sources), session, fixed_clock()).collect(None)
    assert seq.spot == D("100001.0")


@pytest.mark.parametrize("kw, key", [
    ({"quorum": 0}, "bitcoin.quorum"),
    ({"quorum": 4}, "bitcoin.quorum"),
    ({"venues": ()}, "bitcoin.sources"),
    ({"timeout": 0}, "bitcoin.timeout"),
])
def test_bad_spot_config_names_the_key(sources, kw, key):
    with pytest.raises(ConfigError, match=key.replace(".", r"\.")):
        spot_config(sources, **kw)


def test_default_sources_use_production_bases():
    urls = [s.url for s in SpotConfig().sources]
    assert urls == ["https://api.exchange.coinbase.com/products/BTC-USD/ticker",
                    "https://api.kraken.com/0/public/Ticker", "https://www.bitstamp.net/api/v2/ticker/btcusd/",
                    "https://api.crypto.com/exchange/v1/public/get-tickers"]


# --- Crypto.com candles and index ---------------------------------------------------------------------------

CANDLES = "/exchange/v1/public/get-candlestick"
VALUATIONS = "/exchange/v1/public/get-valuations"


def history(sources, session) -> HistoryCollector:
    return HistoryCollector(HistoryConfig(base_url=sources.base("cryptocom")), session, fixed_clock())


def test_candles_and_index(sources, session):
    t0 = MS_NOW - 180_000
    rows = [(t0 + 120_000, "101", "102", "100", "101.5"), (t0, "100", "101", "99", "100.5"),
            (t0 + 60_000, "100.5", "101", "100", "101")]  # out of order on purpose
    sources.set("cryptocom", CANDLES, shapes.cryptocom_candles(rows))
    sources.set("cryptocom", VALUATIONS, shapes.cryptocom_index("50776.73000", MS_NOW))
    with ThreadPoolExecutor(2) as pool:
        h = history(sources, session).collect(pool)
    assert [c.close for c in h.candles] == [D("100.5"), D("101"), D("101.5")]
    assert h.index is not None and h.index.value == D("50776.73000") and h.index.at == NOW
    assert [x.status for x in h.health] == [SourceStatus.OK, SourceStatus.OK]
    queries = dict(sources.requests_to("cryptocom"))
    assert queries[f"/ext/cryptocom{CANDLES}"] == {"instrument_name": "BTC_USD", "timeframe": "1m", "count": "60"}
    assert queries[f"/ext/cryptocom{VALUATIONS}"] == {"instrument_name": "BTCUSD-INDEX",
                                                       "valuation_type": "index_price", "count": "1"}


@pytest.mark.parametrize("candles, index, reasons", [
    (shapes.cryptocom("public/get-candlestick", {}, code=40004, message="Invalid timeframe"),
     shapes.cryptocom("public/get-valuations", {}, code=40003, message="Invalid instrument_name"),
     ("code 40004: Invalid timeframe", "code 40003: Invalid instrument_name")),
    (shapes.cryptocom("public/get-candlestick", {"data": [{"o": "1", "h": "1", "l": "1", "t": 1}]}),
     shapes.cryptocom("public/get-valuations", {"data": [{"v": "x", "t": MS_NOW}]}),
     ("candle has no 'c'", "result.data[0].v is not a number")),
])
def test_history_failures_are_healths(sources, session, candles, index, reasons):
    sources.set("cryptocom", CANDLES, candles)
    sources.set("cryptocom", VALUATIONS, index)
    h = history(sources, session).collect(None)
    assert h.candles == () and h.index is None
    assert [r in (x.reason or "") for x, r in zip(h.health, reasons, strict=True)] == [True, True], h.health


def test_bad_history_config():
    with pytest.raises(ConfigError, match="bitcoin.candles.timeframe"):
        HistoryConfig(timeframe="3m")
