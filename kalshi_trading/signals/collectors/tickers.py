"""Bitcoin spot tickers from five REST sources, each parsed from its documented shape into one `BtcQuote`.

| venue | path appended to the base URL | time |
|---|---|---|
| coinbase (Exchange) | `/products/BTC-USD/ticker` | `time`, ISO |
| coinbase-advanced | `/api/v3/brokerage/market/products/BTC-USD/ticker?limit=1` | newest trade's `time` |
| kraken | `/0/public/Ticker?pair=XBTUSD` | none: stamped on receipt |
| bitstamp | `/api/v2/ticker/btcusd/` | `timestamp`, epoch seconds |
| cryptocom | `/exchange/v1/public/get-tickers?instrument_name=BTC_USD` | `t`, epoch ms |

Prices are Decimals from the wire strings.  Error envelopes (Kraken's `error` list with HTTP 200, Crypto.com's
`code != 0`) and wrong shapes raise `SourceProblem`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any, Callable

from kalshi_trading.signals.collectors.fetch import (Fetched, epoch_time, failed, field, garbage, iso_time, items, obj,
                                                     optional_price)


class Venue(StrEnum):
    COINBASE = "coinbase"
    COINBASE_ADVANCED = "coinbase-advanced"
    KRAKEN = "kraken"
    BITSTAMP = "bitstamp"
    CRYPTOCOM = "cryptocom"


DEFAULT_BASES = {
    Venue.COINBASE: "https://api.exchange.coinbase.com",
    Venue.COINBASE_ADVANCED: "https://api.coinbase.com",
    Venue.KRAKEN: "https://api.kraken.com",
    Venue.BITSTAMP: "https://www.bitstamp.net",
    Venue.CRYPTOCOM: "https://api.crypto.com",
}


@dataclass(frozen=True)
class BtcQuote:
    """One venue's top of book (or last trade) for BTC-USD at one moment."""

    source: str
    bid: Decimal | None
    ask: Decimal | None
    last: Decimal | None
    at: datetime                    # the source's own time, or the receipt time when it gives none
    received_at: datetime
    stamped_on_receipt: bool = False

    @property
    def mid(self) -> Decimal:
        """(bid + ask) / 2 when both exist and are not crossed, else the last trade."""
        if self.bid is not None and self.ask is not None and self.bid <= self.ask:
            return (self.bid + self.ask) / 2
        if self.last is None:  # parsers refuse such a quote; this is a programming error
            raise ValueError(f"{self.source}: a quote with neither a two-sided book nor a last price")
        return self.last


def _quote(source: str, bid: Decimal | None, ask: Decimal | None, last: Decimal | None, at: datetime,
           fetched: Fetched, on_receipt: bool = False) -> BtcQuote:
    two_sided = bid is not None and ask is not None and bid <= ask
    if not two_sided and last is None:
        raise garbage("no two-sided book and no last price")
    return BtcQuote(source, bid, ask, last, at, fetched.received_at, on_receipt)


def parse_coinbase(source: str, fetched: Fetched) -> BtcQuote:
    """Coinbase Exchange: `{"price", "bid", "ask", "time", ...}`, all strings."""
    b = obj(fetched.body, "the body")
    return _quote(source, optional_price(b.get("bid"), "bid"), optional_price(b.get("ask"), "ask"),
                  optional_price(b.get("price"), "price"), iso_time(field(b, "time", "the body"), "time"), fetched)


def parse_coinbase_advanced(source: str, fetched: Fetched) -> BtcQuote:
    """Coinbase Advanced: `{"trades": [{"price", "time", ...}], "best_bid", "best_ask"}` (no top-level price)."""
    b = obj(fetched.body, "the body")
    trades = items(field(b, "trades", "the body"), "trades")
    last, at, on_receipt = None, fetched.received_at, True
    if trades:
        newest = obj(trades[0], "trades[0]")
        last = optional_price(newest.get("price"), "trades[0].price")
        at, on_receipt = iso_time(field(newest, "time", "trades[0]"), "trades[0].time"), False
    return _quote(source, optional_price(b.get("best_bid"), "best_bid"),
                  optional_price(b.get("best_ask"), "best_ask"), last, at, fetched, on_receipt)


