"""The bot state's contract (`kalshi_trading/store/botstate.py`), run against every storage adapter.

Each test gets a store from its URL, as the application builds it; a second store at the same URL stands for
another process.  To run the suite against a new adapter, add one line to
tests/store/adapters.py.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import Iterator

import pytest

from kalshi_trading.errors import JournalError, UsageError
from kalshi_trading.models import BookSide
from kalshi_trading.store import BotStore, Store, open_store
from kalshi_trading.store.botstate import (
    RESERVED_KEYS, BotFill, CarriedLot, CarriedState, CarriedStats, CostMethod, FillSource, LogBounds, StoredOrder,
)
from tests.store.adapters import ADAPTERS

# adapter name -> a fresh store URL for one test (given pytest's tmp_path)
D = Decimal
T0 = datetime(2026, 3, 1, 12, 0, 0, 123456, tzinfo=timezone.utc)
A, B = "KXA-26MAR01-T50", "KXB-26MAR01-T60"


@pytest.fixture(params=sorted(ADAPTERS))
def url(request, tmp_path) -> str:
    return ADAPTERS[request.param](tmp_path)


@pytest.fixture
def stores(url):
    """open() -> a store at the test's URL (another process's, when called again); all closed at the end."""
    opened: list[Store] = []

    def open_() -> Store:
        store = open_store(url, env="sim")
        opened.append(store)
        return store

    yield open_
    for store in opened:
        store.close()


@pytest.fixture
def state(stores) -> BotStore:
    return stores().bot_state()


def fill(i: int, order_id: str = "o1", ticker: str = A, side: BookSide = BookSide.BID, count: str = "2.5",
         price: str = "0.4125", fee: str = "0.017501", minutes: int | None = None,
         source: FillSource = FillSource.FEED) -> BotFill:
    ts = T0 + timedelta(minutes=i if minutes is None else minutes)
    return BotFill(f"t{i}/{order_id}", order_id, ticker, side, D(price), D(count), D(fee), ts, source)


def adjustment(i: int, ticker: str = A, count: str = "3", price: str = "0.5") -> BotFill:
    return BotFill(f"adjust:{i}", "", ticker, BookSide.BID, D(price), D(count), D(0), T0 + timedelta(minutes=i),
                   FillSource.ADJUSTMENT)


def order(oid: str, ticker: str = A, count: str = "5", cancelled: str = "0", price: str = "0.41") -> StoredOrder:
    return StoredOrder(oid, ticker, BookSide.ASK, D(price), D(count), D(cancelled), "mm:ask", f"kbot-ab12-{oid}")


def carried(method: CostMethod, ticker: str = A, position: int = -250) -> CarriedState:
    lots = (CarriedLot(100, 587500, None, 0), CarriedLot(150, 881250, T0, 4375)) if method is CostMethod.FIFO \
        else (CarriedLot(250, 1468750, None, 4375),)
    return CarriedState(method, ticker, position, lots, -1234567, 98765)


def failing(items: list, after: int) -> Iterator:
    """The items, then a failure (a write that breaks off halfway)."""
    yield from items[:after]
    raise RuntimeError("the writer broke off")


# -- the state's identity -------------------------------------------------------------------------------------------


def test_the_bot_state_is_one_object_with_a_location_and_a_schema_version(stores):
    store = stores()
    state = store.bot_state()
    assert store.bot_state() is state and state.location
    version = state.schema_version()
    assert isinstance(version, int) and version >= 2
    state.put("bot_id", "ab12cd34")
    store.close()  # closes the state; the next use opens it again, as written
    again = store.bot_state()
    assert again.schema_version() == version and again.get("bot_id") == "ab12cd34"


def test_a_closed_state_refuses_every_use(stores):
    state = stores().bot_state()
    state.close()
    state.close()  # twice is fine
    state.flush()  # so is a flush: the close flushed
    for use in (lambda: state.get("x"), lambda: state.put("x", 1), lambda: state.fills(), lambda: state.orders(),
                lambda: state.write_fill(fill(1)), lambda: state.events()):
        with pytest.raises(JournalError, match="closed"):
            use()


# -- key/value ------------------------------------------------------------------------------------------------------


HALTED = {"state": "halted", "reason": "loss: -11 <= -10", "since": "2026-03-01T12:00:00+00:00",
          "counts": [1, 2, {"n": None}]}


@pytest.mark.parametrize("value", [None, True, 0, -7, "ab12cd34", "", [], ["KXA", "KXB"], {}, HALTED])
def test_values_round_trip_and_survive_reopening(stores, value):
    stores().bot_state().put("k", value)
    assert stores().bot_state().get("k") == value  # another process reads what was committed


def test_a_key_never_written_is_none_and_a_write_replaces(state):
    assert state.get("resume_request") is None
    state.put("resume_request", "2026-03-01T12:00:00+00:00")
    state.put("resume_request", None)
    assert state.get("resume_request") is None
    state.put("markets", [A])
    state.put("markets", [A, B])
    assert state.get("markets") == [A, B]


@pytest.mark.parametrize("key", sorted(RESERVED_KEYS))
def test_the_adapters_own_keys_are_refused(state, key):
    with pytest.raises(ValueError):
        state.put(key, 3)


# -- fills ----------------------------------------------------------------------------------------------------------


def test_fills_round_trip_exactly_in_the_order_written(stores):
    state = stores().bot_state()
    written = [fill(3, minutes=0), adjustment(1), fill(1, "o2", B, BookSide.ASK, "0.01", "0.9999", "0"),
               fill(2, source=FillSource.REST), fill(4, source=FillSource.STARTUP, count="1000000.25")]
    assert [state.write_fill(f) for f in written] == [True] * 5
    for reader in (state, stores().bot_state()):
        stored = reader.fills()
        assert [s.fill for s in stored] == written  # by value: Decimal, enums, UTC-aware times, sources
        assert all(s.fill.ts.utcoffset() == timedelta(0) and not s.folded for s in stored)
        assert [s.seq for s in stored] == sorted({s.seq for s in stored})  # strictly increasing in write order
    assert stored[-1].fill.count == D("1000000.25") and stored[0].fill.fee == D("0.017501")


def test_a_fill_is_stored_once_by_key(state):
    first = fill(1)
    assert state.write_fill(first)
    other = BotFill(first.key, "o9", B, BookSide.ASK, D("0.9"), D(7), D("0.5"), T0 + timedelta(days=1))
    assert not state.write_fill(other)  # the same key again: nothing stored, the first stays
    assert not state.write_fill(first)
    assert [s.fill for s in state.fills()] == [first]


def test_a_fill_and_the_end_of_its_order_are_one_write(state):
    state.save_order(order("o1"))
    state.save_order(order("o2"))
    assert state.write_fill(fill(1, "o1"), ends_order="o1")
    assert [o.order_id for o in state.orders()] == ["o2"]
    assert not state.write_fill(fill(1, "o1"), ends_order="o2")  # a known fill: its order's end still counts
    assert state.orders() == [] and len(state.fills()) == 1


def test_the_last_fill_is_the_newest_processed_one(state):
    assert state.last_fill() is None
    state.write_fill(adjustment(9))
    assert state.last_fill() is None  # an adjustment is no fill
    state.write_fill(fill(5))
    state.write_fill(fill(2))  # written later, executed earlier
    assert state.last_fill() == fill(5)
    tie = fill(6, "o2", minutes=5)
    state.write_fill(tie)
    assert state.last_fill() == tie  # of equal times, the last written


def test_naive_times_are_refused(state):
    naive = BotFill("t/o", "o", A, BookSide.BID, D("0.4"), D(1), D(0), datetime(2026, 3, 1, 12))
    with pytest.raises(UsageError):
        state.write_fill(naive)
    with pytest.raises(UsageError):
        state.log_event(datetime(2026, 3, 1, 12), "x", "naive")
    assert state.fills() == [] and state.events() == []


# -- working orders -------------------------------------------------------------------------------------------------


def test_working_orders_are_written_replaced_and_removed(stores):
    state = stores().bot_state()
    for o in (order("o3"), order("o1", B), order("o2")):
        state.save_order(o)
    state.save_order(order("o1", B, count="7.5", cancelled="2.25", price="0.4321"))  # amended: replaced by id
    state.remove_order("o2")
    state.remove_order("never-seen")  # no error
    assert stores().bot_state().orders() == [order("o1", B, count="7.5", cancelled="2.25", price="0.4321"),
                                             order("o3")]  # by order id, exact


def test_replacing_the_orders_is_all_or_nothing(state):
    state.save_order(order("o1"))
    state.replace_orders([order("o4"), order("o5")])
    assert [o.order_id for o in state.orders()] == ["o4", "o5"]
    with pytest.raises(RuntimeError):
        state.replace_orders(failing([order("o6"), order("o7")], after=1))
    assert [o.order_id for o in state.orders()] == ["o4", "o5"]
    state.replace_orders(())
    assert state.orders() == []


# -- prune: the carried state and the deletion in one transaction ---------------------------------------------------


def test_a_prune_deletes_the_leading_fills_and_writes_the_carried_rows(stores):
    state = stores().bot_state()
    for f in (fill(1), adjustment(2), fill(3), fill(4)):
        state.write_fill(f)
    seqs = [s.seq for s in state.fills()]
    rows = [carried(CostMethod.AVG), carried(CostMethod.FIFO), carried(CostMethod.AVG, B, 0)]
    stats = [CarriedStats(A, 2, D("5.00"), D("2.5")), CarriedStats(B, 0, D(0), D("3"))]
    assert state.prune(seqs[1], 2, rows, stats)
    reader = stores().bot_state()
    assert [s.fill for s in reader.fills()] == [fill(3), fill(4)]
    assert reader.carried() == sorted(rows, key=lambda c: (c.method.value, c.ticker))  # exact, by (method, ticker)
    assert reader.carried_stats() == stats
    # a later prune replaces the rows of the same (method, ticker) and ticker, and keeps the others
    newer = CarriedState(CostMethod.AVG, A, 0, (), 55, 66)
    assert state.prune(seqs[2], 1, [newer], [CarriedStats(A, 3, D("7.5"), D("2.5"))])
    assert [c for c in state.carried() if c.method is CostMethod.AVG] == [newer, carried(CostMethod.AVG, B, 0)]
    assert state.carried_stats() == [CarriedStats(A, 3, D("7.5"), D("2.5")), CarriedStats(B, 0, D(0), D("3"))]
    assert [s.fill for s in state.fills()] == [fill(4)]


def test_a_prune_over_fills_another_process_took_changes_nothing(stores):
    mine, theirs = stores().bot_state(), stores().bot_state()
    for i in range(1, 4):
        mine.write_fill(fill(i))
    seqs = [s.seq for s in mine.fills()]
    assert theirs.prune(seqs[1], 2, [carried(CostMethod.AVG)], [])
    assert not mine.prune(seqs[1], 2, [carried(CostMethod.FIFO)], [CarriedStats(A, 9, D(9), D(9))])  # stale fold
    assert not mine.prune(seqs[2], 2, [carried(CostMethod.FIFO)], [])  # 1 fill at or below, not 2
    assert [s.fill for s in mine.fills()] == [fill(3)]
    assert mine.carried() == [carried(CostMethod.AVG)] and mine.carried_stats() == []


@pytest.mark.parametrize("broken", ["carried", "stats"])
def test_a_prune_that_fails_halfway_leaves_everything(stores, broken):
    state = stores().bot_state()
    for i in range(1, 4):
        state.write_fill(fill(i))
    assert state.prune(state.fills()[0].seq, 1, [carried(CostMethod.AVG)], [CarriedStats(A, 1, D(1), D(1))])
    before = (state.fills(), state.carried(), state.carried_stats())
    rows = [carried(CostMethod.FIFO), carried(CostMethod.AVG, B)]
    stats = [CarriedStats(A, 2, D(2), D(2)), CarriedStats(B, 1, D(1), D(1))]
    with pytest.raises(RuntimeError):
        state.prune(state.fills()[-1].seq, 2, failing(rows, 1) if broken == "carried" else rows,
                    failing(stats, 1) if broken == "stats" else stats)
    reader = stores().bot_state()
    assert (reader.fills(), reader.carried(), reader.carried_stats()) == before
    assert (state.fills(), state.carried(), state.carried_stats()) == before


def test_a_sequence_number_is_never_handed_out_twice(state):
    for i in range(1, 4):
        state.write_fill(fill(i))
    last = state.fills()[-1].seq
    assert state.prune(last, 3, [], [])  # everything went
    state.write_fill(fill(4))
    assert state.fills()[0].seq > last


# -- logs -----------------------------------------------------------------------------------------------------------


def test_events_are_written_at_once_and_read_newest_last(stores):
    state = stores().bot_state()
    state.log_event(T0, "denied", "[inventory_cap] too much", {"price": D("0.40"), "at": T0, "n": 2})
    state.log_event(T0 + timedelta(seconds=1), "reconcile", "cancelled 1 unknown", {"retired": {A: ["o1"]}})
    state.log_event(T0 + timedelta(seconds=2), "denied", "[rate] too fast")
    reader = stores().bot_state()  # another process, no flush: events are committed at once
    events = reader.events()
    assert [e.kind for e in events] == ["denied", "reconcile", "denied"]
    assert [e.id for e in events] == sorted({e.id for e in events})
    assert events[0].ts == T0 and events[0].message == "[inventory_cap] too much"
    assert events[0].data == {"price": "0.40", "at": str(T0), "n": 2}  # non-JSON values come back as str()
    assert events[1].data == {"retired": {A: ["o1"]}} and events[2].data == {}
    assert [e.message for e in reader.events(kinds=["denied"])] == ["[inventory_cap] too much", "[rate] too fast"]
    assert [e.kind for e in reader.events(limit=2)] == ["reconcile", "denied"]
    assert reader.events(kinds=["kill"]) == []


def test_decisions_are_buffered_until_a_flush(stores):
    state = stores().bot_state()
    state.log_decision(T0, A, {"bid": D("0.40"), "position": 0}, [{"side": "bid"}], [{"kind": "place"}])
    reader = stores().bot_state()
    assert reader.decisions() == []  # still in the writer's buffer
    state.flush()
    [d] = reader.decisions()
    assert (d.ts, d.ticker, d.inputs, d.targets, d.actions) == (T0, A, {"bid": "0.40", "position": 0},
                                                                 [{"side": "bid"}], [{"kind": "place"}])
    state.log_decision(T0, B, {}, [], [])
    assert [x.ticker for x in state.decisions()] == [A, B]  # reading flushes the buffer first
    state.log_decision(T0, A, {"last": True}, [], [])
    state.close()  # so does closing
    assert reader.decisions(limit=1)[0].inputs == {"last": True}


def test_both_logs_keep_only_their_bounds(url):
    store = open_store(url, env="sim")
    try:
        state = store.bot_state(LogBounds(decisions=10, events=5))
        for i in range(50):
            state.log_decision(T0, A, {"i": i}, [], [])
            state.log_event(T0, "x", str(i))
        state.flush()
        assert [d.inputs["i"] for d in state.decisions(100)] == list(range(40, 50))
        assert [e.message for e in state.events(100)] == [str(i) for i in range(45, 50)]
    finally:
        store.close()
