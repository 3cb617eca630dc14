"""Bitcoin spot (a median of venue mids under a quorum of core sources) and Crypto.com's index and candles.

The spot: every configured ticker source is asked at once; a quote older than its source's age limit is dropped
(STALE); each remaining quote gives a mid ((bid + ask) / 2, else the last trade); the spot is the median of the
mids, but only when at least `quorum` of the *core* sources answered: otherwise this cycle has no BTC spot (and so
no BTC signal).  Kraken gives no time, so its quote is stamped on receipt and is never stale.

The history: `public/get-candlestick` (1-minute candles by default) for realized volatility and momentum, and
`public/get-valuations` for the Crypto.com index price.
"""

from __future__ import annotations

import statistics
from concurrent.futures import Executor
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from functools import partial
from typing import Callable

import requests

from kalshi_trading.errors import ConfigError
from kalshi_trading.signals.collectors.fetch import (Clock, epoch_time, fan_out, field as need, garbage, get_json,
                                                     items, obj, price, run_source, utcnow)
from kalshi_trading.signals.collectors.tickers import DEFAULT_BASES, VENUES, BtcQuote, Venue, cryptocom_result
from kalshi_trading.signals.types import SourceHealth

CANDLE_PATH = "/exchange/v1/public/get-candlestick"
VALUATIONS_PATH = "/exchange/v1/public/get-valuations"
TIMEFRAMES = ("1m", "5m", "15m", "30m", "1h", "2h", "4h", "12h", "1D", "7D", "14D", "1M")


@dataclass(frozen=True)
class TickerSource:
    """One REST ticker: which venue, where (the real path is appended), how old a quote may be, whether it is core."""

    venue: Venue
    base_url: str = ""           # empty: the venue's production base
    max_age_s: float = 30.0
    core: bool = True
    name: str = ""               # the health name; empty: the venue's name

    def __post_init__(self) -> None:
        if not self.base_url:
            object.__setattr__(self, "base_url", DEFAULT_BASES[self.venue])
        if not self.name:
            object.__setattr__(self, "name", self.venue.value)
        if not self.max_age_s > 0:
            raise ConfigError(f"{self.name}: the age limit must be positive", variable="bitcoin.sources.max_age_s")

    @property
    def url(self) -> str:
        return self.base_url.rstrip("/") + VENUES[self.venue][0]


DEFAULT_SOURCES = (
    TickerSource(Venue.COINBASE), TickerSource(Venue.KRAKEN), TickerSource(Venue.BITSTAMP),
    TickerSource(Venue.CRYPTOCOM, core=False),  # not a BRTI constituent: counts in the median, not the quorum
)


@dataclass(frozen=True)
class SpotConfig:
    """Which ticker sources to ask and how many core ones must answer."""

    sources: tuple[TickerSource, ...] = DEFAULT_SOURCES
    quorum: int = 2
    timeout: float = 2.0

    def __post_init__(self) -> None:
        object.__setattr__(self, "sources", tuple(self.sources))
        names = [s.name for s in self.sources]
        if not names:
            raise ConfigError("no ticker sources configured", variable="bitcoin.sources")
        if len(set(names)) != len(names):
            raise ConfigError("a source name is listed twice", variable="bitcoin.sources")
        core = sum(s.core for s in self.sources)
        if not 1 <= self.quorum <= core:
            raise ConfigError(f"quorum {self.quorum} is outside 1..{core} (the number of core sources)",
                              variable="bitcoin.quorum")
        if not self.timeout > 0:
            raise ConfigError("the timeout must be positive", variable="bitcoin.timeout")


@dataclass(frozen=True)
class SpotSample:
    """One cycle's spot: the median of the fresh mids, or None (with why) when the core quorum failed."""

    at: datetime
    spot: Decimal | None
    quotes: tuple[BtcQuote, ...]
    health: tuple[SourceHealth, ...] = field(default=())
    core_answered: int = 0
    quorum: int = 0
    reason: str | None = None

    @property
    def sources_used(self) -> tuple[str, ...]:
        return tuple(q.source for q in self.quotes)


def median_mid(quotes: tuple[BtcQuote, ...]) -> Decimal:
    """The median of the quotes' mids (the mean of the middle two for an even count)."""
    return Decimal(statistics.median(q.mid for q in quotes))


