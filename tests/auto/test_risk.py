"""Risk engine: every rule, every state transition, persistence, with an injected clock."""

from __future__ import annotations

import json
import logging
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from decimal import Decimal as D

import pytest

from kalshi_trading.auto.botconfig import BotConfig, MarketConfig
from kalshi_trading.auto.risk import RiskEngine, exposure, is_reducing
from kalshi_trading.auto.types import RiskContext, RiskState, TargetOrder, WorkingOrder
from kalshi_trading.errors import ConfigError
from kalshi_trading.models import BookSide
from kalshi_trading.money import GRIDS

T0 = datetime(2026, 3, 1, 12, tzinfo=timezone.utc)
BID, ASK = BookSide.BID, BookSide.ASK


class Clock:
    def __init__(self):
        self.now = T0

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


CFG = BotConfig(max_total_exposure=D(20), max_daily_loss=D(10), max_orders_per_minute=3,
                defaults=MarketConfig(max_inventory_yes=D(10), max_inventory_no=D(8)))


def ctx(positions=None, working=(), marks=None, realized=D(0), unrealized=D(0), stale=None, grids=None):
    return RiskContext(positions=positions or {}, working=tuple(working), marks=marks or {"KX-A": D("0.50")},
                       realized_pnl_today=realized, unrealized_pnl=unrealized,
                       book_stale=stale if stale is not None else {"KX-A": False},
                       grids=grids or {"KX-A": GRIDS["linear_cent"]})


def order(side=BID, price="0.50", count="1", ticker="KX-A"):
    return TargetOrder(ticker, side, D(price), D(count))


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def engine(clock):
    return RiskEngine(CFG, clock)


def test_allows_a_plain_order(engine):
    d = engine.check(order(), ctx())
    assert d.allowed and d.rule == "all"


# --- rules ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("o, fragment", [
    (order(BID, "0.995"), "outside"),     # never buy YES above 0.99 (even on a deci-cent grid)
    (order(BID, "0.005"), "outside"),
    (order(ASK, "0.005"), "outside"),     # never an ask below 0.01
    (order(ASK, "1.00"), "outside"),
    (order(BID, "0.505"), "off the KX-A grid"),
    (order(BID, "0.50", "0.001"), "count"),
    (order(BID, "0.50", "0"), "count"),
    (order(BID, "0.50", ticker="KX-B"), "stale"),  # no freshness report: stale first
])
def test_price_sanity(engine, o, fragment):
    c = ctx(stale={"KX-A": False, "KX-B": False}) if o.ticker != "KX-B" else ctx()
    d = engine.check(o, c)
    assert not d.allowed and fragment in d.reason


def test_price_sanity_unknown_grid_and_deci_cent(engine):
    c = ctx(stale={"KX-B": False})
    d = engine.check(order(ticker="KX-B"), c)
    assert (d.allowed, d.rule) == (False, "price_sanity") and "no price grid" in d.reason
    c = ctx(grids={"KX-A": GRIDS["deci_cent"]})
    assert engine.check(order(BID, "0.505"), c).allowed
    assert not engine.check(order(BID, "0.991"), c).allowed


def test_stale_book_denied(engine):
    d = engine.check(order(), ctx(stale={"KX-A": True}))
    assert (d.allowed, d.rule) == (False, "stale_data")


def test_trading_enabled_and_market_enabled(clock):
    off = RiskEngine(replace(CFG, trading_enabled=False), clock)
    assert off.check(order(), ctx()).rule == "trading_enabled"
    cfg = BotConfig(markets={"KX-A": MarketConfig(enabled=False)})
    d = RiskEngine(cfg, clock).check(order(), ctx())
    assert (d.allowed, d.rule) == (False, "trading_enabled") and "KX-A is disabled" in d.reason


@pytest.mark.parametrize("position, working, o, allowed", [
    (D(9), [], order(BID, count="1"), True),                                   # 10 = cap
    (D(9), [], order(BID, count="1.01"), False),
    (D(5), [WorkingOrder("w", "KX-A", BID, D("0.40"), D(4))], order(BID, count="2"), False),  # 5 + 4 + 2
    (D(5), [WorkingOrder("w", "KX-A", ASK, D("0.60"), D(4))], order(BID, count="5"), True),   # asks don't count
    (D(-5), [], order(BID, count="15"), True),                                 # closes NO first: ends +10
    (D(-7), [], order(ASK, count="1"), True),                                  # NO cap 8
    (D(-7), [], order(ASK, count="2"), False),
    (D(3), [], order(ASK, count="11"), True),                                  # -3 + 11 = 8 NO
    (D(12), [], order(ASK, count="1"), True),                                  # over cap: reducing allowed
])
def test_inventory_caps(clock, position, working, o, allowed):
    big = replace(CFG, max_total_exposure=D(1000), max_daily_loss=D(1000))
    d = RiskEngine(big, clock).check(o, ctx(positions={"KX-A": position}, working=working))
    assert d.allowed is allowed, d
    if not allowed:
        assert d.rule == "inventory_cap"


