"""The signal store's contract (`kalshi_trading/store/signals.py`), run against every storage adapter.

Each test gets a store from its URL, as the application builds it.  To run the suite against a new adapter, add
one line to ADAPTERS.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta, timezone
from decimal import Decimal as D

import pytest

from kalshi_trading.errors import StorageError, UsageError
from kalshi_trading.store import open_store
from kalshi_trading.store.signals import (
    AttemptOutcome, AttemptRecord, CycleStatus, HealthRecord, LeaseHeld, SignalRecord, SignalStore,
)
from tests.store.adapters import ADAPTERS

T0 = datetime(2026, 11, 21, 16, 0, 0, 123456, tzinfo=timezone.utc)


@pytest.fixture(params=sorted(ADAPTERS))
def url(request, tmp_path) -> str:
    return ADAPTERS[request.param](tmp_path)


@pytest.fixture
def opened(url):
    stores = []

    def open_() -> SignalStore:
        store = open_store(url, env="sim")
        stores.append(store)
        return store.signals()

    yield open_
    for store in stores:
        store.close()


@pytest.fixture
def signals(opened) -> SignalStore:
    return opened()


def signal(ticker="KXBTCD-26NOV2117-T97500", at=T0, direction="buy_yes", **kw) -> SignalRecord:
    values = dict(ticker=ticker, family="btcd", at=at, model="btcd-black-scholes", model_prob=D("0.6123"),
                  market_mid=D("0.545"), trade_price=D("0.5500"), edge_bps=412, confidence=D("0.8"),
                  direction=direction, inputs=(("spot", "97512.25"), ("sources", "coinbase,kraken")))
    values.update(kw)
    return SignalRecord(**values)


def attempt(outcome=AttemptOutcome.FILLED, at=T0, ticker="KXBTCD-26NOV2117-T97500", **kw) -> AttemptRecord:
    values = dict(at=at, ticker=ticker, direction="buy_yes", mode="simulate", outcome=outcome, count=D("2"),
                  limit_price=D("0.56"), fill_count=D("1.50"), fill_price=D("0.5533"), fee=D("0.0175"),
                  model_prob=D("0.6123"), edge_bps=412, order_id="paper:1")
    values.update(kw)
    return AttemptRecord(**values)


def test_a_signal_comes_back_exactly(signals):
    sid = signals.record_signal(signal(cycle_id=None))
    [back] = signals.signals()
    assert back == replace(signal(), id=sid)
    assert back.at == T0 and back.at.tzinfo is not None and back.model_prob == D("0.6123")
    assert str(back.trade_price) == "0.5500"  # every digit kept


def test_signal_with_nothing_optional(signals):
    bare = signal(market_mid=None, trade_price=None, edge_bps=None, direction="none", inputs=())
    sid = signals.record_signal(bare)
    assert signals.signals() == [replace(bare, id=sid)]


def test_signal_queries_since_ticker_actionable_limit(signals):
    ids = [signals.record_signal(signal(ticker=t, at=T0 + timedelta(minutes=i), direction=d))
           for i, (t, d) in enumerate([("A-1", "buy_yes"), ("B-1", "none"), ("A-1", "buy_no"), ("B-1", "buy_yes")])]
    assert ids == sorted(ids) and len(set(ids)) == 4
    assert [s.id for s in signals.signals(since=T0 + timedelta(minutes=1))] == ids[1:]  # inclusive
    assert [s.id for s in signals.signals(ticker="A-1")] == [ids[0], ids[2]]
    assert [s.id for s in signals.signals(actionable=True)] == [ids[0], ids[2], ids[3]]
    assert [s.id for s in signals.signals(actionable=False)] == [ids[1]]
    assert [s.id for s in signals.signals(limit=2)] == ids[2:]  # the newest two, oldest first
    assert signals.signals(limit=0) == []
    assert signals.signals(ticker="C-1") == []


def test_naive_times_and_negative_limits_are_usage_errors(signals):
    with pytest.raises(UsageError):
        signals.signals(since=datetime(2026, 1, 1))
    with pytest.raises(UsageError):
        signals.attempts(limit=-1)
    with pytest.raises(UsageError):
        signals.record_signal(signal(at=datetime(2026, 1, 1)))


def test_every_attempt_outcome_round_trips(signals):
    made = [
        attempt(AttemptOutcome.SUBMITTED, order_id="0f8e2c4a-0000", client_order_id="c-1", fill_count=D(0),
                fill_price=None, fee=None, mode="sim"),
        attempt(AttemptOutcome.FILLED),
        attempt(AttemptOutcome.UNFILLED, fill_count=D(0), fill_price=None, fee=None),
        attempt(AttemptOutcome.REJECTED, reason="insufficient_balance: not enough cash", order_id=None,
                fill_count=D(0), fill_price=None, fee=None, mode="demo"),
        attempt(AttemptOutcome.SKIPPED, rule="cooldown", reason="bought 10 s ago", limit_price=None, order_id=None,
                fill_count=D(0), fill_price=None, fee=None),
    ]
    ids = [signals.record_attempt(a) for a in made]
    assert signals.attempts() == [replace(a, id=i) for a, i in zip(made, ids, strict=True)]
    assert [a.id for a in signals.attempts(outcome=AttemptOutcome.SKIPPED)] == [ids[4]]


def test_attempts_by_since_and_ticker(signals):
    ids = [signals.record_attempt(attempt(at=T0 + timedelta(seconds=i), ticker=t))
           for i, t in enumerate(["A-1", "B-1", "A-1"])]
    assert [a.id for a in signals.attempts(since=T0 + timedelta(seconds=1))] == ids[1:]
    assert [a.id for a in signals.attempts(ticker="A-1")] == [ids[0], ids[2]]
    assert [a.id for a in signals.attempts(limit=1)] == [ids[2]]


def test_a_signal_links_to_its_attempts_and_cycle(signals):
    cycle = signals.begin_cycle(T0, mode="simulate", profile="balanced")
    sid = signals.record_signal(signal(cycle_id=cycle))
    signals.record_attempt(attempt(signal_id=sid, cycle_id=cycle))
    assert signals.signals()[0].cycle_id == cycle
    [a] = signals.attempts()
    assert (a.signal_id, a.cycle_id) == (sid, cycle)


def test_a_cycles_health_and_signals_are_recorded_together(signals):
    cycle = signals.begin_cycle(T0, mode="simulate", profile="balanced")
    ids = signals.record_cycle([HealthRecord(cycle, "coinbase", "ok", T0, 80),
                                HealthRecord(cycle, "kraken", "garbage", T0, 12, "result is not an object")],
                               [signal(ticker="A-1", cycle_id=cycle), signal(ticker="B-1", cycle_id=cycle)])
    assert [s.id for s in signals.signals()] == ids and [s.ticker for s in signals.signals()] == ["A-1", "B-1"]
    assert [(h.source, h.status) for h in signals.health(cycle)] == [("coinbase", "ok"), ("kraken", "garbage")]
    assert signals.record_cycle([], []) == []
    sid = signals.record_signal(signal(ticker="C-1"))  # and the store goes on as before
    assert sid not in ids and len(signals.signals()) == 3


def test_a_cycle_that_cannot_be_recorded_whole_records_nothing(signals):
    cycle = signals.begin_cycle(T0, mode="simulate", profile="balanced")
    broken = replace(signal(ticker="B-1"), ticker=None)  # a store refuses a signal without a ticker
    with pytest.raises(StorageError):
        signals.record_cycle([HealthRecord(cycle, "coinbase", "ok", T0, 80)], [signal(ticker="A-1"), broken])
    assert signals.signals() == [] and signals.health(cycle) == []
    assert signals.record_cycle([], [signal(ticker="A-1")]) and len(signals.signals()) == 1


def test_cycles_begin_finish_and_health(signals):
    first = signals.begin_cycle(T0, mode="simulate", profile="balanced")
    signals.record_health(HealthRecord(first, "coinbase", "ok", T0, 120))
    signals.record_health(HealthRecord(first, "kraken", "failed", T0, None, "HTTP 503"))
    signals.finish_cycle(first, finished=T0 + timedelta(seconds=2), status=CycleStatus.DEGRADED, markets=20,
                         signals=18, attempts=3)
    second = signals.begin_cycle(T0 + timedelta(seconds=30), mode="simulate", profile="balanced")
    newest, oldest = signals.cycles()
    assert newest.id == second and newest.status is CycleStatus.RUNNING and newest.finished is None
    assert (oldest.status, oldest.markets, oldest.signals, oldest.attempts) == (CycleStatus.DEGRADED, 20, 18, 3)
    assert oldest.finished == T0 + timedelta(seconds=2)
    assert [(h.source, h.status, h.latency_ms, h.reason) for h in signals.health(first)] == [
        ("coinbase", "ok", 120, None), ("kraken", "failed", None, "HTTP 503")]
    assert signals.health(second) == []
    signals.finish_cycle(second, finished=T0 + timedelta(seconds=31), status=CycleStatus.FAILED, markets=0,
                         signals=0, attempts=0, error="discovery: HTTP 503")
    assert signals.cycles(limit=1)[0].error == "discovery: HTTP 503"


def test_the_lease_admits_one_holder(opened):
    a, b = opened(), opened()  # two processes' views of one store
    lease = a.acquire_lease("pipeline", "host:1", now=T0, ttl_seconds=60)
    assert (lease.holder, lease.expires) == ("host:1", T0 + timedelta(seconds=60))
    with pytest.raises(LeaseHeld) as refused:
        b.acquire_lease("pipeline", "host:2", now=T0 + timedelta(seconds=59), ttl_seconds=60)
    assert "host:1" in str(refused.value) and isinstance(refused.value, StorageError)
    renewed = a.acquire_lease("pipeline", "host:1", now=T0 + timedelta(seconds=30), ttl_seconds=60)
    assert renewed.acquired == T0 and renewed.expires == T0 + timedelta(seconds=90)
    b.release_lease("pipeline", "host:2")  # not its lease: nothing happens
    assert b.lease("pipeline").holder == "host:1"
    # an expired lease (its holder crashed) can be taken over
    taken = b.acquire_lease("pipeline", "host:2", now=T0 + timedelta(seconds=91), ttl_seconds=60)
    assert taken.holder == "host:2"
    b.release_lease("pipeline", "host:2")
    assert a.lease("pipeline") is None
    assert a.acquire_lease("pipeline", "host:1", now=T0, ttl_seconds=5).holder == "host:1"


def test_other_lease_names_are_independent(signals):
    signals.acquire_lease("pipeline", "x", now=T0, ttl_seconds=60)
    assert signals.acquire_lease("other", "y", now=T0, ttl_seconds=60).holder == "y"


def test_records_survive_reopening(opened):
    first = opened()
    sid = first.record_signal(signal())
    first.record_attempt(attempt(signal_id=sid))
    again = opened()
    assert [s.id for s in again.signals()] == [sid] and again.attempts()[0].signal_id == sid
    assert again.schema_version() >= 1