class SpotCollector:
    """Asks every ticker source (concurrently on a pool), drops stale quotes, and takes the median under a quorum."""

    def __init__(self, config: SpotConfig, session: requests.Session, clock: Clock = utcnow):
        self.config = config
        self.session = session
        self.clock = clock

    def collect(self, pool: Executor | None = None, extra: tuple[BtcQuote, ...] = ()) -> SpotSample:
        """The spot this cycle; never raises for a source's fault.  `extra` quotes (e.g. from a WebSocket) join
        the median as non-core sources."""
        outcomes = fan_out(self.jobs(), pool)
        return self.combine(outcomes, extra)

    def jobs(self) -> list[Callable[[], tuple[BtcQuote | None, SourceHealth]]]:
        return [partial(self._one, s) for s in self.config.sources]

    def combine(self, outcomes: list[tuple[BtcQuote | None, SourceHealth]],
                extra: tuple[BtcQuote, ...] = ()) -> SpotSample:
        """The median and quorum over the sources' outcomes (in `config.sources` order)."""
        now = self.clock()
        quotes = tuple(q for q, _ in outcomes if q is not None)
        core_names = {s.name for s in self.config.sources if s.core}
        core = sum(q.source in core_names for q in quotes)
        health = tuple(h for _, h in outcomes)
        if core < self.config.quorum:
            reason = f"quorum not met: {core} of {len(core_names)} core sources answered (need {self.config.quorum})"
            return SpotSample(now, None, quotes, health, core, self.config.quorum, reason)
        used = quotes + tuple(extra)
        return SpotSample(now, median_mid(used), used, health, core, self.config.quorum)

    def _one(self, source: TickerSource) -> tuple[BtcQuote | None, SourceHealth]:
        _, query, parser = VENUES[source.venue]

        def fetch() -> BtcQuote:
            return parser(source.name, get_json(self.session, source.url, query, self.config.timeout, self.clock))

        def stale(q: BtcQuote) -> str | None:
            age = (q.received_at - q.at).total_seconds()
            if age > source.max_age_s:
                return f"quote is {age:.0f} s old (limit {source.max_age_s:g} s)"
            if -age > source.max_age_s:  # a clock that far ahead cannot be trusted to be fresh either
                return f"quote is stamped {-age:.0f} s in the future (limit {source.max_age_s:g} s)"
            return None

        return run_source(source.name, fetch, self.clock, stale)


# --- Crypto.com candles and index -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Candle:
    start: datetime
    open: Decimal
    high: Decimal
    low: Decimal
    close: Decimal


@dataclass(frozen=True)
class IndexPoint:
    value: Decimal
    at: datetime


@dataclass(frozen=True)
class HistoryConfig:
    """Crypto.com candles (for volatility and momentum) and index price."""

    base_url: str = DEFAULT_BASES[Venue.CRYPTOCOM]
    instrument: str = "BTC_USD"
    index: str = "BTCUSD-INDEX"
    timeframe: str = "1m"
    count: int = 60
    timeout: float = 2.0

    def __post_init__(self) -> None:
        if self.timeframe not in TIMEFRAMES:
            raise ConfigError(f"unknown timeframe {self.timeframe!r}", variable="bitcoin.candles.timeframe",
                              fix=" ".join(TIMEFRAMES))
        if not 2 <= self.count <= 300:
            raise ConfigError(f"{self.count} is outside 2..300", variable="bitcoin.candles.count")


@dataclass(frozen=True)
class BtcHistory:
    at: datetime
    candles: tuple[Candle, ...]          # oldest first, one per start time
    index: IndexPoint | None
    health: tuple[SourceHealth, ...] = field(default=())


def parse_candles(body: object) -> tuple[Candle, ...]:
    """`result = {"interval", "instrument_name", "data": [{"o", "h", "l", "c", "v", "t": ms}]}` -> candles."""
    result = cryptocom_result(body, "public/get-candlestick")
    by_start: dict[datetime, Candle] = {}
    for i, raw in enumerate(items(need(result, "data", "result"), "result.data")):
        row = obj(raw, f"result.data[{i}]")
        start = epoch_time(need(row, "t", "candle"), f"result.data[{i}].t", millis=True)
        by_start[start] = Candle(start, *(price(need(row, k, "candle"), f"result.data[{i}].{k}") for k in "ohlc"))
    return tuple(by_start[t] for t in sorted(by_start))


def parse_index(body: object) -> IndexPoint:
    """`result = {"instrument_name", "data": [{"v": "50776.73000", "t": ms}]}` -> the newest point."""
    result = cryptocom_result(body, "public/get-valuations")
    data = items(need(result, "data", "result"), "result.data")
    if not data:
        raise garbage("result.data is empty")
    points = []
    for i, raw in enumerate(data):
        row = obj(raw, f"result.data[{i}]")
        points.append(IndexPoint(price(need(row, "v", "data"), f"result.data[{i}].v"),
                                 epoch_time(need(row, "t", "data"), f"result.data[{i}].t", millis=True)))
    return max(points, key=lambda p: p.at)


class HistoryCollector:
    """Candles and the index from Crypto.com's REST API."""

    def __init__(self, config: HistoryConfig, session: requests.Session, clock: Clock = utcnow):
        self.config = config
        self.session = session
        self.clock = clock

    def collect(self, pool: Executor | None = None) -> BtcHistory:
        """Candles and index this cycle; a failed part is empty/None with its health saying why."""
        if pool is None:
            (candles, ch), (index, ih) = self._candles(), self._index()
        else:
            fc, fi = pool.submit(self._candles), pool.submit(self._index)
            (candles, ch), (index, ih) = fc.result(), fi.result()
        return BtcHistory(self.clock(), candles or (), index, (ch, ih))

    def _candles(self) -> tuple[tuple[Candle, ...] | None, SourceHealth]:
        cfg = self.config
        query = {"instrument_name": cfg.instrument, "timeframe": cfg.timeframe, "count": str(cfg.count)}
        url = cfg.base_url.rstrip("/") + CANDLE_PATH
        return run_source("cryptocom-candles",
                          lambda: parse_candles(get_json(self.session, url, query, cfg.timeout, self.clock).body),
                          self.clock)

    def _index(self) -> tuple[IndexPoint | None, SourceHealth]:
        cfg = self.config
        query = {"instrument_name": cfg.index, "valuation_type": "index_price", "count": "1"}
        url = cfg.base_url.rstrip("/") + VALUATIONS_PATH
        return run_source("cryptocom-index",
                          lambda: parse_index(get_json(self.session, url, query, cfg.timeout, self.clock).body),
                          self.clock)