def test_exposure_figure():
    c = ctx(positions={"KX-A": D(10), "KX-B": D(-4), "KX-C": D(2)},
            marks={"KX-A": D("0.30"), "KX-B": D("0.75")},
            working=[WorkingOrder("1", "KX-A", BID, D("0.20"), D(5)), WorkingOrder("2", "KX-B", ASK, D("0.90"), D(10))])
    # 10 x 0.30 + 4 x (1 - 0.75) + 2 x 1 (unmarked) + 5 x 0.20 + 10 x (1 - 0.90)
    assert exposure(c) == D("3.00") + D("1.00") + D(2) + D("1.00") + D("1.00")


def test_exposure_cap(engine):
    c = ctx(positions={"KX-A": D(10)}, marks={"KX-A": D("0.50")},
            working=[WorkingOrder("1", "KX-A", BID, D("0.50"), D(8))])  # 5 + 4 = 9 of 20
    # Inventory cap would stop a bid first; test exposure with an ask (buying NO at 0.50 each).
    assert engine.check(order(ASK, "0.50", "22"), replace(c, positions={"KX-A": D(0)})).rule == "inventory_cap"
    cap = RiskEngine(replace(CFG, defaults=MarketConfig(max_inventory_yes=D(100), max_inventory_no=D(100))),
                     engine._clock)
    d = cap.check(order(BID, "0.50", "23"), c)  # 9 + 11.5 = 20.5 > 20
    assert (d.allowed, d.rule) == (False, "exposure_cap") and "20.5" in d.reason
    assert cap.check(order(BID, "0.50", "22"), c).allowed  # exactly 20
    assert cap.check(order(ASK, "0.50", "10"), c).allowed  # reducing: always fits


def test_is_reducing_counts_working_closes():
    w = [WorkingOrder("1", "KX-A", ASK, D("0.60"), D(6))]
    assert is_reducing(order(ASK, count="4"), D(10), w)
    assert not is_reducing(order(ASK, count="5"), D(10), w)
    assert not is_reducing(order(BID, count="1"), D(10), [])
    assert is_reducing(order(BID, count="3"), D(-3), [])
    assert not is_reducing(order(BID, count="1"), D(0), [])


def test_daily_loss_rule_denies_new_risk_before_update(engine):
    c = ctx(positions={"KX-A": D(2)}, realized=D(-6), unrealized=D(-4))
    d = engine.check(order(BID), c)
    assert (d.allowed, d.rule) == (False, "daily_loss")
    assert engine.check(order(ASK, count="2"), c).allowed


def test_rate_limit_sliding_window(engine, clock):
    for _ in range(3):
        assert engine.check(order(), ctx()).allowed
        clock.advance(10)
    d = engine.check(order(), ctx())
    assert (d.allowed, d.rule) == (False, "rate_limit")
    clock.advance(30)  # t = 60: the first order (t = 0) leaves the window
    assert engine.check(order(), ctx()).allowed
    assert not engine.check(order(), ctx()).allowed
    # Denied orders do not count against the limit.
    clock.advance(60)
    assert not engine.check(order(BID, "0.995"), ctx()).allowed
    assert engine.check(order(), ctx()).allowed


def test_denials_recorded_and_logged(engine, caplog):
    with caplog.at_level(logging.INFO, logger="kalshi_trading.auto.risk"):
        engine.check(order(), ctx(stale={"KX-A": True}))
    assert engine.denials[-1].decision.rule == "stale_data"
    assert engine.denials[-1].ts == T0
    assert "stale" in caplog.text


# --- states ---------------------------------------------------------------------------------------

def test_loss_limit_halts_and_halted_persists(engine, clock):
    assert engine.update(ctx(realized=D(-3))) == []
    clock.advance(5)
    [change] = engine.update(ctx(realized=D(-6), unrealized=D(-4)))
    assert (change.old, change.new, change.must_cancel_all, change.ts) == (
        RiskState.ACTIVE, RiskState.HALTED, True, T0 + timedelta(seconds=5))
    assert "daily loss" in change.reason
    d = engine.check(order(ASK), ctx(positions={"KX-A": D(5)}))  # even reducing orders
    assert (d.allowed, d.rule) == (False, "state") and "halted" in d.reason
    # Recovery does not lift a halt; only a person does.
    assert engine.update(ctx()) == []
    assert engine.state is RiskState.HALTED
    change = engine.resume("checked by Ann")
    assert (change.old, change.new, change.reason, change.must_cancel_all) == (
        RiskState.HALTED, RiskState.ACTIVE, "checked by Ann", False)
    assert engine.check(order(), ctx()).allowed


