"""The real signal sources (collectors + models, `signals/live.py`) against the real simulator's /ext copies of the
outside sources: each family priced, the window average from the pipeline's own samples, every kind of source
fault costing only what it must, and a whole cycle storing each source's health once."""

from __future__ import annotations

import socket
import time
from datetime import datetime, timedelta
from decimal import Decimal as D

import pytest

from kalshi_trading.signals.discovery import Discoverer, DiscoveryConfig
from kalshi_trading.signals.engine import Engine
from kalshi_trading.signals.live import LadderSource, UpDownSource, WeatherSource, build_sources, outside_data
from kalshi_trading.signals.modes import EngineMode
from kalshi_trading.signals.outside import SourcesConfig, sim_root_of
from kalshi_trading.signals.pipeline import Pipeline
from kalshi_trading.signals.profiles import DEFAULT_MODELS, PRESETS, PipelineConfig
from kalshi_trading.signals.types import SourceStatus
from kalshi_trading.sim.clock import ms_to_dt
from kalshi_trading.sim.faults import SourceFaults
from kalshi_trading.store.signals import CycleStatus
from kalshi_trading.trading.fees import FeeSchedule

VENUES = ("coinbase", "kraken", "bitstamp", "cryptocom")


@pytest.fixture
def now(sim):
    return lambda: ms_to_dt(sim.clock.now_ms())


@pytest.fixture
def data(sim, now):
    d = outside_data(SourcesConfig(), now, sim_root=sim_root_of(sim.base_url))
    yield d
    d.close()


def fault(sim, source: str, **kinds) -> None:
    sim.app.source_faults.set(source, SourceFaults.build(kinds))


def markets(client, series: str, at: datetime, **discovery):
    found = Discoverer(client, spot=lambda: client.get_sim_underlying("KXBTCD").price).discover(
        DiscoveryConfig(series=(series,), **discovery), at)
    return [d.market for d in found.found]


def clear_of_a_quarter_hour(sim, now, margin_s: int = 150) -> None:
    """Move the simulator (it stands still at the session's start) past the next quarter hour when that is less
    than `margin_s` away, so a 15-minute contract is not about to close (when it is, discovery also lists the
    next one, and a test that steps towards the close would step back in time)."""
    at = now()
    left = 900 - (at.minute % 15 * 60 + at.second + at.microsecond / 1e6)
    if left < margin_s:
        sim.exchange.advance(left + 1)


def health(answer) -> dict[str, tuple[str, str | None]]:
    return {h.source: (h.status.value, h.reason) for h in answer.health}


def test_weather_prices_every_bracket_of_the_event_from_both_ensembles(sim, client, data, now):
    brackets = markets(client, "KXHIGHNY", now())
    answer = WeatherSource(data)(brackets, now())
    assert set(answer.probabilities) == {m.ticker for m in brackets} and len(brackets) == 7
    total = sum(p.p_yes for p in answer.probabilities.values())
    assert abs(total - 1) <= D("0.0007")  # one event's brackets partition the line (7 x the 4-place rounding)
    [inputs] = {p.inputs for p in answer.probabilities.values()}  # one pooling for the whole event
    summary = dict(inputs)
    assert summary["models"] == "ecmwf_ifs025_ensemble,ncep_gefs_seamless" and int(summary["members"]) >= 75
    truth = sim.exchange.world.true_high(brackets[0].event_ticker)
    assert abs(float(summary["mean_f"]) - truth) < 5  # forecasts of the simulator's own weather
    assert health(answer) == {"open-meteo-ensemble:ncep_gefs_seamless": ("ok", None),
                              "open-meteo-ensemble:ecmwf_ifs025_ensemble": ("ok", None)}


def test_the_ensemble_failing_falls_back_to_the_forecast_and_both_failing_prices_nothing(sim, client, data, now):
    brackets = markets(client, "KXHIGHNY", now())
    fault(sim, "open-meteo-ensemble", status=500)
    answer = WeatherSource(data)(brackets, now())
    assert len(answer.probabilities) == 7
    assert dict(next(iter(answer.probabilities.values())).inputs)["members"] == "2"  # one forecast value a model
    rows = health(answer)
    assert rows["open-meteo-ensemble:ncep_gefs_seamless"][0] == "failed" and "HTTP 500" in \
        rows["open-meteo-ensemble:ncep_gefs_seamless"][1]
    assert rows["open-meteo:gfs_seamless"] == ("ok", None) and rows["open-meteo:ecmwf_ifs025"] == ("ok", None)

    fault(sim, "open-meteo", garbage=1)
    sim.exchange.advance(1)  # a new cycle (the sample is kept per cycle time)
    answer = WeatherSource(data)(brackets, now())
    assert answer.probabilities == {}
    rows = health(answer)
    assert rows["open-meteo:gfs_seamless"][0] == "garbage" and rows["weather-members"][0] == "failed"
    assert "no ensemble or forecast members" in rows["weather-members"][1]


def test_the_ladder_prices_the_nearest_strike_from_the_median_of_four_venues(sim, client, data, now):
    [market] = markets(client, "KXBTCD", now())
    answer = LadderSource(data)([market], now())
    p = answer.probabilities[market.ticker]
    assert p.model == "btcd-black-scholes" and D("0.2") < p.p_yes < D("0.8") and p.confidence == 1
    assert dict(p.inputs)["sources"] == ",".join(VENUES)
    assert all(status == "ok" for status, _ in health(answer).values())
    assert set(health(answer)) == set(VENUES) | {"cryptocom-candles", "cryptocom-index"}


