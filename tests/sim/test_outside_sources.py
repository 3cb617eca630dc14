"""The simulator's loopback copies of outside sources (`/ext/<source>` + the real path), read with bare `requests`
and checked against the shapes of data-sources.md sections 1 and 2 (never against our connectors)."""

from __future__ import annotations

import math
import re
from datetime import datetime, timezone
from decimal import Decimal

import pytest
import requests

from kalshi_trading.sim import outside_btc
from tests.sim.conftest import T0

NYC = {"latitude": "40.7794", "longitude": "-73.9692"}
DAILY = {**NYC, "daily": "temperature_2m_max", "temperature_unit": "fahrenheit", "timezone": "America/New_York",
         "forecast_days": "3"}
PRICE = re.compile(r"^\d+(\.\d+)?$")


@pytest.fixture
def ext(server):
    root = server.base_url[: -len("/trade-api/v2")] + "/ext"

    def get(path: str, **params) -> requests.Response:
        return requests.get(root + path, params=params, timeout=10)

    assert outside_btc.condition(7, outside_btc.flaky_venue(7), T0) == outside_btc.OK  # T0 is a calm block
    return get


def _spot(server) -> Decimal:
    return Decimal(repr(server.exchange.world.path.latest()[1]))


def _near(text: str, spot: Decimal, within: str = "0.002") -> bool:
    return abs(Decimal(text) - spot) <= spot * Decimal(within)


# ---- Open-Meteo ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("model, members", [("ncep_gefs_seamless", 31), ("gfs_seamless", 31),
                                            ("ecmwf_ifs025_ensemble", 51), ("ecmwf_ifs025", 51)])
def test_ensemble_shape_and_member_counts(server, ext, model, members):
    r = ext("/open-meteo-ensemble/v1/ensemble", **DAILY, models=model)
    assert r.status_code == 200 and r.headers["Content-Type"] == "application/json"
    body = r.json()
    assert set(body) == {"latitude", "longitude", "generationtime_ms", "utc_offset_seconds", "timezone",
                         "timezone_abbreviation", "elevation", "daily_units", "daily"}
    assert (body["latitude"], body["longitude"]) == (40.78, -73.97)
    assert (body["utc_offset_seconds"], body["timezone"], body["timezone_abbreviation"]) == \
        (-18000, "America/New_York", "EST")
    daily = body["daily"]
    assert daily["time"] == ["2026-11-21", "2026-11-22", "2026-11-23"]  # local dates from today (09:30 EST)
    keys = [k for k in daily if k != "time"]
    assert keys == ["temperature_2m_max"] + [f"temperature_2m_max_member{i:02d}" for i in range(1, members)]
    assert body["daily_units"] == {"time": "iso8601", **{k: "°F" for k in keys}}
    for values in (daily[k] for k in keys):
        assert len(values) == 3 and all(v is None or isinstance(v, float) for v in values)
        assert all(v is None or v == round(v, 1) for v in values)


def test_members_are_drawn_around_the_day_that_settles_kxhighny(server, ext):
    """The ensemble centres on the same true high that settles the KXHIGHNY event of that day."""
    world = server.exchange.world
    body = ext("/open-meteo-ensemble/v1/ensemble", **DAILY, models="ecmwf_ifs025_ensemble").json()["daily"]
    for i, day in enumerate(body["time"]):
        ticker = "KXHIGHNY-" + datetime.fromisoformat(day).strftime("%y%b%d").upper()
        values = [v[i] for k, v in body.items() if k != "time" and v[i] is not None]
        mean = sum(values) / len(values)
        assert abs(mean - world.true_high(ticker)) < 6.0  # a forecast, not the answer: within a few degrees
        assert 0.2 < max(values) - min(values) < 20.0
    today = "KXHIGHNY-26NOV21"
    truth = world.true_high(today)
    assert truth == world.temps[today][0]  # the listed event holds the same value
    market = next(m for m in server.exchange.engine.markets.values() if m.event_ticker == today)
    server.exchange.advance((market.close_ms - server.clock.now_ms()) / 1000 + 100)
    settled = server.exchange.engine.markets.get(market.ticker) or server.exchange.extras.history.markets[market.ticker]
    assert settled.status == "finalized" and settled.expiration_value == str(math.floor(truth + 0.5))


