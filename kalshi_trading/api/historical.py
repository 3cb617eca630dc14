"""The historical tier's public reads (reference section 10), mixed into `KalshiClient`.

Data older than the cutoffs of `GET /historical/cutoff` leaves the live endpoints: trades created before
`trades_created_ts` are served by `/historical/trades` only, and markets settled before `market_settled_ts` (with
their candles) by `/historical/markets[/{ticker}[/candlesticks]]`.  Kalshi publishes trades and candles, never
order books: a book history comes only from our own recordings (`kalshi record`).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Callable, Iterator, Mapping

from kalshi_trading import ids
from kalshi_trading.api import parse
from kalshi_trading.api.boundary import optional as _opt
from kalshi_trading.api.boundary import reads as _reads
from kalshi_trading.api.boundary import segment as _seg
from kalshi_trading.errors import UsageError
from kalshi_trading.models import Candle, HistoricalCutoff, Market, Trade

PERIODS = (1, 60, 1440)  # candle periods in minutes


def unix_seconds(value: int | datetime | None) -> int | None:
    if value is None or isinstance(value, int):
        return value
    return int(value.timestamp())


class HistoricalReads:
    """`GET /historical/*` (public): the host class provides `_get` and `_pages` (`KalshiClient`)."""

    _get: Callable[..., Any]
    _pages: Callable[..., Iterator[Mapping]]

    @_reads("GET /historical/cutoff")
    def get_historical_cutoff(self) -> HistoricalCutoff:
        """Where the historical tier begins."""
        return parse.historical_cutoff(self._get("/historical/cutoff"))

    @_reads("GET /historical/trades")
    def iter_historical_trades(self, ticker: str | None = None, min_ts: int | datetime | None = None,
                               max_ts: int | datetime | None = None, limit: int | None = None) -> Iterator[Trade]:
        """Public trades older than the trades cutoff, newest first, every page followed."""
        params = {"limit": 1000, "ticker": _opt(ids.market_ticker, ticker), "min_ts": unix_seconds(min_ts),
                  "max_ts": unix_seconds(max_ts)}
        for n, item in enumerate(self._pages("/historical/trades", "trades", params, lambda t: t.get("trade_id"))):
            if limit is not None and n >= limit:
                return
            yield parse.trade(item)

    @_reads("GET /historical/markets/{ticker}")
    def get_historical_market(self, ticker: str) -> Market:
        """A market settled before the market cutoff (404 while it is still in the live tier)."""
        body = self._get(f"/historical/markets/{_seg(ids.market_ticker(ticker))}")
        return parse.market(parse.field_obj(body, "market", "the response"))

    @_reads("GET /historical/markets/{ticker}/candlesticks")
    def get_historical_candlesticks(self, ticker: str, start_ts: int | datetime, end_ts: int | datetime,
                                    period_interval: int = 60) -> list[Candle]:
        """Candles of a market in the historical tier (`period_interval` minutes: 1, 60 or 1440)."""
        if period_interval not in PERIODS:
            raise UsageError(f"candle period must be one of {', '.join(map(str, PERIODS))} minutes")
        body = self._get(f"/historical/markets/{_seg(ids.market_ticker(ticker))}/candlesticks",
                         {"start_ts": unix_seconds(start_ts), "end_ts": unix_seconds(end_ts),
                          "period_interval": period_interval})
        return [parse.historical_candle(c) for c in parse.objects(body, "candlesticks", "the response")]
