"""Simulated time: monotonic, resumed exactly across restarts, and never moved past the horizon."""

from __future__ import annotations

import json
import math
import time

import pytest

from kalshi_trading.sim import store as store_mod
from kalshi_trading.sim.clock import ManualClock, SimClock, wall_ms
from kalshi_trading.sim.errors import SimError
from kalshi_trading.sim.exchange import MAX_ADVANCE_S, SimExchange
from kalshi_trading.sim.runtime import start_embedded


class SteppedWall:
    """A wall clock the test sets (and may step backwards, as NTP does)."""

    def __init__(self, now: float):
        self.now = now

    def __call__(self) -> float:
        return self.now


def test_the_clock_never_runs_backwards_when_the_wall_clock_does():
    wall = SteppedWall(1_000.0)
    clock = SimClock(5_000_000, wall=wall)
    wall.now += 2.0
    later = clock.now_ms()
    wall.now -= 60.0  # the wall clock is stepped back a minute
    assert clock.now_ms() == later
    wall.now += 61.0
    assert clock.now_ms() == later + 1000


@pytest.mark.parametrize("speed", [math.nan, math.inf, -1.0, 0.0])
def test_the_clock_refuses_a_speed_that_is_not_a_positive_number(speed):
    with pytest.raises(ValueError):
        SimClock(0, speed=speed)


def test_a_restart_resumes_at_the_clock_not_at_the_last_whole_step(tmp_path):
    server = start_embedded(tmp_path, participants=False)
    try:
        last = server.exchange.clock.now_ms()
    finally:
        server.stop()
    st = store_mod.Store(tmp_path / "sim")
    meta = json.loads(st.read()["meta"])
    st.close()
    assert meta["clock_ms"] >= last >= meta["sim_ms"]
    again = start_embedded(tmp_path, participants=False)
    try:
        assert again.exchange.clock.now_ms() >= meta["clock_ms"]
    finally:
        again.stop()


def test_a_saved_wall_time_in_the_future_does_not_move_the_clock_back(tmp_path):
    server = start_embedded(tmp_path, participants=False)
    server.stop()
    st = store_mod.Store(tmp_path / "sim")
    docs = st.read()
    meta = json.loads(docs["meta"])
    meta["wall_ms"] += 3_600_000  # saved by a machine whose clock was an hour ahead
    docs["meta"] = json.dumps(meta)
    st.write(docs)
    st.close()
    st = store_mod.Store(tmp_path / "sim")
    loaded = store_mod.load(st.read(), participants=False)
    st.close()
    assert loaded.clock.now_ms() >= meta["clock_ms"]


def _exchange_now() -> SimExchange:
    ex = SimExchange(ManualClock(wall_ms()), seed=1, participants=False)
    ex.list_due(ex.sim_ms)
    return ex


@pytest.mark.parametrize("seconds", [MAX_ADVANCE_S + 1, 1e30, math.inf, math.nan, -1, 0])
def test_an_advance_outside_the_horizon_is_refused_and_nothing_moves(seconds):
    ex = _exchange_now()
    before = ex.clock.now_ms()
    with pytest.raises(SimError) as info:
        ex.advance(seconds)
    assert info.value.status == 400 and ex.clock.now_ms() == before


def test_simulated_time_stays_within_ten_years_of_the_real_date():
    ex = _exchange_now()
    ex.advance(MAX_ADVANCE_S - 86_400)
    with pytest.raises(SimError, match="ahead of the real date"):
        ex.advance(2 * 86_400)  # each step is allowed; together they would pass the horizon
    ex.advance(3600)
    assert ex.clock.now_ms() < (time.time() + MAX_ADVANCE_S) * 1000
    assert any(m.status == "active" for m in ex.engine.markets.values())  # still listing ten years on
