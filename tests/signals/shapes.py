"""Bodies in the exact shapes of shared/data-sources.md (sections 1 and 2), with our own numbers."""

from __future__ import annotations

from typing import Any


def ensemble(times: list[str], series: dict[str, list[Any]], unit: str = "°F") -> dict[str, Any]:
    """An Open-Meteo ensemble/forecast daily body."""
    return {"latitude": 40.78, "longitude": -73.97, "generationtime_ms": 0.5, "utc_offset_seconds": -18000,
            "timezone": "America/New_York", "timezone_abbreviation": "EST", "elevation": 38.0,
            "daily_units": {"time": "iso8601", **{k: unit for k in series}},
            "daily": {"time": times, **series}}


DOC_ENSEMBLE = {  # the example of data-sources.md section 1, verbatim
    "latitude": 40.78, "longitude": -73.97, "generationtime_ms": 0.5, "utc_offset_seconds": -18000,
    "timezone": "America/New_York", "timezone_abbreviation": "EST", "elevation": 38.0,
    "daily_units": {"time": "iso8601", "temperature_2m_max": "°F", "temperature_2m_max_member01": "°F"},
    "daily": {"time": ["2026-12-01", "2026-12-02"],
              "temperature_2m_max": [44.1, 47.3],
              "temperature_2m_max_member01": [43.8, 48.0], "temperature_2m_max_member02": [45.0, None]}}

OM_UNKNOWN_MODEL = {"error": True, "reason": "Cannot initialize WeatherModel from invalid String value foo"}
OM_LIMIT = {"error": True, "reason": "Daily API request limit exceeded. Please try again tomorrow."}


def coinbase(bid: str, ask: str, price: str, time: str) -> dict[str, Any]:
    return {"trade_id": 86326522, "price": price, "size": "0.00421", "bid": bid, "ask": ask,
            "volume": "9802.37651216", "time": time}


def coinbase_advanced(bid: str, ask: str, price: str, time: str) -> dict[str, Any]:
    return {"trades": [{"trade_id": "651842319", "product_id": "BTC-USD", "price": price, "size": "0.0001",
                        "time": time, "side": "BUY", "bid": "", "ask": "", "exchange": "coinbase"}],
            "best_bid": bid, "best_ask": ask}


def kraken(bid: str, ask: str, last: str) -> dict[str, Any]:
    return {"error": [], "result": {"XXBTZUSD": {
        "a": [ask, "8", "8.000"], "b": [bid, "1", "1.000"], "c": [last, "0.00100000"],
        "v": ["1523.1", "3311.9"], "p": [last, last], "t": [12000, 31000], "l": [bid, bid], "h": [ask, ask],
        "o": last}}}


KRAKEN_UNKNOWN_PAIR = {"error": ["EQuery:Unknown asset pair"]}


def bitstamp(bid: str, ask: str, last: str, timestamp: str) -> dict[str, Any]:
    return {"timestamp": timestamp, "open": last, "high": ask, "low": bid, "last": last, "volume": "1234.5",
            "vwap": last, "bid": bid, "ask": ask, "side": "0", "open_24": last, "percent_change_24": "0.50"}


def cryptocom(method: str, result: dict[str, Any], code: int = 0, message: str | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"id": 1, "method": method, "code": code}
    if code:
        body["message"] = message or "BAD_REQUEST"
    else:
        body["result"] = result
    return body


def cryptocom_ticker(bid: str | None, ask: str | None, last: str, t_ms: int) -> dict[str, Any]:
    return cryptocom("public/get-tickers", {"data": [
        {"i": "BTC_USD", "a": last, "b": bid, "k": ask, "h": "101000.00", "l": "99000.00", "v": "1.2",
         "vv": "120000.00", "c": "0.0040", "oi": "0", "t": t_ms}]})


def cryptocom_candles(rows: list[tuple[int, str, str, str, str]]) -> dict[str, Any]:
    return cryptocom("public/get-candlestick", {"interval": "1m", "instrument_name": "BTC_USD", "data": [
        {"o": o, "h": h, "l": lo, "c": c, "v": "1.5", "t": t} for t, o, h, lo, c in rows]})


def cryptocom_index(value: str, t_ms: int) -> dict[str, Any]:
    return cryptocom("public/get-valuations", {"instrument_name": "BTCUSD-INDEX", "data": [{"v": value, "t": t_ms}]})
