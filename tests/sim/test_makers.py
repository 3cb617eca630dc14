"""The background makers (sim/makers.py): seeded profiles that differ, quotes that lag the index and reprice only
past a threshold, thin depth at the touch, never crossing one another, and state that survives a save."""

from __future__ import annotations

import dataclasses
import json

import pytest

from kalshi_trading.sim import store as store_mod
from kalshi_trading.sim.clock import ManualClock
from kalshi_trading.sim.exchange import SimExchange
from kalshi_trading.sim.makers import LEVELS, TOUCH, Maker, maker_fair, profiles
from kalshi_trading.sim.records import CU
from kalshi_trading.sim.world import binary_above
from tests.sim.conftest import T0


def _exchange(seed: int) -> SimExchange:
    ex = SimExchange(ManualClock(T0), seed=seed)
    ex.list_due(T0)
    ex.prime()
    return ex


def _atm(ex: SimExchange):
    """The KXBTCD market nearest the money that closes at least an hour from now."""
    live = [m for m in ex.engine.markets.values() if m.status == "active" and m.series_ticker == "KXBTCD"
            and m.close_ms - ex.sim_ms > 3_600_000]
    return min(live, key=lambda m: abs(m.fair - 0.5))


def test_profiles_come_from_the_seed_and_differ():
    assert profiles(5) == profiles(5) and profiles(5) != profiles(6)
    for seed in range(20):
        ps = profiles(seed)
        assert len({p.account_id for p in ps}) == len(ps) >= 2
        assert len({p.vol_factor for p in ps}) == len(ps)  # every maker its own volatility estimate
        assert all(0.7 <= p.vol_factor <= 1.45 and 3 <= p.lag_s <= 20 and 0.015 <= p.threshold <= 0.04
                   for p in ps)


def test_a_maker_prices_the_index_as_it_lagged_with_its_own_volatility():
    ex = _exchange(3)
    ex.advance(60)
    m = _atm(ex)
    for maker in ex.participants.makers:
        p = maker.profile
        seen = ex.world.path.price_at(ex.sim_ms - p.lag_s * 1000)
        expected = binary_above(seen, float(m.floor_strike), ex.world.vol * p.vol_factor,
                                (m.close_ms - ex.sim_ms) / 1000)
        assert maker_fair(ex.world, m, p, ex.sim_ms) == pytest.approx(expected, abs=1e-12)


def test_quotes_lag_a_jump_in_the_index_by_each_makers_latency():
    ex = _exchange(4)
    ex.advance(30)
    m = _atm(ex)
    now = ex.sim_ms
    for maker in ex.participants.makers:  # everyone freshly quoted: no refresh falls in the next 20 s
        # a threshold the index's own second-to-second moves never reach, only the jump below
        maker.profile = dataclasses.replace(maker.profile, threshold=0.15)
        maker.requote(m, maker_fair(ex.world, m, maker.profile, now), now)
    ex.world.spot *= 1.01  # the index jumps 1% (about two standard deviations of the hour left): fair moves far
    lags = {maker.profile.account_id: maker.profile.lag_s for maker in ex.participants.makers}
    requoted_after: dict[str, int] = {}
    for second in range(1, max(lags.values()) + 3):
        ex.advance(1)
        for maker in ex.participants.makers:
            if maker.quoted[m.ticker][1] > now and maker.profile.account_id not in requoted_after:
                requoted_after[maker.profile.account_id] = second
    assert abs(m.fair - 0.5) > 0.2  # the true value moved at once ...
    for account, lag in lags.items():  # ... each maker only once its lagged view of the index saw the jump
        assert lag <= requoted_after[account] <= lag + 1, (account, lag, requoted_after)


def test_a_maker_reprices_only_past_its_threshold_or_when_refreshing_or_taken():
    ex = _exchange(5)
    m = _atm(ex)
    maker: Maker = ex.participants.makers[0]
    p = maker.profile
    now = ex.sim_ms
    maker.requote(m, 0.5, now)
    assert not maker._due(m.ticker, 0.5 + 0.9 * p.threshold, now + 1000)
    assert not maker._due(m.ticker, 0.5 - 0.9 * p.threshold, now + 1000)
    assert maker._due(m.ticker, 0.5 + 1.1 * p.threshold, now + 1000)
    assert maker._due(m.ticker, 0.5, now + p.refresh_s * 1000)
    bid, ask = maker.touch[m.ticker]
    assert bid is not None and ask is not None
    ex.engine.cancel_order(ask)  # its touch is gone (as if lifted): put back only after its reaction time
    assert not maker._due(m.ticker, 0.5, now + 1000)
    assert not maker._due(m.ticker, 0.5, now + 1000 + p.lag_s * 1000 - 1)
    assert maker._due(m.ticker, 0.5, now + 1000 + p.lag_s * 1000)


def test_depth_is_thin_at_the_touch_and_the_makers_never_cross():
    ex = _exchange(6)
    for _ in range(5):
        ex.advance(60)
        for m in ex.engine.markets.values():
            if m.status != "active":
                continue
            book = ex.engine.books[m.ticker]
            assert not book.is_crossed()
            for maker in ex.participants.makers:
                mine = [o for o in book.live_orders() if o.account is maker.account]
                for side in ("bid", "ask"):
                    orders = sorted((o for o in mine if o.side == side), key=lambda o: o.price,
                                    reverse=side == "bid")
                    assert len(orders) <= LEVELS
                    if orders and maker.touch[m.ticker][0 if side == "bid" else 1] is orders[0]:
                        assert orders[0].remaining <= TOUCH[1] * CU  # a few contracts at its best price


def test_the_makers_state_survives_a_save():
    ex = _exchange(7)
    ex.advance(30)
    docs = store_mod.dump(ex)
    saved = json.loads(docs["meta"])["participants_quoted"]
    assert saved and all("|" in key for key in saved)
    loaded = store_mod.load(docs, clock=ManualClock(ex.sim_ms))
    assert loaded.participants.quoted == ex.participants.quoted
    old = dict(docs, meta=json.dumps({**json.loads(docs["meta"]), "participants_quoted": {"KX-T": [0.5, 1]}}))
    assert store_mod.load(old, clock=ManualClock(ex.sim_ms)).participants.quoted == {}  # an older save: requoted
