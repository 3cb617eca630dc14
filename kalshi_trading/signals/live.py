"""The real signal sources: the collectors (`collectors/`) and the models (`models/`), one `SignalSource` per family.

`OutsideData` collects once per cycle for every family: `prepare(now)` (the pipeline calls it as a cycle starts)
sets one `Collector.collect` going in the background, so the outside sources are in flight while discovery reads
the exchange; the weather members are asked for the coming two climate days (one request per model covers both).
Discovery's KXBTCD strike rule (`spot()`) and every family's source (`sample(now)`) wait for that one sample, so
the families of a cycle see the same spot and the sources are asked once.

- `WeatherSource` (`weather-ensemble-kde`): each KXHIGHNY event's brackets from the members of its climate day
  (`climate_day_for_close` of the event's close), all brackets of an event from one pooling
  (`event_probabilities`: they sum to 1 within rounding).
- `UpDownSource` (`btc15m-asian-digital`): `updown_probability` from the multi-venue spot, the candles'
  volatility and drift, and, once inside a contract's final 60 seconds, the average of the pipeline's own spot
  samples in that window so far (`window_average`).  A contract without its price to beat yet is not priced.
- `LadderSource` (`btcd-black-scholes`): `ladder_probability` from the same spot and volatility.

Every source reports the health of the outside sources behind it (the pipeline stores one row per source and
cycle), and a model-level row when it cannot price at all (`bitcoin-spot` without a quorum, `bitcoin-volatility`
without candles, `weather-members` without members for an event's day).  Nothing here raises for a source's fault.
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Callable, Mapping, Sequence

from kalshi_trading.models import Market
from kalshi_trading.signals.collectors.cryptocom_ws import CryptoComStream
from kalshi_trading.signals.collectors.cycle import Collector, CycleSample
from kalshi_trading.signals.collectors.fetch import Clock
from kalshi_trading.signals.collectors.tickers import BtcQuote
from kalshi_trading.signals.collectors.weather import ModelMembers, climate_day_for_close, climate_day_of
from kalshi_trading.signals.models.btc import (LADDER_MODEL, UPDOWN_MODEL, BtcModelParams, VolEstimate,
                                               estimate_volatility, ladder_probability, updown_probability,
                                               window_average)
from kalshi_trading.signals.models.weather import MODEL as WEATHER_MODEL
from kalshi_trading.signals.models.weather import Bracket, WeatherModelParams, event_probabilities
from kalshi_trading.signals.outside import STREAM, SourcesConfig
from kalshi_trading.signals.sources import SignalSource, SourceAnswer
from kalshi_trading.signals.types import Family, Probability, SourceHealth, SourceStatus

log = logging.getLogger(__name__)

CENT = Decimal("0.01")
SAMPLES_KEPT = timedelta(minutes=20)  # the pipeline's own spot samples: enough for any averaging window


class OutsideData:
    """One collection per cycle, shared by the families' sources (see the module docstring)."""

    def __init__(self, collector: Collector, clock: Clock, *, weather: bool = True,
                 stream: CryptoComStream | None = None):
        self.collector = collector
        self.clock = clock
        self.weather = weather and collector.weather is not None
        self.stream = stream
        self._lock = threading.Lock()
        self._current: tuple[datetime, Future[CycleSample]] | None = None
        self._pool = ThreadPoolExecutor(1, thread_name_prefix="outside-data")

    def prepare(self, now: datetime) -> None:
        """Start this cycle's collection (returns at once)."""
        with self._lock:
            self._start(now)

    def _start(self, now: datetime) -> Future[CycleSample]:
        """Submit a collection keyed by `now` (the lock is held)."""
        days = (climate_day_of(now), climate_day_of(now) + timedelta(days=1)) if self.weather else ()
        future = self._pool.submit(self._collect, days)
        self._current = (now, future)
        return future

    def _collect(self, days: tuple[date, ...]) -> CycleSample:
        extra: tuple[BtcQuote, ...] = ()
        if self.stream is not None:
            quote = self.stream.latest_quote()
            extra = (quote,) if quote is not None and self.stream.health().status is SourceStatus.OK else ()
        return self.collector.collect(days, extra)

    def sample(self, now: datetime | None = None) -> CycleSample:
        """The sample prepared for `now` (None: the latest prepared), collected now when there is none."""
        with self._lock:
            current = self._current
            if current is None or (now is not None and current[0] != now):
                future = self._start(now if now is not None else self.clock())
            else:
                future = current[1]
        return future.result()

    def spot(self) -> Decimal | None:
        """The bitcoin spot (the median of the venues) of the latest prepared sample (this cycle's, when the pipeline
        calls `prepare` as it starts), or None without a quorum: discovery's KXBTCD strike rule."""
        sample = self.sample()
        return sample.spot.spot if sample.spot is not None else None

    def stream_health(self) -> tuple[SourceHealth, ...]:
        return (self.stream.health(),) if self.stream is not None else ()

    def members(self, day: date, now: datetime) -> tuple[tuple[ModelMembers, ...], tuple[SourceHealth, ...]]:
        """The members for climate day `day`: from this cycle's sample, or asked now for a day it did not cover."""
        sample = self.sample(now)
        if sample.weather is not None and day in sample.weather.days:
            return sample.weather.for_day(day), ()
        if self.collector.weather is None:
            return (), ()
        extra = self.collector.weather.collect([day])
        return extra.for_day(day), extra.health

    def close(self) -> None:
        """Stop the threads (and the stream)."""
        self._pool.shutdown(wait=True)
        if self.stream is not None:
            self.stream.stop()
        self.collector.close()