KRAKEN_PAIR = "XXBTZUSD"  # the result key; it differs from the requested pair XBTUSD


def parse_kraken(source: str, fetched: Fetched) -> BtcQuote:
    """Kraken: `{"error": [], "result": {"XXBTZUSD": {"a": [ask, ...], "b": [bid, ...], "c": [last, vol]}}}`;
    errors come with HTTP 200 in the `error` list; there is no timestamp, so the quote is stamped on receipt."""
    b = obj(fetched.body, "the body")
    errors = items(b.get("error", []), "error")
    if errors:
        raise failed(f"error list: {'; '.join(str(e) for e in errors)}")
    result = obj(field(b, "result", "the body"), "result")
    if KRAKEN_PAIR in result:
        pair = result[KRAKEN_PAIR]
    elif len(result) == 1:
        pair = next(iter(result.values()))
    else:
        raise garbage(f"result has no {KRAKEN_PAIR} (keys: {', '.join(sorted(result)[:5]) or 'none'})")
    t = obj(pair, "result pair")

    def first(key: str) -> Decimal | None:
        if key not in t:
            return None
        arr = items(t[key], f"result pair.{key}")
        if not arr:
            raise garbage(f"result pair.{key} is empty")
        return optional_price(arr[0], f"result pair.{key}[0]")

    return _quote(source, first("b"), first("a"), first("c"), fetched.received_at, fetched, on_receipt=True)


def parse_bitstamp(source: str, fetched: Fetched) -> BtcQuote:
    """Bitstamp: `{"timestamp": "<epoch s>", "last", "bid", "ask", ...}`, all strings."""
    b = obj(fetched.body, "the body")
    return _quote(source, optional_price(b.get("bid"), "bid"), optional_price(b.get("ask"), "ask"),
                  optional_price(b.get("last"), "last"),
                  epoch_time(field(b, "timestamp", "the body"), "timestamp", millis=False), fetched)


def cryptocom_result(body: Any, method: str) -> dict[str, Any]:
    """The `result` of a Crypto.com Exchange v1 reply; `code != 0` is an error with `message`."""
    b = obj(body, "the body")
    code = field(b, "code", "the body")
    if isinstance(code, bool) or not isinstance(code, (int, str)) or not str(code).strip().lstrip("-").isdigit():
        raise garbage(f"code is not an integer: {code!r}")
    if int(code) != 0:
        raise failed(f"{method}: code {code}: {b.get('message') or 'no message'}")
    return obj(field(b, "result", "the body"), "result")


def parse_cryptocom(source: str, fetched: Fetched) -> BtcQuote:
    """Crypto.com `public/get-tickers`: `result.data[0] = {"i", "a": last, "b": bid|null, "k": ask|null, "t": ms}`."""
    result = cryptocom_result(fetched.body, "public/get-tickers")
    data = items(field(result, "data", "result"), "result.data")
    if not data:
        raise garbage("result.data is empty")
    rows = [obj(r, "result.data[]") for r in data]
    row = next((r for r in rows if r.get("i") == "BTC_USD"), rows[0])
    return _quote(source, optional_price(row.get("b"), "data.b"), optional_price(row.get("k"), "data.k"),
                  optional_price(row.get("a"), "data.a"), epoch_time(field(row, "t", "data"), "data.t", millis=True),
                  fetched)


# venue -> (path, query, parser)
VENUES: dict[Venue, tuple[str, dict[str, str] | None, Callable[[str, Fetched], BtcQuote]]] = {
    Venue.COINBASE: ("/products/BTC-USD/ticker", None, parse_coinbase),
    Venue.COINBASE_ADVANCED: ("/api/v3/brokerage/market/products/BTC-USD/ticker", {"limit": "1"},
                              parse_coinbase_advanced),
    Venue.KRAKEN: ("/0/public/Ticker", {"pair": "XBTUSD"}, parse_kraken),
    Venue.BITSTAMP: ("/api/v2/ticker/btcusd/", None, parse_bitstamp),
    Venue.CRYPTOCOM: ("/exchange/v1/public/get-tickers", {"instrument_name": "BTC_USD"}, parse_cryptocom),
}
