"""A whole collection cycle against the loopback sources: every part assembled, a degraded source skipped while
the cycle goes on, and the sequential alternative giving the same answer."""

from __future__ import annotations

from datetime import date
from decimal import Decimal as D

import pytest

from kalshi_trading.signals.collectors.bitcoin import HistoryConfig, SpotConfig, TickerSource
from kalshi_trading.signals.collectors.cycle import Collector, CollectorConfig
from kalshi_trading.signals.collectors.tickers import Venue
from kalshi_trading.signals.collectors.weather import WeatherConfig
from kalshi_trading.signals.types import SourceStatus
from tests.signals import shapes
from tests.signals.conftest import fixed_clock
from tests.signals.test_bitcoin_collector import MS_NOW, PATHS, all_good

D1 = date(2026, 12, 1)


def config(sources) -> CollectorConfig:
    return CollectorConfig(
        weather=WeatherConfig(models=("ncep_gefs_seamless", "ecmwf_ifs025_ensemble"),
                              ensemble_base=sources.base("open-meteo-ensemble"),
                              forecast_base=sources.base("open-meteo"), timeout=2.0),
        spot=SpotConfig(tuple(TickerSource(Venue(v), sources.base(v), core=v != "cryptocom")
                              for v in ("coinbase", "kraken", "bitstamp", "cryptocom"))),
        history=HistoryConfig(base_url=sources.base("cryptocom")))


def serve_all(sources) -> None:
    all_good(sources)
    sources.set("open-meteo-ensemble", "/v1/ensemble", shapes.DOC_ENSEMBLE)
    sources.set("cryptocom", "/exchange/v1/public/get-candlestick",
                shapes.cryptocom_candles([(MS_NOW - 60_000, "1", "1", "1", "100"), (MS_NOW, "1", "1", "1", "101")]))
    sources.set("cryptocom", "/exchange/v1/public/get-valuations", shapes.cryptocom_index("100000.1", MS_NOW))


@pytest.mark.parametrize("concurrent", [True, False])
def test_a_cycle_collects_everything(sources, concurrent):
    serve_all(sources)
    with Collector(config(sources), clock=fixed_clock(), concurrent=concurrent) as c:
        cycle = c.collect([D1])
    assert cycle.weather is not None and cycle.weather.member_count(D1) == 6  # 3 members x 2 models
    assert cycle.spot is not None and cycle.spot.spot == D("100001.0")
    assert cycle.history is not None and len(cycle.history.candles) == 2 and cycle.history.index is not None
    assert len(cycle.health) == 2 + 4 + 2 and cycle.degraded == ()


def test_a_degraded_source_never_stops_the_cycle(sources):
    serve_all(sources)
    sources.set("kraken", PATHS["kraken"], shapes.KRAKEN_UNKNOWN_PAIR)
    sources.set("cryptocom", "/exchange/v1/public/get-candlestick", "<html>", 502)
    with Collector(config(sources), clock=fixed_clock()) as c:
        cycle = c.collect([D1])
    assert {h.source: h.status for h in cycle.degraded} == {"kraken": SourceStatus.FAILED,
                                                            "cryptocom-candles": SourceStatus.FAILED}
    assert cycle.spot is not None and cycle.spot.spot is not None  # coinbase + bitstamp still make the quorum
    assert cycle.history is not None and cycle.history.candles == () and cycle.history.index is not None


def test_no_climate_days_no_weather_requests(sources):
    serve_all(sources)
    with Collector(config(sources), clock=fixed_clock()) as c:
        cycle = c.collect()
    assert cycle.weather is None and sources.requests_to("open-meteo-ensemble") == []


def test_parts_can_be_left_out(sources):
    serve_all(sources)
    with Collector(CollectorConfig(weather=None, spot=None, history=None), clock=fixed_clock()) as c:
        cycle = c.collect([D1])
    assert (cycle.weather, cycle.spot, cycle.history, cycle.health) == (None, None, None, ())
