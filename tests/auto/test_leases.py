"""A bot's leases (`auto/leases.py`) over a real SQLite store: taken all or none, a live holder refused by name, a
dead one of this machine taken over at once, a lapsed one after its time to live; renewals that find a market taken
over make the loop give it up (its own orders cancelled, the other bot's left alone); a store that stops answering
keeps the markets until the lease would lapse."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from decimal import Decimal as D

import pytest

from kalshi_trading.auto.leases import MarketLeases, bot_lease, current_holder, holder_gone, market_lease
from kalshi_trading.auto.types import TimerEvent
from kalshi_trading.models import Order
from kalshi_trading.store import open_store
from kalshi_trading.store.lease import LeaseHeld, LeaseHolder
from tests.auto.test_loop import T, make_loop
from tests.auto.states import open_state

T0 = datetime(2026, 1, 1, 12, tzinfo=timezone.utc)
OTHER = "KXOTHER-26JAN01-T60"
ELSEWHERE = LeaseHolder("bot west", "another-host", 4242, "boot-x", T0 - timedelta(hours=1))


class Clock:
    def __init__(self):
        self.t = T0

    def __call__(self) -> datetime:
        return self.t


@pytest.fixture
def state(tmp_path):
    s = open_state(tmp_path / "bot")
    yield s
    s.close()


@pytest.fixture
def store(tmp_path):
    s = open_store(f"sqlite://{tmp_path}/store/", env="sim")
    yield s
    s.close()


def bot(store, name, tickers, clock, ttl=30, holder=None):
    return MarketLeases(store.leases(), holder or current_holder(name, clock()), name, tickers, ttl=lambda: ttl,
                        clock=clock)


def dead_holder() -> LeaseHolder:
    """A process of this machine that has ended (its pid is no longer running)."""
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    me = current_holder("east")
    return LeaseHolder("bot east", socket.gethostname(), child.pid, me.boot_id, T0, me.pid_ns, 12345)


def test_a_bot_leases_its_name_and_every_market_it_trades(store):
    clock = Clock()
    east = bot(store, "east", [T, OTHER], clock)
    taken = east.acquire()
    assert [lease.name for lease in taken] == [bot_lease("east"), market_lease(T), market_lease(OTHER)]
    assert all(lease.expires == T0 + timedelta(seconds=30) for lease in taken)
    assert east.every == 10  # a third of the time to live
    assert {lease.holder.pid for lease in store.leases().holders()} == {os.getpid()}


def test_a_market_another_live_bot_holds_refuses_the_start_and_takes_nothing(store):
    clock = Clock()
    store.leases().acquire([market_lease(OTHER)], ELSEWHERE, now=T0, ttl_seconds=30)
    east = bot(store, "east", [T, OTHER], clock)
    with pytest.raises(LeaseHeld) as caught:
        east.acquire()
    text = str(caught.value)
    assert f"market/{OTHER} is held by bot west (pid 4242 on another-host" in text
    assert "until 2026-01-01T12:00:30" in text
    assert [lease.name for lease in store.leases().holders()] == [market_lease(OTHER)]  # all or none


def test_a_lapsed_lease_is_taken_over(store):
    clock = Clock()
    store.leases().acquire([market_lease(OTHER)], ELSEWHERE, now=T0, ttl_seconds=30)
    clock.t = T0 + timedelta(seconds=31)
    east = bot(store, "east", [OTHER], clock)
    east.acquire()
    assert store.leases().holders(market_lease(OTHER))[0].holder == east.holder


def test_a_dead_holder_of_this_machine_is_taken_over_at_once(store):
    clock = Clock()
    dead = dead_holder()
    assert holder_gone(dead) and not holder_gone(current_holder("east")) and not holder_gone(ELSEWHERE)
    store.leases().acquire([bot_lease("east"), market_lease(T)], dead, now=T0, ttl_seconds=300)
    east = bot(store, "east", [T], clock)
    east.acquire()  # without waiting five minutes
    assert {lease.holder for lease in store.leases().holders()} == {east.holder}


def test_renewals_extend_and_a_clean_stop_releases(store):
    clock = Clock()
    east = bot(store, "east", [T], clock)
    east.acquire()
    clock.t += timedelta(seconds=20)
    assert east.renew() == {}
    assert east.expires[market_lease(T)] == clock.t + timedelta(seconds=30)
    east.release()
    assert store.leases().holders() == []
    bot(store, "west", [T], clock).acquire()  # free for another at once


def test_a_market_taken_over_meanwhile_is_given_up(store):
    clock = Clock()
    east = bot(store, "east", [T, OTHER], clock)
    east.acquire()
    clock.t += timedelta(seconds=31)  # east stalled past its expiry; west took one market
    store.leases().acquire([market_lease(OTHER)], ELSEWHERE, now=clock.t, ttl_seconds=30)
    lost = east.renew()
    assert list(lost) == [OTHER] and "taken over by bot west" in lost[OTHER]
    assert market_lease(T) in east.expires and market_lease(OTHER) not in east.expires
    assert east.foreign == {OTHER}
    east.release()  # releases only its own: west keeps OTHER
    assert [(lease.name, lease.holder) for lease in store.leases().holders()] == [(market_lease(OTHER), ELSEWHERE)]


def test_losing_the_bots_own_name_stops_the_run(store):
    clock = Clock()
    stopped = []
    east = bot(store, "east", [T, OTHER], clock)
    east.on_bot_lost = stopped.append
    east.acquire()
    clock.t += timedelta(seconds=31)
    impostor = LeaseHolder("bot east", "another-host", 1, "b", T0)
    store.leases().acquire([bot_lease("east")], impostor, now=clock.t, ttl_seconds=30)
    lost = east.renew()
    assert set(lost) == {T, OTHER} and stopped and "bot/east" in stopped[0]


def test_a_store_that_stops_answering_keeps_the_markets_until_the_lease_would_lapse(store):
    clock = Clock()
    east = bot(store, "east", [T], clock)
    east.acquire()
    store.leases().close()
    path = store.directory / "leases.sqlite"
    for suffix in ("-wal", "-shm"):
        (store.directory / f"leases.sqlite{suffix}").unlink(missing_ok=True)
    path.write_bytes(b"garbage " * 100)
    clock.t += timedelta(seconds=10)
    assert east.renew() == {}  # 20 s left: it goes on
    clock.t += timedelta(seconds=11)  # 9 s left, less than one renewal period: give the market up
    lost = east.renew()
    assert list(lost) == [T] and "could not be renewed before it lapses" in lost[T]


def test_the_loop_gives_a_lost_market_up_and_leaves_the_new_holders_orders_alone(state):
    loop, ex, feed, clock = make_loop(state)
    loop.tick(T, TimerEvent(clock.now()))
    mine = set(ex.orders)
    assert len(mine) == 2
    theirs = Order("theirs-1", "kbot-west-1", T, "yes", "bid", "resting", D("0.41"), D(0), D(1), D(1))
    ex.orders["theirs-1"] = theirs  # the new holder's quote on the same market
    loop.drop_market(T, "the lease on market/T is taken over by bot west")
    assert set(ex.orders) == {"theirs-1"}  # its own two cancelled, the other's kept
    assert T not in loop.markets and loop.tickers == () and loop.ledger.orders == {}
    [event] = state.events(kinds=["market_dropped"])
    assert "taken over by bot west" in event["message"] and "2 of its orders there cancelled" in event["message"]
    loop.timer_pass()
    loop.reconcile()
    assert loop.cancel_all("stopped") == 0  # nor the final cancel-all
    assert set(ex.orders) == {"theirs-1"}


def test_a_loop_that_stalled_past_its_lease_sends_nothing_before_renewing(state, store):
    loop, ex, feed, _ = make_loop(state)
    clock = Clock()
    loop.wall = lambda: (clock.t - T0).total_seconds()  # the loop's wall clock moves with the lease clock
    loop.leases = bot(store, "east", [T], clock, ttl=3)
    loop.leases.acquire()
    clock.t += timedelta(seconds=5)  # stalled past the expiry (SIGSTOP, a long GC...)
    done = loop.tick(T, TimerEvent(loop.clock.now()))
    assert ex.orders == {} and done and all("lease may have lapsed" in d["held"] for d in done)
    assert loop._next_lease == 0.0
    loop.housekeeping()  # renews first: nobody took it, so the bot goes on
    assert loop.leases.holds(T) and T in loop.markets
    loop.watch.saw(T)
    loop.tick(T, TimerEvent(loop.clock.now()))
    assert len(ex.orders) == 2
    clock.t += timedelta(seconds=5)  # stalled again, and this time another bot took the market
    store.leases().acquire([market_lease(T)], ELSEWHERE, now=clock.t, ttl_seconds=30)
    loop.watch.saw(T)
    loop.tick(T, TimerEvent(loop.clock.now()))  # nothing sent
    loop.housekeeping()
    assert T not in loop.markets and ex.orders == {}  # given up: its own quotes cancelled


def test_kill_of_a_dead_bot_leaves_a_market_another_bot_took_over_alone(state, store, tmp_path):
    from kalshi_trading.auto.leases import foreign_markets
    from kalshi_trading.auto.reconcile import order_tag
    from kalshi_trading.auto.runner import kill
    from tests.auto.test_loop import FakeExchange

    ex = FakeExchange()
    mine = Order("mine-1", order_tag(state.bot_id()) + "x", T, "yes", "bid", "resting", D("0.41"), D(0), D(1), D(1))
    theirs = Order("theirs-1", "kbot-west-1", T, "yes", "ask", "resting", D("0.59"), D(0), D(1), D(1))
    ex.orders = {"mine-1": mine, "theirs-1": theirs}
    state.put("markets", [T])  # the dead bot's last markets
    store.leases().acquire([market_lease(T)], ELSEWHERE, now=datetime.now(timezone.utc), ttl_seconds=60)
    foreign = foreign_markets(store.leases(), "east")
    assert foreign == {T} and foreign_markets(store.leases(), "west") == frozenset()
    result = kill(tmp_path / "nobot", state, lambda: ex, bot="east", foreign=foreign)
    assert result["cancelled_here"] == 1 and set(ex.orders) == {"theirs-1"}  # its own tagged order only