def _members_health(day: date, now: datetime) -> SourceHealth:
    return SourceHealth("weather-members", SourceStatus.FAILED, now,
                        reason=f"no ensemble or forecast members for {day.isoformat()}")


class WeatherSource:
    """KXHIGHNY brackets from ensemble members (see the module docstring)."""

    def __init__(self, data: OutsideData, params: WeatherModelParams = WeatherModelParams()):
        self.data = data
        self.params = params

    def __call__(self, markets: Sequence[Market], now: datetime) -> SourceAnswer:
        sample = self.data.sample(now)
        health = list(sample.weather.health if sample.weather is not None else ())
        probabilities: dict[str, Probability] = {}
        for day, brackets in _events_by_day(markets).items():
            members, extra = self.data.members(day, now)
            health.extend(extra)
            if not members:
                health.append(_members_health(day, now))
                continue
            for (ticker, _), p in zip(brackets, event_probabilities(members, [b for _, b in brackets], self.params),
                                      strict=True):
                probabilities[ticker] = p
        return SourceAnswer(probabilities, health=tuple(health))


def _events_by_day(markets: Sequence[Market]) -> dict[date, list[tuple[str, Bracket]]]:
    """The modelable brackets of each event, by the climate day it settles on."""
    out: dict[date, list[tuple[str, Bracket]]] = {}
    for m in markets:
        if m.close_time is None:
            continue
        bracket = Bracket(m.strike_type or "", m.floor_strike, m.cap_strike)
        try:
            bracket.settled_range()
        except ValueError as exc:
            log.info("%s is not modelled: %s", m.ticker, exc)
            continue
        out.setdefault(climate_day_for_close(m.close_time), []).append((m.ticker, bracket))
    return out


@dataclass(frozen=True)
class BtcInputs:
    """What both bitcoin models need from one sample: the spot, the venues behind it, the volatility."""

    spot: Decimal
    sources: tuple[str, ...]
    vol: VolEstimate
    at: datetime


def btc_inputs(sample: CycleSample, params: BtcModelParams, now: datetime,
               stream: tuple[SourceHealth, ...] = ()) -> tuple[BtcInputs | None, tuple[SourceHealth, ...]]:
    """The spot and volatility of a sample, or None and the health rows saying why not."""
    health = list(sample.spot.health if sample.spot is not None else ()) + list(stream)
    health += list(sample.history.health if sample.history is not None else ())
    spot = sample.spot
    if spot is None or spot.spot is None:
        why = spot.reason if spot is not None and spot.reason else "no spot sources configured"
        return None, tuple(health) + (SourceHealth("bitcoin-spot", SourceStatus.FAILED, now, reason=why),)
    vol = estimate_volatility(sample.history.candles, params) if sample.history is not None else None
    if vol is None:
        return None, tuple(health) + (SourceHealth("bitcoin-volatility", SourceStatus.FAILED, now,
                                                   reason="fewer than 3 candles: no volatility"),)
    return BtcInputs(spot.spot, spot.sources_used, vol, spot.at), tuple(health)


