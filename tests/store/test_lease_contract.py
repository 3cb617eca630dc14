"""The lease port's contract (`kalshi_trading/store/lease.py`), run against every storage adapter.

"Another process" is a second store opened on the same URL (and, for the race, real processes).  To run the suite
against a new adapter, add one line to ADAPTERS (tests/store/adapters.py).
"""

from __future__ import annotations

import multiprocessing
from datetime import datetime, timedelta, timezone

import pytest

from kalshi_trading.errors import StorageError, UsageError
from kalshi_trading.store import open_store
from kalshi_trading.store.lease import LeaseHeld, LeaseHolder, LeaseLost, LeaseStore
from tests.store.adapters import ADAPTERS

T0 = datetime(2026, 11, 21, 16, 0, 0, 123456, tzinfo=timezone.utc)
ALICE = LeaseHolder("bot a", "host-1", 101, "boot-1", T0 - timedelta(hours=1), 4026531836, 987654321)
BOB = LeaseHolder("bot b", "host-2", 202, "boot-2", T0 - timedelta(hours=2))  # no /proc there: no ns, no ticks
ALICE_REBORN = LeaseHolder("bot a", "host-1", 101, "boot-1", T0, 4026531836, 987654400)  # the pid, reused


@pytest.fixture(params=sorted(ADAPTERS))
def url(request, tmp_path) -> str:
    return ADAPTERS[request.param](tmp_path)


@pytest.fixture
def opened(url):
    stores = []

    def open_() -> LeaseStore:
        store = open_store(url, env="sim")
        stores.append(store)
        return store.leases()

    yield open_
    for store in stores:
        store.close()


@pytest.fixture
def leases(opened) -> LeaseStore:
    return opened()


def test_a_free_lease_is_taken_and_comes_back_exactly(leases):
    [lease] = leases.acquire(["market/KXA-1"], ALICE, now=T0, ttl_seconds=30)
    assert lease.name == "market/KXA-1" and lease.holder == ALICE
    assert lease.acquired == T0 and lease.expires == T0 + timedelta(seconds=30)
    assert leases.holders() == [lease]
    assert leases.holders()[0].holder.started == ALICE.started and leases.holders()[0].expires.tzinfo is not None
    assert (lease.holder.pid_ns, lease.holder.start_ticks) == (4026531836, 987654321)
    [bobs] = leases.acquire(["market/KXB-2"], BOB, now=T0, ttl_seconds=30)
    assert leases.holders()[1] == bobs and bobs.holder.pid_ns is None and bobs.holder.start_ticks is None


def test_a_held_lease_is_refused_naming_the_holder_and_the_expiry(opened):
    mine, theirs = opened(), opened()
    mine.acquire(["market/KXA-1"], ALICE, now=T0, ttl_seconds=30)
    with pytest.raises(LeaseHeld) as caught:
        theirs.acquire(["market/KXA-1"], BOB, now=T0 + timedelta(seconds=29), ttl_seconds=30)
    err = caught.value
    assert isinstance(err, StorageError)  # exit 3
    assert err.lease.holder == ALICE and err.lease.expires == T0 + timedelta(seconds=30)
    assert "bot a" in str(err) and "pid 101 on host-1" in str(err) and "2026-11-21T16:00:30" in str(err)


def test_all_or_none(opened):
    mine, theirs = opened(), opened()
    mine.acquire(["market/KXB-2"], ALICE, now=T0, ttl_seconds=30)
    with pytest.raises(LeaseHeld) as caught:
        theirs.acquire(["bot/b", "market/KXA-1", "market/KXB-2", "market/KXC-3"], BOB, now=T0, ttl_seconds=30)
    assert caught.value.lease.name == "market/KXB-2"
    assert [lease.name for lease in theirs.holders()] == ["market/KXB-2"]  # none of the others was taken


def test_an_expired_lease_may_be_taken_over(opened):
    mine, theirs = opened(), opened()
    mine.acquire(["market/KXA-1"], ALICE, now=T0, ttl_seconds=30)
    later = T0 + timedelta(seconds=30)  # expired at its expiry instant
    [taken] = theirs.acquire(["market/KXA-1"], BOB, now=later, ttl_seconds=10)
    assert taken.holder == BOB and taken.acquired == later and taken.expires == later + timedelta(seconds=10)
    with pytest.raises(LeaseLost) as caught:  # the first holder learns it lost the lease when it renews
        mine.renew("market/KXA-1", ALICE, now=later, ttl_seconds=30)
    assert caught.value.current is not None and caught.value.current.holder == BOB
    assert "taken over by bot b" in str(caught.value)
    assert mine.holders()[0].holder == BOB


def test_a_reused_pid_is_another_holder(leases):
    leases.acquire(["market/KXA-1"], ALICE, now=T0, ttl_seconds=30)
    with pytest.raises(LeaseHeld):
        leases.acquire(["market/KXA-1"], ALICE_REBORN, now=T0, ttl_seconds=30)


