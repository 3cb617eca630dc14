"""`kalshi history download`: Kalshi's own trades and candles of some markets, from both tiers, as JSON lines.

The cutoff (`GET /historical/cutoff`) decides the tier: trades created before `trades_created_ts` come from
`/historical/trades`, later ones from `/markets/trades` (the two ranges meet at the cutoff second and are
de-duplicated by trade id, so a cutoff that moves during the download loses nothing); a market the live tier no
longer lists (404) is read, with its candles, from `/historical/markets`.  Every page is followed.

Files (`docs/recording.md`, "Kalshi history"), written atomically and replaced by a new download:
`history-trades.<TICKER>.jsonl` (oldest first) and `history-candles.<TICKER>.<N>m.jsonl`.
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Callable, Iterable, Protocol

from kalshi_trading.errors import NotFoundError, StorageError
from kalshi_trading.models import Candle, Event, HistoricalCutoff, Market, Trade
from kalshi_trading.replay.schema import fmt_ts

log = logging.getLogger(__name__)

CANDLES_PER_REQUEST = 5000  # periods asked for at once (the exchange caps one answer)
LIVE, HISTORICAL = "live", "historical"


class HistoryClient(Protocol):
    """The `KalshiClient` methods a download uses."""

    def get_historical_cutoff(self) -> HistoricalCutoff: ...

    def get_market(self, ticker: str) -> Market: ...

    def get_historical_market(self, ticker: str) -> Market: ...

    def get_event(self, event_ticker: str, with_nested_markets: bool = True) -> Event: ...

    def iter_trades(self, ticker: str | None = None, min_ts: int | datetime | None = None,
                    max_ts: int | datetime | None = None, limit: int | None = None) -> Iterable[Trade]: ...

    def iter_historical_trades(self, ticker: str | None = None, min_ts: int | datetime | None = None,
                               max_ts: int | datetime | None = None, limit: int | None = None) -> Iterable[Trade]: ...

    def get_candlesticks(self, series_ticker: str, ticker: str, start_ts: int | datetime, end_ts: int | datetime,
                         period_interval: int = 60) -> list[Candle]: ...

    def get_historical_candlesticks(self, ticker: str, start_ts: int | datetime, end_ts: int | datetime,
                                    period_interval: int = 60) -> list[Candle]: ...


@dataclass(frozen=True)
class MarketHistory:
    """What was written for one market."""

    ticker: str
    tier: str  # where the market (and its candles) came from
    trades: int
    historical_trades: int  # of `trades`, how many came from the historical tier
    candles: int
    files: tuple[Path, ...]


def download(client: HistoryClient, tickers: Iterable[str], start: datetime, end: datetime, out: Path, *,
             period: int = 1, series: str | None = None,
             on_market: Callable[[MarketHistory], None] | None = None) -> tuple[HistoricalCutoff, list[MarketHistory]]:
    """Download trades and `period`-minute candles of `tickers` between `start` and `end` into `out`."""
    _ensure_dir(out)
    cutoff = client.get_historical_cutoff()
    done = []
    for ticker in tickers:
        item = _market(client, ticker, start, end, out, period, series, cutoff)
        done.append(item)
        if on_market is not None:
            on_market(item)
    return cutoff, done


def _market(client: HistoryClient, ticker: str, start: datetime, end: datetime, out: Path, period: int,
            series: str | None, cutoff: HistoricalCutoff) -> MarketHistory:
    trades, old = _trades(client, ticker, start, end, cutoff.trades_created)
    try:
        market = client.get_market(ticker)
        tier = LIVE
    except NotFoundError:
        market = client.get_historical_market(ticker)  # a 404 here too: the ticker is unknown (exit 4)
        tier = HISTORICAL
    candles = _candles(client, market, tier, series, start, end, period)
    trade_path = out / f"history-trades.{ticker}.jsonl"
    candle_path = out / f"history-candles.{ticker}.{period}m.jsonl"
    _write(trade_path, [_trade_row(t, tier_of) for t, tier_of in trades])
    _write(candle_path, [_candle_row(ticker, period, c, tier) for c in candles])
    log.info("history of %s: %d trades (%d historical), %d candles", ticker, len(trades), old, len(candles))
    return MarketHistory(ticker, tier, len(trades), old, len(candles), (trade_path, candle_path))


def _trades(client: HistoryClient, ticker: str, start: datetime, end: datetime, cutoff: datetime
            ) -> tuple[list[tuple[Trade, str]], int]:
    found: dict[str, tuple[Trade, str]] = {}
    if start < cutoff:
        for t in client.iter_historical_trades(ticker, start, min(end, cutoff)):
            found.setdefault(t.trade_id, (t, HISTORICAL))
    if end >= cutoff:
        for t in client.iter_trades(ticker, max(start, cutoff), end):
            found.setdefault(t.trade_id, (t, LIVE))
    rows = [item for item in found.values()
            if item[0].created_time is None or start <= item[0].created_time <= end]
    rows.sort(key=lambda item: (item[0].created_time or start, item[0].trade_id))
    return rows, sum(1 for _, tier in rows if tier == HISTORICAL)


def _candles(client: HistoryClient, market: Market, tier: str, series: str | None, start: datetime, end: datetime,
             period: int) -> list[Candle]:
    series_ticker = series or (client.get_event(market.event_ticker, False).series_ticker if tier == LIVE else "")
    step = timedelta(minutes=period * CANDLES_PER_REQUEST)
    found: dict[datetime, Candle] = {}
    lo = start
    while lo <= end:
        hi = min(end, lo + step)
        if tier == LIVE:
            page = client.get_candlesticks(series_ticker, market.ticker, lo, hi, period)
        else:
            page = client.get_historical_candlesticks(market.ticker, lo, hi, period)
        for c in page:
            found.setdefault(c.end_period, c)
        lo = hi + timedelta(seconds=1)
    return [found[k] for k in sorted(found)]


def _text(value: Any) -> Any:
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, datetime):
        return fmt_ts(value)
    return str(value)  # Decimal: its exact text; enums: their value


def _trade_row(t: Trade, tier: str) -> dict[str, Any]:
    return {"ticker": t.ticker, "trade_id": t.trade_id, "created_time": _text(t.created_time),
            "yes_price": _text(t.yes_price), "no_price": _text(t.no_price), "count": _text(t.count),
            "taker_outcome_side": t.taker_outcome_side and t.taker_outcome_side.value,
            "taker_book_side": t.taker_book_side and t.taker_book_side.value, "is_block_trade": t.is_block_trade,
            "tier": tier}


def _candle_row(ticker: str, period: int, c: Candle, tier: str) -> dict[str, Any]:
    return {"ticker": ticker, "end_period": _text(c.end_period), "period_minutes": period,
            "yes_bid_close": _text(c.yes_bid_close), "yes_ask_close": _text(c.yes_ask_close),
            "price_open": _text(c.price_open), "price_high": _text(c.price_high), "price_low": _text(c.price_low),
            "price_close": _text(c.price_close), "volume": _text(c.volume), "open_interest": _text(c.open_interest),
            "tier": tier}


def _ensure_dir(out: Path) -> None:
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise StorageError(f"cannot create the output directory: {exc.strerror or exc}", out) from None
    if not out.is_dir():
        raise StorageError("the output is not a directory", out)


def _write(path: Path, rows: list[dict[str, Any]]) -> None:
    tmp = path.with_name(path.name + ".tmp")
    try:
        with tmp.open("w", encoding="utf-8") as fh:
            for row in rows:
                fh.write(json.dumps(row, separators=(",", ":")) + "\n")
        os.replace(tmp, path)
    except OSError as exc:
        raise StorageError(f"cannot write: {exc.strerror or exc}", path) from None