def test_updown_uses_the_pipelines_own_samples_once_inside_the_averaging_window(sim, client, data, now):
    clear_of_a_quarter_hour(sim, now)
    contracts = markets(client, "KXBTC15M", now(), btc15m_next_margin_s=900)
    current, upcoming = contracts  # the next one has no price to beat yet: it is not priced
    assert current.floor_strike is not None and upcoming.floor_strike is None
    source = UpDownSource(data)
    sim.exchange.advance((current.close_time - now()).total_seconds() - 90)
    outside = source(contracts, now()).probabilities
    assert set(outside) == {current.ticker} and "window_mean" not in dict(outside[current.ticker].inputs)
    spots = []
    for before in (50, 30):
        sim.exchange.advance((current.close_time - timedelta(seconds=before) - now()).total_seconds())
        cycle_started = now() - timedelta(milliseconds=100)  # the sample arrives a little after the cycle began
        inside = dict(source(contracts, cycle_started).probabilities[current.ticker].inputs)
        spots.append(D(inside["spot"]))
        assert inside["window_samples"] == str(len(spots))  # this cycle's sample counts at once
    # the samples at 50 s and 30 s before the close, not the one at 90 s
    assert D(inside["window_mean"]) == (sum(spots) / 2).quantize(D("0.01"))
    assert float(inside["tau_s"]) == 30.1


def test_no_quorum_no_bitcoin_signal_while_the_weather_goes_on(sim, client, data, now):
    fault(sim, "kraken", status=503)
    fault(sim, "coinbase", garbage=1)
    [market] = markets(client, "KXBTCD", now())
    answer = LadderSource(data)([market], now())
    assert answer.probabilities == {}
    rows = health(answer)
    assert rows["kraken"][0] == "failed" and "503" in rows["kraken"][1]
    assert rows["coinbase"][0] == "garbage" and rows["bitstamp"] == ("ok", None)
    assert rows["bitcoin-spot"] == ("failed", "quorum not met: 1 of 3 core sources answered (need 2)")
    assert len(WeatherSource(data)(markets(client, "KXHIGHNY", now()), now()).probabilities) == 7

    sim.app.source_faults.set("coinbase", None)
    sim.exchange.advance(1)
    p = LadderSource(data)([market], now()).probabilities[market.ticker]
    assert dict(p.inputs)["sources"] == "coinbase,bitstamp,cryptocom"
    assert p.confidence == 1  # three venues are a full house


def test_without_candles_there_is_no_volatility_and_no_bitcoin_signal(sim, client, data, now):
    fault(sim, "cryptocom", status=502)  # Crypto.com's ticker (not core), candles and index all fail
    contracts = markets(client, "KXBTC15M", now())
    answer = UpDownSource(data)(contracts, now())
    assert answer.probabilities == {}
    rows = health(answer)
    assert rows["bitcoin-volatility"][0] == "failed" and rows["cryptocom-candles"][0] == "failed"
    assert rows["cryptocom"][0] == "failed" and rows["coinbase"] == ("ok", None)


def test_an_explicit_url_wins_over_the_simulator_and_a_dead_one_is_that_venues_failure(sim, client, now):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{s.getsockname()[1]}"
    data = outside_data(SourcesConfig(urls={"bitstamp": dead}, timeout_s=2), now, sim_root=sim_root_of(sim.base_url))
    try:
        [market] = markets(client, "KXBTCD", now())
        answer = LadderSource(data)([market], now())
    finally:
        data.close()
    rows = health(answer)
    assert rows["bitstamp"][0] == "failed" and "network error" in rows["bitstamp"][1]
    assert dict(answer.probabilities[market.ticker].inputs)["sources"] == "coinbase,kraken,cryptocom"


def test_a_cycle_collects_once_and_stores_each_sources_health_once(sim, client, data, now, store):
    clear_of_a_quarter_hour(sim, now)
    engine = Engine(client, store, PRESETS["balanced"], EngineMode.SIMULATE, clock=now)
    config = PipelineConfig(discovery=DiscoveryConfig(series=("KXHIGHNY", "KXBTC15M", "KXBTCD")))
    pipeline = Pipeline(Discoverer(client, spot=data.spot), store, config, engine, build_sources(DEFAULT_MODELS, data),
                        FeeSchedule(client).for_market, now, prepare=data.prepare)
    result = pipeline.cycle()
    assert result.status is CycleStatus.OK and result.markets == 7 + 1 + 1
    assert {s.family.value for s in result.signals} == {"weather", "btc15m", "btcd"}
    rows = store.health(result.cycle_id)
    names = [h.source for h in rows]
    assert len(names) == len(set(names)) == 8  # two weather models, four venues, candles, index: once each
    assert data.sample(result.started) is data.sample(result.started)  # one collection per cycle
    assert all(h.status == SourceStatus.OK.value for h in rows)


def test_crypto_coms_pushed_ticker_joins_the_median_as_a_venue_that_is_not_core(sim, client, now):
    data = outside_data(SourcesConfig(cryptocom_stream=True), now, sim_root=sim_root_of(sim.base_url))
    try:
        assert data.stream is not None and data.stream.url.startswith("ws://127.0.0.1:")
        waited = 0.0
        while data.stream.latest_quote() is None and waited < 15:  # the stream settles a second, then subscribes
            time.sleep(0.1)
            waited += 0.1
        [market] = markets(client, "KXBTCD", now())
        answer = LadderSource(data)([market], now())
    finally:
        data.close()
    assert dict(answer.probabilities[market.ticker].inputs)["sources"] == ",".join(VENUES) + ",cryptocom-ws"
    assert health(answer)["cryptocom-ws"] == ("ok", None)