def test_ensemble_celsius_several_models_and_nulls(server, ext):
    f = ext("/open-meteo-ensemble/v1/ensemble", **DAILY, models="gfs_seamless").json()
    c = ext("/open-meteo-ensemble/v1/ensemble", **{**DAILY, "temperature_unit": "celsius"}, models="gfs_seamless")
    c = c.json()
    assert c["daily_units"]["temperature_2m_max"] == "°C"
    for key in f["daily"]:
        if key != "time":
            for vf, vc in zip(f["daily"][key], c["daily"][key], strict=True):
                assert (vf is None) == (vc is None)
                assert vf is None or abs((vf - 32) * 5 / 9 - vc) <= 0.05 * 5 / 9 + 0.05 + 1e-9  # both rounded
    default = ext("/open-meteo-ensemble/v1/ensemble", **{k: v for k, v in DAILY.items() if k != "temperature_unit"},
                  models="gfs_seamless").json()
    assert default["daily_units"]["temperature_2m_max"] == "°C"  # Open-Meteo's default unit
    both = ext("/open-meteo-ensemble/v1/ensemble", **DAILY, models="ncep_gefs_seamless,ecmwf_ifs025_ensemble").json()
    keys = set(both["daily"]) - {"time"}
    assert "temperature_2m_max_ncep_gefs_seamless" in keys
    assert "temperature_2m_max_member50_ecmwf_ifs025_ensemble" in keys
    assert len(keys) == 31 + 51 and all(re.match(r"^temperature_2m_max(_member\d{2})?_(ncep_gefs_seamless|"
                                                 r"ecmwf_ifs025_ensemble)$", k) for k in keys)
    long = ext("/open-meteo-ensemble/v1/ensemble", **{**DAILY, "forecast_days": "35", "past_days": "2"},
               models="ecmwf_ifs025").json()["daily"]
    assert len(long["time"]) == 37 and long["time"][0] == "2026-11-19"
    nulls = sum(v is None for k, vs in long.items() if k != "time" for v in vs)
    assert 0 < nulls < 0.1 * 37 * 50
    assert all(v is not None for v in long["temperature_2m_max"])  # the control run always has a value


@pytest.mark.parametrize("change, reason", [
    ({"models": "gfs_ensemble_025"}, "Cannot initialize MultiDomains from invalid String value gfs_ensemble_025."),
    ({"models": ""}, "Parameter 'models' is required"),
    ({"latitude": ""}, "Parameter 'latitude' is required"),
    ({"latitude": "91"}, "Latitude must be in range of -90 to 90°. Given: 91."),
    ({"longitude": "x"}, "Cannot initialize Float from invalid String value x for key longitude"),
    ({"forecast_days": "36"}, "Forecast days is invalid. Allowed range 0 to 35. Given 36."),
    ({"past_days": "93"}, "Past days is invalid. Allowed range 0 to 92. Given 93."),
    ({"temperature_unit": "kelvin"}, "Cannot initialize TemperatureUnit from invalid String value kelvin."),
    ({"timezone": "Mars/Olympus"}, "Invalid timezone: Mars/Olympus"),
    ({"timezone": ""}, "Parameter 'timezone' is required when requesting daily data"),
    ({"daily": "rain_sum"}, "Cannot initialize EnsembleVariableDaily from invalid String value rain_sum."),
])
def test_ensemble_errors_are_400_with_the_envelope(ext, change, reason):
    params = {**DAILY, "models": "gfs_seamless", **change}
    r = ext("/open-meteo-ensemble/v1/ensemble", **params)
    assert r.status_code == 400 and r.json() == {"error": True, "reason": reason}