class UpDownSource:
    """KXBTC15M: the 15-minute up/down digital on the closing 60-second average (see the module docstring)."""

    def __init__(self, data: OutsideData, params: BtcModelParams = BtcModelParams()):
        self.data = data
        self.params = params
        self.samples: deque[tuple[datetime, Decimal]] = deque()  # the pipeline's own spot samples

    def __call__(self, markets: Sequence[Market], now: datetime) -> SourceAnswer:
        inputs, health = btc_inputs(self.data.sample(now), self.params, now, self.data.stream_health())
        if inputs is None:
            return SourceAnswer(health=health)
        self._remember(inputs.at, inputs.spot)
        window = timedelta(seconds=self.params.window_s)
        probabilities: dict[str, Probability] = {}
        for m in markets:
            if m.floor_strike is None or m.close_time is None:
                continue  # the next contract before its open: no price to beat yet
            start = m.close_time - window
            end = max(now, inputs.at)  # this cycle's sample is stamped when it arrived, a little after `now`
            mean = window_average(self.samples, start, end) if now >= start else None
            p = updown_probability(inputs.spot, m.floor_strike, now, m.close_time, inputs.vol, window_mean=mean,
                                   sources=inputs.sources, params=self.params)
            if mean is not None:  # say what the closing average already holds
                seen = sum(1 for at, _ in self.samples if start <= at <= end)
                p = replace(p, inputs=p.inputs + (("window_mean", str(mean.quantize(CENT))),
                                                  ("window_samples", str(seen))))
            probabilities[m.ticker] = p
        return SourceAnswer(probabilities, health=health)

    def _remember(self, at: datetime, spot: Decimal) -> None:
        if not self.samples or self.samples[-1][0] < at:
            self.samples.append((at, spot))
        while self.samples and self.samples[0][0] < at - SAMPLES_KEPT:
            self.samples.popleft()


class LadderSource:
    """KXBTCD: Black-Scholes on the multi-venue spot and the candles' volatility."""

    def __init__(self, data: OutsideData, params: BtcModelParams = BtcModelParams()):
        self.data = data
        self.params = params

    def __call__(self, markets: Sequence[Market], now: datetime) -> SourceAnswer:
        inputs, health = btc_inputs(self.data.sample(now), self.params, now, self.data.stream_health())
        if inputs is None:
            return SourceAnswer(health=health)
        probabilities: dict[str, Probability] = {}
        for m in markets:
            if m.close_time is None:
                continue
            p = ladder_probability(m.strike_type, m.floor_strike, m.cap_strike, inputs.spot, now, m.close_time,
                                   inputs.vol, sources=inputs.sources, params=self.params)
            if p is not None:
                probabilities[m.ticker] = p
        return SourceAnswer(probabilities, health=health)


# model name -> its family's source (the names profiles.MODELS registers)
BUILDERS: dict[str, Callable[[OutsideData], SignalSource]] = {
    WEATHER_MODEL: WeatherSource,
    UPDOWN_MODEL: UpDownSource,
    LADDER_MODEL: LadderSource,
}


def outside_data(sources: SourcesConfig, clock: Clock, *, sim_root: str | None = None, weather: bool = True,
                 history: bool = True, concurrent: bool = True) -> OutsideData:
    """The collectors of `sources` (the simulator's copies when `sim_root` is given) behind one `OutsideData`."""
    collector = Collector(sources.collector_config(sim_root, weather=weather, history=history), clock=clock,
                          concurrent=concurrent)
    stream = None
    if sources.cryptocom_stream:
        stream = CryptoComStream(sources.base(STREAM, sim_root), clock=clock)
        stream.start()
    return OutsideData(collector, clock, weather=weather, stream=stream)


def build_sources(models: Mapping[Family, str], data: OutsideData) -> dict[Family, SignalSource]:
    """One source per family, the configured model's."""
    return {family: BUILDERS[name](data) for family, name in models.items()}
