"""One collection cycle: every outside source asked at once, each collector's answer assembled, health kept.

The weather models, the ticker sources and Crypto.com's candles and index are all in flight together (one thread
per request, `requests` on a shared session), so a cycle takes about as long as the slowest source, not the sum.
`concurrent=False` asks them one after another (the sequential alternative `bench/bench_cycle.py` compares).
"""

from __future__ import annotations

import time
from concurrent.futures import Executor, Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date, datetime
from functools import partial
from typing import Callable, Sequence, TypeVar

import requests
from requests.adapters import HTTPAdapter

from kalshi_trading.signals.collectors.bitcoin import (BtcHistory, HistoryCollector, HistoryConfig, SpotCollector,
                                                       SpotConfig, SpotSample)
from kalshi_trading.signals.collectors.fetch import Clock, utcnow
from kalshi_trading.signals.collectors.tickers import BtcQuote
from kalshi_trading.signals.collectors.weather import WeatherCollector, WeatherConfig, WeatherSample
from kalshi_trading.signals.types import SourceHealth, SourceStatus

T = TypeVar("T")


@dataclass(frozen=True)
class CollectorConfig:
    """What to collect each cycle; None leaves a part out."""

    weather: WeatherConfig | None = field(default_factory=WeatherConfig)
    spot: SpotConfig | None = field(default_factory=SpotConfig)
    history: HistoryConfig | None = field(default_factory=HistoryConfig)


@dataclass(frozen=True)
class CycleSample:
    """Everything one cycle learned, and how every source answered."""

    at: datetime
    elapsed_ms: int
    weather: WeatherSample | None
    spot: SpotSample | None
    history: BtcHistory | None

    @property
    def health(self) -> tuple[SourceHealth, ...]:
        parts = (self.weather, self.spot, self.history)
        return tuple(h for p in parts if p is not None for h in p.health)

    @property
    def degraded(self) -> tuple[SourceHealth, ...]:
        """The sources that gave nothing usable this cycle."""
        return tuple(h for h in self.health if h.status is not SourceStatus.OK)


class Collector:
    """Runs collection cycles; build once, call `collect` each cycle, `close` at the end (or use `with`)."""

    def __init__(self, config: CollectorConfig, session: requests.Session | None = None, clock: Clock = utcnow,
                 concurrent: bool = True):
        self.config = config
        self.clock = clock
        leaves = ((len(config.weather.models) if config.weather else 0)
                  + (len(config.spot.sources) if config.spot else 0) + (2 if config.history else 0))
        self._own_session = session is None
        self.session = session if session is not None else _session(max(10, leaves))
        self.weather = WeatherCollector(config.weather, self.session, clock) if config.weather else None
        self.spot = SpotCollector(config.spot, self.session, clock) if config.spot else None
        self.history = HistoryCollector(config.history, self.session, clock) if config.history else None
        self._leaves: Executor | None = None
        self._parts: Executor | None = None
        if concurrent:
            self._leaves = ThreadPoolExecutor(max(1, leaves), thread_name_prefix="signals-source")
            self._parts = ThreadPoolExecutor(3, thread_name_prefix="signals-collector")

    def collect(self, climate_days: Sequence[date] = (), extra_quotes: tuple[BtcQuote, ...] = ()) -> CycleSample:
        """One cycle: weather members for `climate_days` (skipped when empty), the BTC spot (with `extra_quotes`,
        e.g. the WebSocket's, as non-core sources) and the candles and index.  Never raises for a source's fault."""
        t0 = time.perf_counter()
        weather = self._start(partial(self._weather, tuple(climate_days)))
        spot = self._start(partial(self._spot, extra_quotes))
        history = self._start(self._history)
        return CycleSample(self.clock(), round((time.perf_counter() - t0) * 1000), weather(), spot(), history())

    def _weather(self, days: tuple[date, ...]) -> WeatherSample | None:
        return self.weather.collect(days, self._leaves) if self.weather is not None and days else None

    def _spot(self, extra_quotes: tuple[BtcQuote, ...]) -> SpotSample | None:
        return self.spot.collect(self._leaves, extra_quotes) if self.spot is not None else None

    def _history(self) -> BtcHistory | None:
        return self.history.collect(self._leaves) if self.history is not None else None

    def _start(self, job: Callable[[], T]) -> Callable[[], T]:
        if self._parts is None:
            value = job()
            return lambda: value
        future: Future[T] = self._parts.submit(job)
        return future.result

    def close(self) -> None:
        """Stop the threads (and close the session if we made it)."""
        for pool in (self._parts, self._leaves):
            if pool is not None:
                pool.shutdown(wait=True)
        if self._own_session:
            self.session.close()

    def __enter__(self) -> Collector:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _session(pool_size: int) -> requests.Session:
    session = requests.Session()
    adapter = HTTPAdapter(pool_connections=pool_size, pool_maxsize=pool_size)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    session.headers["User-Agent"] = "kalshi-trading-signals"
    return session