def test_forecast_fallback_keys(server, ext):
    one = ext("/open-meteo/v1/forecast", **DAILY, models="gfs_seamless").json()
    assert set(one["daily"]) == {"time", "temperature_2m_max"} and len(one["daily"]["temperature_2m_max"]) == 3
    plain = ext("/open-meteo/v1/forecast", **DAILY).json()  # best_match
    assert set(plain["daily"]) == {"time", "temperature_2m_max"}
    two = ext("/open-meteo/v1/forecast", **DAILY, models="gfs_seamless,ecmwf_ifs025").json()
    assert set(two["daily"]) == {"time", "temperature_2m_max_gfs_seamless", "temperature_2m_max_ecmwf_ifs025"}
    assert two["daily_units"]["temperature_2m_max_gfs_seamless"] == "°F"
    assert two["daily"]["temperature_2m_max_gfs_seamless"] == one["daily"]["temperature_2m_max"]
    bad = ext("/open-meteo/v1/forecast", **DAILY, models="ncep_gefs_seamless")  # an ensemble-only name
    assert bad.status_code == 400 and bad.json()["error"] is True
    assert ext("/open-meteo/v1/forecast", **{**DAILY, "forecast_days": "17"}).status_code == 400
    assert ext("/open-meteo/v1/ensemble", **DAILY, models="gfs_seamless").status_code == 404  # not on this host


def test_summer_dates_and_offset_follow_new_york_time(server, ext):
    july = int(datetime(2027, 7, 1, 3, 30, tzinfo=timezone.utc).timestamp() * 1000)  # 23:30 EDT, June 30
    server.exchange.advance((july - server.clock.now_ms()) / 1000)
    body = ext("/open-meteo-ensemble/v1/ensemble", **DAILY, models="gfs_seamless").json()
    assert (body["utc_offset_seconds"], body["timezone_abbreviation"]) == (-14400, "EDT")
    assert body["daily"]["time"][0] == "2027-06-30"
    gmt = ext("/open-meteo-ensemble/v1/ensemble", **{**DAILY, "timezone": "GMT"}, models="gfs_seamless").json()
    assert (gmt["utc_offset_seconds"], gmt["timezone"], gmt["daily"]["time"][0]) == (0, "GMT", "2027-07-01")


# ---- bitcoin tickers ------------------------------------------------------------------------------------------


def test_coinbase_exchange_ticker(server, ext):
    body = ext("/coinbase/products/BTC-USD/ticker").json()
    assert {"trade_id", "price", "size", "bid", "ask", "volume", "time"} <= set(body)
    assert isinstance(body["trade_id"], int)
    assert all(isinstance(body[k], str) and PRICE.match(body[k]) for k in ("price", "size", "bid", "ask", "volume"))
    assert Decimal(body["bid"]) < Decimal(body["ask"]) and Decimal(body["bid"]) <= Decimal(body["price"])
    assert _near(body["price"], _spot(server))
    assert body["time"] == "2026-11-21T14:30:00.000000Z"
    missing = ext("/coinbase/products/ETH-USD/ticker")
    assert missing.status_code == 404 and missing.json() == {"message": "NotFound"}


def test_coinbase_advanced_ticker(server, ext):
    body = ext("/coinbase-advanced/api/v3/brokerage/market/products/BTC-USD/ticker", limit=3).json()
    assert set(body) == {"trades", "best_bid", "best_ask"} and "price" not in body
    assert len(body["trades"]) == 3
    trade = body["trades"][0]
    assert {"price", "size", "time", "side", "trade_id", "product_id"} <= set(trade)
    assert trade["side"] in ("BUY", "SELL")
    assert [t["time"] for t in body["trades"]] == ["2026-11-21T14:30:00.000000Z", "2026-11-21T14:29:59.000000Z",
                                                    "2026-11-21T14:29:58.000000Z"]
    assert Decimal(body["best_bid"]) < Decimal(body["best_ask"]) and _near(body["best_bid"], _spot(server))
    no_limit = ext("/coinbase-advanced/api/v3/brokerage/market/products/BTC-USD/ticker")
    assert no_limit.status_code == 400 and no_limit.json()["error"] == "INVALID_ARGUMENT"


