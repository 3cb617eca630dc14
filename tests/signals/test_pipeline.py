"""The pipeline runner against the real simulator, with hand-built signal sources built from its markets."""

from __future__ import annotations

import dataclasses
import socket
import threading
from datetime import datetime, timezone
from decimal import Decimal as D

import pytest

from kalshi_trading.api.retry import RetryPolicy
from kalshi_trading.models import BookSide, OrderRequest
from kalshi_trading.signals.discovery import Discoverer, DiscoveryConfig
from kalshi_trading.signals.engine import Engine
from kalshi_trading.signals.modes import EngineMode
from kalshi_trading.signals.pipeline import LEASE, Pipeline
from kalshi_trading.signals.profiles import PRESETS, PipelineConfig
from kalshi_trading.signals.sources import SourceAnswer, not_connected
from kalshi_trading.signals.types import Family, Probability, SourceHealth, SourceStatus
from kalshi_trading.store.signals import AttemptOutcome, CycleStatus, LeaseHeld
from kalshi_trading.store.sqlite.signals import SqliteSignalStore
from kalshi_trading.trading.fees import FeeSchedule
from tests.e2e.conftest import client_for

PROFILE = dataclasses.replace(PRESETS["balanced"], cooldown_s=0)
CONFIG = PipelineConfig(profile=PROFILE, interval_s=1.0, discovery=DiscoveryConfig(series=("KXBTCD", "KXHIGHNY")))


def now() -> datetime:
    return datetime.now(timezone.utc)


def sure_yes(markets, at):
    """A source certain of YES on every market it gets (so any offer below 0.96 is worth taking)."""
    return SourceAnswer({m.ticker: Probability(D("0.99"), D("0.9"), "hand-model") for m in markets},
                        health=(SourceHealth("hand-feed", SourceStatus.OK, at, latency_ms=5),))


def garbage(markets, at):
    raise ValueError("the body was not in the documented shape")


def pipeline(client, store, sources, config=CONFIG, holder=None):
    spot = lambda: client.get_sim_underlying("KXBTCD").price  # noqa: E731
    engine = Engine(client, store, config.profile, EngineMode.SIMULATE, clock=now)
    made = Pipeline(Discoverer(client, spot=spot), store, config, engine, sources, FeeSchedule(client).for_market,
                    now)
    if holder:
        made.holder = holder
    return made


def offer_on_discovered(client, bob):
    """Bob offers YES at 0.40 on the KXBTCD market discovery picks (the strike nearest the spot)."""
    found = Discoverer(client, spot=lambda: client.get_sim_underlying("KXBTCD").price).discover(
        DiscoveryConfig(series=("KXBTCD",)), now())
    ticker = found.tickers[0]
    bob.create_order(OrderRequest(ticker, BookSide.ASK, D(5), D("0.40")))
    return ticker


def test_a_cycle_discovers_signals_and_trades_and_a_garbage_source_only_degrades_it(client, bob, store):
    ticker = offer_on_discovered(client, bob)
    result = pipeline(client, store, {Family.BTCD: sure_yes, Family.WEATHER: garbage}).cycle()
    assert result.status is CycleStatus.DEGRADED and result.error is None
    assert result.markets == 1 + 7  # the nearest strike, and the coming climate day's seven brackets
    [signal] = result.signals
    assert (signal.ticker, signal.direction.value, signal.trade_price) == (ticker, "buy_yes", D("0.40"))
    [attempt] = result.attempts
    assert (attempt.outcome, attempt.signal_id, attempt.cycle_id) == (AttemptOutcome.FILLED, 1, result.cycle_id)
    [cycle] = store.cycles()
    assert (cycle.status, cycle.markets, cycle.signals, cycle.attempts) == (CycleStatus.DEGRADED, 8, 1, 1)
    health = {h.source: h for h in store.health(cycle.id)}
    assert health["hand-feed"].status == "ok" and health["hand-feed"].latency_ms == 5
    assert health["weather-source"].status == "failed" and "documented shape" in health["weather-source"].reason
    assert [s.ticker for s in store.signals()] == [ticker]


def test_a_skipped_source_keeps_the_cycle_ok(client, store):
    result = pipeline(client, store, {Family.BTCD: sure_yes, Family.WEATHER: not_connected("open-meteo")}).cycle()
    assert result.status is CycleStatus.OK
    assert sorted(h.status for h in store.health(result.cycle_id)) == ["ok", "skipped"]


def test_an_unreachable_exchange_is_a_failed_cycle_recorded_as_such(sim, store):
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    dead = client_for(f"http://127.0.0.1:{port}/trade-api/v2", sim.demo_account,
                      RetryPolicy(max_attempts=1, base_delay=0, max_delay=0))
    try:
        results = pipeline(dead, store, {Family.BTCD: sure_yes}).run(once=True)
    finally:
        dead.close()
    [result] = results
    assert result.status is CycleStatus.FAILED and result.error
    [cycle] = store.cycles()
    assert cycle.status is CycleStatus.FAILED and cycle.error == result.error and cycle.finished is not None
    assert store.lease(LEASE) is None  # released at the end


def test_two_pipelines_on_one_store_refuse_to_double_trade(client, tmp_path):
    first_store = SqliteSignalStore.open(tmp_path / "signals.sqlite")
    second_store = SqliteSignalStore.open(tmp_path / "signals.sqlite")
    try:
        first = pipeline(client, first_store, {Family.BTCD: sure_yes}, holder="host:1")
        second = pipeline(client, second_store, {Family.BTCD: sure_yes}, holder="host:2")
        first.acquire()
        with pytest.raises(LeaseHeld, match="host:1"):
            second.run(once=True)
        assert second_store.cycles() == []  # it did nothing
        with pytest.raises(LeaseHeld):
            second.cycle()
        first.release()
        assert len(second.run(once=True)) == 1
    finally:
        first_store.close()
        second_store.close()


def test_stop_ends_the_run_after_the_current_cycle(client, store):
    stop = threading.Event()
    seen = []

    def on_cycle(result):
        seen.append(result.cycle_id)
        stop.set()  # as Ctrl-C would, during the cycle

    results = pipeline(client, store, {Family.BTCD: sure_yes}).run(stop=stop, on_cycle=on_cycle)
    assert len(results) == 1 and seen == [results[0].cycle_id]
    assert store.cycles()[0].status is not CycleStatus.RUNNING


def test_duration_bounds_the_run(client, store):
    # wall seconds as the runner reads them: start, after cycle 1, after the wait, after cycle 2
    ticks = iter([0.0, 0.5, 1.0, 2.5])
    results = pipeline(client, store, {Family.BTCD: sure_yes}).run(duration=2.0, wall=lambda: next(ticks))
    assert len(results) == 2  # time is up after the second cycle
    ticks = iter([0.0, 0.5, 2.0])  # the wait itself reaches the end: no cycle starts after it
    assert len(pipeline(client, store, {Family.BTCD: sure_yes}).run(duration=2.0, wall=lambda: next(ticks))) == 1