def test_the_holder_renews_its_own_and_keeps_its_acquired_time(leases):
    leases.acquire(["market/KXA-1"], ALICE, now=T0, ttl_seconds=30)
    renewed = leases.renew("market/KXA-1", ALICE, now=T0 + timedelta(seconds=20), ttl_seconds=30)
    assert renewed.acquired == T0 and renewed.expires == T0 + timedelta(seconds=50)
    again = leases.acquire(["market/KXA-1"], ALICE, now=T0 + timedelta(seconds=25), ttl_seconds=30)
    assert again[0].acquired == T0 and again[0].expires == T0 + timedelta(seconds=55)
    # lapsed but not taken by anyone: still the holder's to renew
    late = leases.renew("market/KXA-1", ALICE, now=T0 + timedelta(minutes=5), ttl_seconds=30)
    assert late.expires == T0 + timedelta(minutes=5, seconds=30)


def test_renewing_a_lease_never_taken_or_released_is_lost(leases):
    with pytest.raises(LeaseLost) as caught:
        leases.renew("market/KXA-1", ALICE, now=T0, ttl_seconds=30)
    assert caught.value.current is None and "gone" in str(caught.value)
    leases.acquire(["market/KXA-1"], ALICE, now=T0, ttl_seconds=30)
    leases.release(["market/KXA-1"], ALICE)
    with pytest.raises(LeaseLost):
        leases.renew("market/KXA-1", ALICE, now=T0, ttl_seconds=30)
    assert leases.holders() == []


def test_release_frees_only_the_holders_own(opened):
    mine, theirs = opened(), opened()
    mine.acquire(["market/KXA-1", "bot/a"], ALICE, now=T0, ttl_seconds=30)
    theirs.acquire(["market/KXB-2"], BOB, now=T0, ttl_seconds=30)
    theirs.release(["market/KXA-1", "market/KXB-2"], BOB)  # KXA-1 is not Bob's: left alone
    assert [lease.name for lease in mine.holders()] == ["bot/a", "market/KXA-1"]
    mine.release(["market/KXA-1", "bot/a", "market/never"], ALICE)
    assert mine.holders() == []
    [taken] = theirs.acquire(["market/KXA-1"], BOB, now=T0, ttl_seconds=30)  # free at once after a release
    assert taken.holder == BOB


def test_holders_by_prefix_include_expired_ones(leases):
    leases.acquire(["market/KXA-1", "market/KXB-2", "bot/a"], ALICE, now=T0, ttl_seconds=1)
    assert [lease.name for lease in leases.holders("market/")] == ["market/KXA-1", "market/KXB-2"]
    assert [lease.name for lease in leases.holders("bot/")] == ["bot/a"]
    assert leases.holders("nothing/") == []


@pytest.mark.parametrize("call", [
    lambda s: s.acquire(["market/KXA-1"], ALICE, now=datetime(2026, 1, 1), ttl_seconds=30),
    lambda s: s.acquire(["market/KXA-1"], ALICE, now=T0, ttl_seconds=0),
    lambda s: s.acquire(["market/KXA-1"], ALICE, now=T0, ttl_seconds=-5),
    lambda s: s.acquire([""], ALICE, now=T0, ttl_seconds=30),
    lambda s: s.acquire("market/KXA-1", ALICE, now=T0, ttl_seconds=30),
    lambda s: s.renew("market/KXA-1", ALICE, now=datetime(2026, 1, 1), ttl_seconds=30),
    lambda s: s.renew(" ", ALICE, now=T0, ttl_seconds=30),
])
def test_bad_arguments_are_usage_errors(leases, call):
    with pytest.raises(UsageError):
        call(leases)
    assert leases.holders() == []


def _race(url: str, index: int, start, results) -> None:
    store = open_store(url, env="sim")
    holder = LeaseHolder(f"bot {index}", "host", 1000 + index, "boot", T0)
    start.wait()
    try:
        store.leases().acquire(["market/KXA-1"], holder, now=T0, ttl_seconds=60)
        results.put(index)
    except LeaseHeld:
        results.put(-1)
    finally:
        store.close()


def test_of_processes_racing_for_one_lease_exactly_one_wins(url):
    ctx = multiprocessing.get_context("spawn")
    start, results = ctx.Event(), ctx.Queue()
    procs = [ctx.Process(target=_race, args=(url, i, start, results)) for i in range(4)]
    for p in procs:
        p.start()
    start.set()
    outcomes = [results.get(timeout=60) for _ in procs]
    for p in procs:
        p.join(30)
    winners = [i for i in outcomes if i >= 0]
    assert len(winners) == 1 and outcomes.count(-1) == 3
    store = open_store(url, env="sim")
    try:
        assert store.leases().holders()[0].holder.name == f"bot {winners[0]}"
    finally:
        store.close()
