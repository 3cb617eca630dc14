"""The paper-trading engine against the real simulator: every rule that skips, every outcome, every mode.

Books are made by another account (`bob`) resting orders; signals are hand-built on the simulator's markets.
"""

from __future__ import annotations

import dataclasses
from datetime import datetime, timezone
from decimal import Decimal as D

import pytest

from kalshi_trading.models import BookSide, OrderRequest
from kalshi_trading.signals.engine import Engine, ExecutorPlacer
from kalshi_trading.signals.modes import EngineMode
from kalshi_trading.signals.profiles import PRESETS
from kalshi_trading.signals.types import Direction
from kalshi_trading.store.signals import AttemptOutcome
from kalshi_trading.trading.executor import Executor
from tests.e2e.conftest import cent_market, client_for
from tests.signals.conftest import make_signal

PROFILE = dataclasses.replace(PRESETS["balanced"], cooldown_s=0, order_size=D(1))


def now() -> datetime:
    return datetime.now(timezone.utc)


@pytest.fixture
def ticker(sim):
    return cent_market(sim)


@pytest.fixture
def other(sim, ticker):
    """A second market of the same ladder."""
    markets = sorted(m.ticker for m in sim.exchange.engine.markets.values()
                     if m.series_ticker == "KXBTCD" and m.status == "active" and m.ticker != ticker)
    return markets[0]


def ask(bob, ticker, price, count=5):
    """Bob offers YES at `price` (a resting ask)."""
    return bob.create_order(OrderRequest(ticker, BookSide.ASK, D(count), D(price)))


def bid(bob, ticker, price, count=5):
    return bob.create_order(OrderRequest(ticker, BookSide.BID, D(count), D(price)))


def engine(client, store, mode=EngineMode.SIMULATE, profile=PROFILE, journal=None):
    placer = ExecutorPlacer(Executor(client, journal, "sim")) if mode.sends_orders else None
    return Engine(client, store, profile, mode, placer=placer, clock=now)


def run(eng, store, *signals, cycle=None):
    pairs = [(s, store.record_signal(_record(s))) for s in signals]
    return eng.run(pairs, cycle)


def _record(s):
    from kalshi_trading.signals.pipeline import to_record

    return to_record(s, None)


# -- simulate: fills modelled against the book, nothing sent ----------------------------------------------------------

def test_simulate_fills_against_the_book_and_sends_nothing(client, bob, store, ticker):
    ask(bob, ticker, "0.40")
    [a] = run(engine(client, store), store, make_signal(ticker, "0.60", trade_price="0.40"))
    assert a.outcome is AttemptOutcome.FILLED and a.mode == "simulate"
    assert (a.fill_count, a.fill_price, a.limit_price) == (D(1), D("0.400000"), D("0.56"))  # 0.60 - 4% edge
    assert a.fee == D("0.0168")  # the taker fee: 0.07 x 1 x 0.40 x 0.60, rounded up to $0.0001
    assert store.attempts() == [a]
    assert list(client.iter_orders()) == []  # nothing reached the exchange
    assert client.get_orderbook(ticker).no_bids[0].count == D(5)  # bob's offer untouched


def test_simulate_buy_no_takes_the_yes_bids(client, bob, store, ticker):
    bid(bob, ticker, "0.30")  # a NO offer at 0.70
    [a] = run(engine(client, store), store, make_signal(ticker, "0.20", Direction.BUY_NO, trade_price="0.70"))
    assert (a.outcome, a.direction, a.fill_price, a.limit_price) == (AttemptOutcome.FILLED, "buy_no",
                                                                       D("0.700000"), D("0.76"))


def test_simulate_with_nothing_at_the_limit_is_unfilled(client, bob, store, ticker):
    ask(bob, ticker, "0.58")  # the signal saw 0.40; the book moved
    [a] = run(engine(client, store), store, make_signal(ticker, "0.60", trade_price="0.40"))
    assert a.outcome is AttemptOutcome.UNFILLED and a.fill_count == 0 and "0.56" in a.reason


def test_a_signal_without_direction_makes_no_attempt(client, store, ticker):
    assert run(engine(client, store), store, make_signal(ticker, "0.50", Direction.NONE, edge=-20)) == []
    assert store.attempts() == []


# -- the rules, each skipping with its name ---------------------------------------------------------------------------

@pytest.mark.parametrize("profile_change, signal_change, rule", [
    ({"signal_types": ("weather",)}, {}, "signal_type"),
    ({}, {"edge": 399}, "min_edge"),
    ({}, {"edge": None}, "min_edge"),
    ({}, {"confidence": "0.49"}, "min_confidence"),
    ({}, {"p": "0.43"}, "price_clamp"),          # limit 0.39 is below the best offer 0.40
    ({"max_price": D("0.30")}, {}, "price_clamp"),  # limit 0.30 is below the best offer 0.40
    ({}, {"p": "0.08"}, "price_clamp"),          # fair 0.08 - 0.04 leaves 0.04 < min_price 0.05
    ({"max_inventory": D(1), "order_size": D(2)}, {}, "risk:inventory_cap"),
    ({"max_total_exposure": D("0.50"), "order_size": D(2)}, {}, "risk:exposure_cap"),
])
def test_each_rule_skips_with_its_name(client, bob, store, ticker, profile_change, signal_change, rule):
    ask(bob, ticker, "0.40")
    profile = dataclasses.replace(PROFILE, **profile_change)
    kw = {"p": "0.60", "trade_price": "0.40", **signal_change}
    [a] = run(engine(client, store, profile=profile), store, make_signal(ticker, kw.pop("p"), **kw))
    assert (a.outcome, a.rule) == (AttemptOutcome.SKIPPED, rule), a.reason
    assert a.reason and a.fill_count == 0


