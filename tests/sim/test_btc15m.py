"""KXBTC15M on the simulator: listing every 15 minutes, the price to beat, settlement by the 60-second averages
(data-sources.md section 2), the makers' lagged fair value, determinism by seed, and the recorded path surviving
a save.  The averages are computed here from the path's samples, independently of the simulator's code."""

from __future__ import annotations

import math
from decimal import ROUND_HALF_UP, Decimal

import pytest
import requests

from kalshi_trading.sim import btc15m
from kalshi_trading.sim.btcpath import BtcPath
from kalshi_trading.sim.clock import ManualClock
from kalshi_trading.sim.exchange import SimExchange
from kalshi_trading.sim.world import World
from tests.sim.helpers import assert_makers_straddle
from tests.sim.conftest import T0  # 2026-11-21T14:30:00Z, a window's open (09:30 US Eastern standard time)

MIN = 60_000


def _avg_2dp(path: BtcPath, end_ms: int) -> Decimal:
    values = [p for t, p in path.seconds if end_ms - 60_000 < t <= end_ms]
    assert len(values) == 60, "a sample a second in the 60 s before"
    return Decimal(repr(sum(values) / 60)).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


def _series_markets(ex: SimExchange):
    return sorted((m for m in ex.engine.markets.values() if m.series_ticker == "KXBTC15M"), key=lambda m: m.open_ms)


def test_listing_running_window_and_next_one():
    ex = SimExchange(ManualClock(T0 + 7 * MIN), seed=1, participants=False)
    ex.list_due(ex.sim_ms)
    running, upcoming = _series_markets(ex)
    assert (running.ticker, running.event_ticker) == ("KXBTC15M-26NOV210945-45", "KXBTC15M-26NOV210945")
    assert upcoming.ticker == "KXBTC15M-26NOV211000-00"
    assert (running.open_ms, running.close_ms) == (T0, T0 + 15 * MIN)
    assert (upcoming.created_ms, upcoming.open_ms) == (T0, T0 + 15 * MIN)
    assert running.status == "active" and upcoming.status == "initialized"
    assert running.strike_type == upcoming.strike_type == "greater_or_equal"
    assert running.floor_strike == float(_avg_2dp(ex.world.path, T0)) and running.cap_strike is None
    assert upcoming.floor_strike is None  # fixed when it opens
    event = ex.events[running.event_ticker]
    assert event.market_tickers == (running.ticker,) and not event.mutually_exclusive


def _market(open_ms: int):
    return btc15m.event(open_ms)[1][0]


def _record(path: BtcPath, start_ms: int, values: list[float]) -> None:
    for i, value in enumerate(values):
        path.record(start_ms + i * 1000, value)


@pytest.mark.parametrize("closing, result, expiration", [
    ([95000.0] * 30 + [95000.25] * 30, "yes", "95000.13"),  # mean 95000.125 rounds half up: equal to the strike
    ([95000.0] * 31 + [95000.25] * 29, "no", "95000.12"),  # mean 95000.1208...
    ([95000.5] * 60, "yes", "95000.50"),
])
def test_settlement_rule_hand_computed(closing, result, expiration):
    open_ms = T0
    market = _market(open_ms)
    path = BtcPath()
    path.record(open_ms - 61_000, 1.0)  # outside the window: (open - 60 s, open]
    path.record(open_ms - 60_000, 200_000.0)  # on its open edge: excluded too
    _record(path, open_ms - 59_000, [95000.0] * 30 + [95000.25] * 30)  # ... up to the open itself
    path.record(open_ms + 1000, 1.0)  # after the open: not in the price to beat
    btc15m.open_market(market, path)
    assert market.floor_strike == 95000.13
    assert market.yes_sub_title == "$95,000.13 or above" and market.no_sub_title == "Below $95,000.13"
    path = BtcPath()  # a fresh path for the close (the open window was checked above)
    path.record(market.close_ms - 60_000, 1e6)
    _record(path, market.close_ms - 59_000, closing)
    path.record(market.close_ms + 1000, 1.0)
    assert btc15m.result(market, path) == result
    assert market.expiration_value == expiration


def test_maker_fair_lags_the_index_and_ignores_the_averaging():
    market = _market(T0)
    market.floor_strike = 95000.0
    path = BtcPath()
    now = T0 + 450_000  # 450 s before the close
    _record(path, now - 30_000, [95100.0] * 21 + [96000.0] * 10)  # the jump 10 s ago is not seen yet
    sd = 0.5 * math.sqrt(450 / (365 * 86400))
    expected = 0.5 * (1 + math.erf(math.log(95100 / 95000) / sd / math.sqrt(2)))
    assert btc15m.maker_fair(market, path, 0.5, now) == pytest.approx(expected, abs=1e-9)
    assert expected == pytest.approx(0.7113, abs=1e-3)  # by hand: z = 0.0010521 / 0.0018888 = 0.5570
    assert btc15m.maker_fair(market, path, 0.5, market.close_ms + 1) == 1.0  # seen 95100 >= 95000