def test_resume_with_loss_still_breached_halts_again(engine):
    engine.update(ctx(realized=D(-10)))
    engine.resume()
    [change] = engine.update(ctx(realized=D(-10)))
    assert change.new is RiskState.HALTED


def test_reducing_on_approaching_loss_and_back(engine):
    [change] = engine.update(ctx(realized=D(-8)))  # 80% of 10
    assert (change.new, change.must_cancel_all) == (RiskState.REDUCING, False)
    c = ctx(positions={"KX-A": D(4)}, realized=D(-8))
    assert engine.check(order(ASK, count="4"), c).allowed
    d = engine.check(order(BID, count="1"), c)
    assert (d.allowed, d.rule) == (False, "state") and "reducing" in d.reason
    assert engine.check(order(ASK, count="5"), c).rule == "state"  # would flip to NO
    assert engine.update(ctx(realized=D(-8))) == []  # no repeated change
    [change] = engine.update(ctx(realized=D(-2)))
    assert (change.old, change.new) == (RiskState.REDUCING, RiskState.ACTIVE)
    [change] = engine.update(ctx(realized=D(-8)))
    [change] = engine.update(ctx(realized=D(-11)))
    assert (change.old, change.new, change.must_cancel_all) == (RiskState.REDUCING, RiskState.HALTED, True)


def test_reducing_on_exposure_over_cap(engine):
    [change] = engine.update(ctx(positions={"KX-A": D(50)}, marks={"KX-A": D("0.50")}))
    assert change.new is RiskState.REDUCING and "exposure 25" in change.reason


def test_manual_reduce_and_halt(engine):
    change = engine.reduce("end of session")
    assert change.new is RiskState.REDUCING
    assert engine.update(ctx()) == []  # a person's REDUCING is not lifted automatically
    assert engine.state is RiskState.REDUCING
    engine.resume()
    assert engine.state is RiskState.ACTIVE
    change = engine.halt("operator pressed stop")
    assert change.must_cancel_all and engine.reason == "operator pressed stop"
    assert engine.halt("again") is None
    assert engine.reduce("no effect while halted") is None


def test_state_changes_logged(engine, caplog):
    with caplog.at_level(logging.WARNING, logger="kalshi_trading.auto.risk"):
        engine.update(ctx(realized=D(-20)))
    assert "active -> halted" in caplog.text
    assert engine.changes[-1].new is RiskState.HALTED


def test_halted_survives_restart(engine, clock):
    engine.update(ctx(realized=D(-20)))
    saved = json.loads(json.dumps(engine.to_state()))
    clock.advance(3600)
    fresh = RiskEngine(CFG, clock)
    assert fresh.state is RiskState.ACTIVE
    fresh.from_state(saved)
    assert fresh.state is RiskState.HALTED and fresh.since == T0 and "daily loss" in fresh.reason
    assert not fresh.check(order(), ctx()).allowed
    assert fresh.update(ctx()) == []
    change = fresh.resume()
    assert change.old is RiskState.HALTED
    again = RiskEngine(CFG, clock)
    again.from_state(fresh.to_state())
    assert again.state is RiskState.ACTIVE


def test_manual_reducing_survives_restart(engine, clock):
    engine.reduce("winding down")
    fresh = RiskEngine(CFG, clock)
    fresh.from_state(engine.to_state())
    assert fresh.update(ctx()) == [] and fresh.state is RiskState.REDUCING


@pytest.mark.parametrize("data", [
    {}, {"version": 1, "state": "paused", "reason": "x", "since": T0.isoformat()},
    {"version": 1, "state": "halted", "reason": "x", "since": "2026-01-01T00:00:00"},
    {"version": 2, "state": "halted", "reason": "x", "since": T0.isoformat()},
    {"version": 1, "state": "halted", "reason": "x"},
])
def test_damaged_state_refused(engine, data):
    with pytest.raises(ConfigError, match="saved risk state"):
        engine.from_state(data)


def test_update_config_takes_effect(engine):
    c = ctx(positions={"KX-A": D(9)})
    assert engine.check(order(BID), c).allowed
    engine.update_config(replace(CFG, defaults=MarketConfig(max_inventory_yes=D(9))))
    assert engine.check(order(BID), c).rule == "inventory_cap"