def test_model_names_are_allowed_as_signal_types(client, bob, store, ticker):
    ask(bob, ticker, "0.40")
    profile = dataclasses.replace(PROFILE, signal_types=("hand-model",))
    [a] = run(engine(client, store, profile=profile), store, make_signal(ticker, "0.60", trade_price="0.40"))
    assert a.outcome is AttemptOutcome.FILLED


def test_cooldown_per_ticker_and_direction_survives_a_new_engine(client, bob, store, ticker):
    ask(bob, ticker, "0.40")
    bid(bob, ticker, "0.30")
    profile = dataclasses.replace(PROFILE, cooldown_s=300)
    [first] = run(engine(client, store, profile=profile), store, make_signal(ticker, "0.60"))
    again, other_side = run(engine(client, store, profile=profile), store, make_signal(ticker, "0.60"),
                            make_signal(ticker, "0.20", Direction.BUY_NO))
    assert first.outcome is AttemptOutcome.FILLED
    assert (again.rule, other_side.outcome) == ("cooldown", AttemptOutcome.FILLED)


def test_caps_per_cycle_take_the_best_edge_first_and_per_day_count_the_store(client, bob, store, ticker, other):
    ask(bob, ticker, "0.40")
    ask(bob, other, "0.40")
    profile = dataclasses.replace(PROFILE, max_orders_per_cycle=1, max_orders_per_day=2)
    attempts = run(engine(client, store, profile=profile), store, make_signal(ticker, "0.60", edge=500),
                   make_signal(other, "0.60", edge=900))
    assert [(a.ticker, a.outcome.value, a.rule) for a in attempts] == [
        (other, "filled", None), (ticker, "skipped", "cycle_cap")]
    [second] = run(engine(client, store, profile=profile), store, make_signal(ticker, "0.60"))
    [third] = run(engine(client, store, profile=profile), store, make_signal(ticker, "0.60"))
    assert second.outcome is AttemptOutcome.FILLED and third.rule == "day_cap"


@pytest.mark.parametrize("mode", [EngineMode.SIMULATE, EngineMode.SIM])
def test_a_market_that_closed_between_signal_and_order_is_skipped(sim, client, bob, store, journal, ticker, mode):
    ask(bob, ticker, "0.40")
    signal = make_signal(ticker, "0.60", trade_price="0.40")
    sim.exchange.settle(ticker, "no")
    [a] = run(engine(client, store, mode, journal=journal), store, signal)
    assert (a.outcome, a.rule) == (AttemptOutcome.SKIPPED, "market_closed")
    assert "closed between signal and order" in a.reason
    assert list(client.iter_orders()) == []


# -- real orders through the executor ---------------------------------------------------------------------------------

def test_sim_mode_places_through_the_executor(client, bob, store, journal, ticker):
    ask(bob, ticker, "0.40", count=1)
    [a] = run(engine(client, store, EngineMode.SIM, journal=journal), store,
              make_signal(ticker, "0.60", trade_price="0.40"))
    assert (a.outcome, a.mode, a.fill_count, a.fill_price) == (AttemptOutcome.FILLED, "sim", D(1), D("0.40"))
    assert a.order_id and client.get_order(a.order_id).ticker == ticker
    kinds = [e.kind for e in journal.order_events(client_order_id=a.client_order_id)]
    assert kinds[0] == "intent" and "accepted" in kinds  # write-ahead, like every order of the executor
    assert client.get_orderbook(ticker).no_bids == ()  # it really took bob's offer


def test_sim_mode_with_nothing_at_the_limit_is_unfilled_with_an_order_id(client, store, journal, ticker):
    [a] = run(engine(client, store, EngineMode.SIM, journal=journal), store, make_signal(ticker, "0.60"))
    assert a.outcome is AttemptOutcome.UNFILLED and a.order_id and "canceled" in a.reason
    assert client.get_order(a.order_id).status == "canceled"  # an IOC: nothing rests


def test_the_exchanges_rejection_is_recorded_with_its_reason(sim, bob, store, journal, ticker):
    ask(bob, ticker, "0.40")
    poor = client_for(sim.base_url, sim.create_account(D("0.10")))
    try:
        [a] = run(engine(poor, store, EngineMode.SIM, journal=journal), store,
                  make_signal(ticker, "0.60", trade_price="0.40"))
    finally:
        poor.close()
    assert a.outcome is AttemptOutcome.REJECTED and a.order_id is None
    assert "insufficient_balance" in a.reason


def test_resting_orders_are_never_sent(client, bob, store, journal, ticker):
    """Every order is immediate-or-cancel: a signal never leaves an order working."""
    ask(bob, ticker, "0.40", count=1)
    run(engine(client, store, EngineMode.SIM, journal=journal), store, make_signal(ticker, "0.60"))
    assert list(client.iter_orders(status="resting")) == []