def test_kraken_ticker(server, ext):
    body = ext("/kraken/0/public/Ticker", pair="XBTUSD").json()
    assert body["error"] == [] and list(body["result"]) == ["XXBTZUSD"]
    t = body["result"]["XXBTZUSD"]
    assert {"a", "b", "c", "v", "p", "t", "l", "h", "o"} <= set(t)
    assert len(t["a"]) == 3 and len(t["b"]) == 3 and len(t["c"]) == 2
    assert all(isinstance(x, str) for k in "abcvplh" for x in t[k]) and all(isinstance(n, int) for n in t["t"])
    assert re.match(r"^\d+\.\d0000$", t["a"][0])  # a 0.1 tick written with 5 decimals
    assert Decimal(t["b"][0]) < Decimal(t["a"][0]) and _near(t["c"][0], _spot(server))
    unknown = ext("/kraken/0/public/Ticker", pair="DOGEXYZ")
    assert unknown.status_code == 200 and unknown.json() == {"error": ["EQuery:Unknown asset pair"]}


def test_bitstamp_ticker(server, ext):
    r = ext("/bitstamp/api/v2/ticker/btcusd/")
    body = r.json()
    assert {"timestamp", "last", "bid", "ask", "open", "high", "low", "volume", "vwap"} <= set(body)
    assert all(isinstance(v, str) for v in body.values())
    assert body["timestamp"] == str(T0 // 1000)
    assert Decimal(body["low"]) <= Decimal(body["bid"]) < Decimal(body["ask"]) <= Decimal(body["high"])
    assert _near(body["last"], _spot(server))
    assert ext("/bitstamp/api/v2/ticker/ethusd/").status_code == 404


def test_sources_differ_by_a_small_basis(server, ext):
    mids = {
        "coinbase": ext("/coinbase/products/BTC-USD/ticker").json(),
        "bitstamp": ext("/bitstamp/api/v2/ticker/btcusd/").json(),
    }
    values = {name: (Decimal(b["bid"]) + Decimal(b["ask"])) / 2 for name, b in mids.items()}
    kraken = ext("/kraken/0/public/Ticker", pair="XBTUSD").json()["result"]["XXBTZUSD"]
    values["kraken"] = (Decimal(kraken["a"][0]) + Decimal(kraken["b"][0])) / 2
    tick = ext("/cryptocom/exchange/v1/public/get-tickers", instrument_name="BTC_USD").json()["result"]["data"][0]
    values["cryptocom"] = (Decimal(tick["b"]) + Decimal(tick["k"])) / 2
    spot = _spot(server)
    assert all(_near(str(v), spot, "0.001") for v in values.values())
    assert len(set(values.values())) == 4


# ---- Crypto.com REST ----------------------------------------------------------------------------------------


def _cro(ext, method: str, **params) -> requests.Response:
    return ext(f"/cryptocom/exchange/v1/{method}", **params)


def test_cryptocom_tickers_and_book(server, ext):
    body = _cro(ext, "public/get-tickers", instrument_name="BTC_USD").json()
    assert set(body) == {"id", "method", "code", "result"} and body["method"] == "public/get-tickers"
    assert body["code"] == 0 and isinstance(body["id"], int)
    item = body["result"]["data"][0]
    assert set(item) >= {"i", "a", "b", "k", "h", "l", "v", "vv", "c", "oi", "t"} and item["i"] == "BTC_USD"
    assert all(isinstance(item[k], str) for k in ("a", "b", "k", "h", "l", "v", "vv", "c", "oi"))
    assert item["t"] == T0 and Decimal(item["b"]) < Decimal(item["k"]) and _near(item["a"], _spot(server))
    book = _cro(ext, "public/get-book", instrument_name="BTC_USD", depth=10).json()["result"]
    levels = book["data"][0]
    assert len(levels["bids"]) == len(levels["asks"]) == 10
    assert all(len(lv) == 3 and all(isinstance(x, str) for x in lv) for lv in levels["bids"] + levels["asks"])
    bids = [Decimal(lv[0]) for lv in levels["bids"]]
    asks = [Decimal(lv[0]) for lv in levels["asks"]]
    assert bids == sorted(bids, reverse=True) and asks == sorted(asks) and bids[0] < asks[0]
    too_deep = _cro(ext, "public/get-book", instrument_name="BTC_USD", depth=51)
    assert too_deep.status_code == 400 and too_deep.json()["code"] == 40004 and too_deep.json()["message"]
    unknown = _cro(ext, "public/get-tickers", instrument_name="DOGE_XYZ")
    assert unknown.status_code == 400 and unknown.json()["code"] != 0


def test_cryptocom_candles(server, ext):
    body = _cro(ext, "public/get-candlestick", instrument_name="BTC_USD", timeframe="1m", count=60).json()
    result = body["result"]
    assert result["interval"] == "1m" and result["instrument_name"] == "BTC_USD"
    candles = result["data"]
    assert len(candles) == 60 and all(set(c) == {"o", "h", "l", "c", "v", "t"} for c in candles)
    times = [c["t"] for c in candles]
    assert times[-1] == T0 and all(b - a == 60_000 for a, b in zip(times, times[1:], strict=False))
    assert all(Decimal(c["l"]) <= min(Decimal(c["o"]), Decimal(c["c"])) for c in candles)
    assert all(Decimal(c["h"]) >= max(Decimal(c["o"]), Decimal(c["c"])) for c in candles)
    legacy = _cro(ext, "public/get-candlestick", instrument_name="BTC_USD", timeframe="M5", count=4).json()["result"]
    assert legacy["interval"] == "M5" and [c["t"] % 300_000 for c in legacy["data"]] == [0, 0, 0, 0]
    hourly = _cro(ext, "public/get-candlestick", instrument_name="BTC_USD", timeframe="1h", count=5).json()["result"]
    assert len(hourly["data"]) == 5 and all(c["t"] % 3_600_000 == 0 for c in hourly["data"])
    bad = _cro(ext, "public/get-candlestick", instrument_name="BTC_USD", timeframe="3m")
    assert bad.status_code == 400 and bad.json()["code"] == 40004


def test_cryptocom_index_valuations(server, ext):
    body = _cro(ext, "public/get-valuations", instrument_name="BTCUSD-INDEX", valuation_type="index_price",
                count=1).json()
    result = body["result"]
    assert result["instrument_name"] == "BTCUSD-INDEX" and len(result["data"]) == 1
    point = result["data"][0]
    assert re.match(r"^\d+\.\d{2}000$", point["v"]) and point["t"] == T0
    assert Decimal(point["v"]) == _spot(server).quantize(Decimal("0.01"))
    many = _cro(ext, "public/get-valuations", instrument_name="BTCUSD-INDEX", valuation_type="index_price",
                count=3).json()["result"]["data"]
    assert [p["t"] for p in many] == [T0, T0 - 60_000, T0 - 120_000]  # per minute, newest first
    assert _cro(ext, "public/get-valuations", instrument_name="BTCUSD-INDEX").status_code == 400
    assert _cro(ext, "public/get-valuations", instrument_name="BTC_USD",
                valuation_type="index_price").status_code == 400
    assert _cro(ext, "public/get-nothing").status_code == 404


def test_unknown_outside_paths(ext):
    assert ext("/nosuch/v1/thing").status_code == 404
    assert ext("/kraken/0/public/Depth").json() == {"error": ["EGeneral:Invalid arguments"]}