def test_served_listing_and_settlement_on_the_path(server, alice):
    series = alice.get("/series/KXBTC15M").json()["series"]
    assert series["frequency"] == "fifteen_min" and series["category"] == "Crypto"
    assert "KXBTC15M" in {s["ticker"] for s in alice.get("/series").json()["series"]}
    events = alice.get("/events", params={"series_ticker": "KXBTC15M"}).json()["events"]
    assert sorted(e["event_ticker"] for e in events) == ["KXBTC15M-26NOV210945", "KXBTC15M-26NOV211000"]
    listed = alice.get("/markets", params={"series_ticker": "KXBTC15M"}).json()["markets"]
    by_ticker = {m["ticker"]: m for m in listed}
    first, second = by_ticker["KXBTC15M-26NOV210945-45"], by_ticker["KXBTC15M-26NOV211000-00"]
    assert first["status"] == "active" and second["status"] == "initialized"
    assert first["strike_type"] == "greater_or_equal" and second["floor_strike"] is None
    path = server.exchange.world.path
    assert Decimal(repr(first["floor_strike"])) == _avg_2dp(path, T0)
    for _ in range(15):  # to the close, a second at a time
        server.exchange.advance(60)
    closing = _avg_2dp(path, T0 + 15 * MIN)
    server.exchange.advance(100)  # determined 30 s after the close, settled 60 s later
    settled = alice.get("/markets/KXBTC15M-26NOV210945-45").json()["market"]
    assert settled["status"] == "finalized"
    assert settled["result"] == ("yes" if closing >= Decimal(repr(first["floor_strike"])) else "no")
    assert settled["expiration_value"] == str(closing)
    opened = alice.get("/markets/KXBTC15M-26NOV211000-00").json()["market"]
    assert opened["status"] == "active" and Decimal(repr(opened["floor_strike"])) == closing
    later = alice.get("/markets", params={"series_ticker": "KXBTC15M", "status": "unopened"}).json()["markets"]
    assert [m["ticker"] for m in later] == ["KXBTC15M-26NOV211015-15"]


def test_makers_quote_the_window_around_their_fair_value():
    ex = SimExchange(ManualClock(T0 + 3 * MIN), seed=4)
    ex.list_due(ex.sim_ms)
    ex.advance(20)
    running = _series_markets(ex)[0]
    book = ex.engine.books[running.ticker]
    bid, ask = book.best_bid(), book.best_ask()
    assert bid is not None and ask is not None and bid < ask
    assert running.fair == btc15m.maker_fair(running, ex.world.path, ex.world.vol, ex.sim_ms)
    assert assert_makers_straddle(ex, running) >= 2  # each maker around its own view (its own volatility)


def _run(seed: int) -> list[tuple]:
    ex = SimExchange(ManualClock(T0 + 5 * MIN), seed=seed, participants=False)
    ex.list_due(ex.sim_ms)
    for _ in range(20):
        ex.advance(60)
    ex.advance(3 * 3600)  # and a long jump (boundary by boundary)
    ex.advance(60)
    markets = list(ex.engine.markets.values()) + list(ex.extras.history.markets.values())
    return sorted((m.ticker, m.floor_strike, m.result, m.expiration_value) for m in markets
                  if m.series_ticker == "KXBTC15M")


def test_same_seed_same_windows_and_results():
    first = _run(11)
    assert first == _run(11)
    assert first != _run(12)
    settled = [row for row in first if row[2]]
    assert len(settled) >= 2 and {r for _, _, r, _ in settled} <= {"yes", "no"}


def test_a_jump_keeps_one_second_samples_before_every_boundary():
    ex = SimExchange(ManualClock(T0 + 5 * MIN), seed=3, participants=False)
    ex.list_due(ex.sim_ms)
    upcoming = _series_markets(ex)[1]
    ex.advance(2 * 3600)  # crosses the upcoming window's open and close in one jump
    archived = ex.engine.markets.get(upcoming.ticker) or ex.extras.history.markets[upcoming.ticker]
    assert archived.status == "finalized" and archived.floor_strike is not None
    # the window that opened last (listed at the end of the jump) still has its 60 samples before the open
    running = [m for m in _series_markets(ex) if m.status == "active"]
    assert len(running) == 1 and running[0].floor_strike == float(_avg_2dp(ex.world.path, running[0].open_ms))


def test_world_state_round_trip_keeps_the_path():
    world = World(5)
    world.backfill(T0)
    world.advance(T0, T0 + 90_000)
    again = World.from_state(world.to_state())
    assert list(again.path.seconds) == list(world.path.seconds) and list(again.path.minutes) == \
        [list(b) for b in world.path.minutes]
    world.advance(T0 + 90_000, T0 + 120_000)
    again.advance(T0 + 90_000, T0 + 120_000)
    assert again.spot == world.spot and again.seed == 5


def test_a_restarted_server_resumes_the_path(tmp_path):
    from kalshi_trading.sim.runtime import start_embedded

    clock = ManualClock(T0)
    srv = start_embedded(tmp_path, seed=9, participants=False, clock=clock)
    samples = list(srv.exchange.world.path.seconds)
    srv.stop()
    srv = start_embedded(tmp_path, participants=False, clock=clock)
    try:
        assert list(srv.exchange.world.path.seconds)[:len(samples)] == samples
        body = requests.get(srv.base_url + "/markets", params={"series_ticker": "KXBTC15M"}, timeout=10).json()
        assert len(body["markets"]) == 2
    finally:
        srv.stop()
