"""The trade journal's contract (`kalshi_trading/store/journal.py`), run against every storage adapter.

Each test gets a store from its URL, as the application builds it.  To run the suite against a new adapter, add
one line to tests/store/adapters.py.
"""

from __future__ import annotations

import csv
import io
from dataclasses import replace
from datetime import datetime, timedelta, timezone

import pytest

from kalshi_trading.errors import JournalError, UsageError
from kalshi_trading.models import Fill
from kalshi_trading.store import Store, TradeJournal, open_store
from kalshi_trading.store.journal import (
    NOT_PLACED, EventKind, HistoryKind, IntentOwner, SyncCursor, TradeRow, render_csv,
)
from kalshi_trading.trading.csv_export import TRADE_COLUMNS
from tests.store.adapters import ADAPTERS
from tests.store.records import D, T0, fill, settlement

# adapter name -> a fresh store URL for one test (given pytest's tmp_path)
OWNER = IntentOwner("host-a", "boot-1", 4026531836, 4242, 123456)


class Clock:
    """Time that moves one second per reading, from T0."""

    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        self.now += timedelta(seconds=1)
        return self.now


@pytest.fixture(params=sorted(ADAPTERS))
def url(request, tmp_path) -> str:
    return ADAPTERS[request.param](tmp_path)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def stores(url, clock):
    """open(env="sim") -> a store at the test's URL; every store opened is closed at the end."""
    opened: list[Store] = []

    def open_(env: str = "sim") -> Store:
        store = open_store(url, env=env, clock=clock)
        opened.append(store)
        return store

    yield open_
    for store in opened:
        store.close()


@pytest.fixture
def journal(stores) -> TradeJournal:
    return stores().journal()


def intent(journal: TradeJournal, cid: str, ticker: str = "KXA", **kwargs):
    return journal.record_intent(cid, ticker, kwargs.pop("book_side", "bid"), D("0.52"), D("10"),
                                 "good_till_canceled", kwargs.pop("env", "sim"), **kwargs)


# -- the store and the journal's identity ---------------------------------------------------------------------------


def test_the_store_answers_and_the_journal_is_one_object(stores):
    store = stores()
    assert store.check().ok, store.check().problem
    journal = store.journal()
    assert store.journal() is journal and store.check().ok
    assert journal.location and store.journal_location and store.url.masked


def test_the_schema_version_is_recorded_and_survives_reopening(stores):
    first = stores().journal()
    version = first.schema_version()
    assert isinstance(version, int) and version >= 1
    intent(first, "c1")
    stores()  # another process's store at the same URL
    again = stores().journal()
    assert again.schema_version() == version and [e.client_order_id for e in again.pending_intents()] == ["c1"]


def refused_or_apart(stores) -> None:
    """Another environment at the URL is refused (SQLite: one directory holds one environment) or kept apart (a
    schema per environment in PostgreSQL): either way it never sees the demo's records, nor they its."""
    try:
        other = stores("prod").journal()
    except JournalError as refused:
        assert "demo environment" in str(refused)
    else:
        assert (other.order_events(), other.fills(), other.exchange_identity()) == ([], [], None)
        intent(other, "p1", env="prod")
    assert "p1" not in [e.client_order_id for e in stores("demo").journal().order_events()]


def test_a_store_holds_one_environment(stores):
    intent(stores("demo").journal(), "c1", env="demo")
    refused_or_apart(stores)
    assert [e.client_order_id for e in stores("demo").journal().pending_intents()] == ["c1"]


def test_binding_another_exchange_archives_and_starts_empty(journal):
    assert journal.exchange_identity() is None
    assert journal.bind_exchange("exchange-a") is None
    journal.record_fills([fill(1)], advance_cursor=True)
    intent(journal, "c1")
    journal.record_error("network", "timeout")
    assert journal.bind_exchange("exchange-a") is None and len(journal.fills()) == 1
    archive = journal.bind_exchange("exchange-b")
    assert archive  # where the old records went
    assert journal.exchange_identity() == "exchange-b"
    assert (journal.fills(), journal.order_events(), journal.errors()) == ([], [], [])
    assert journal.sync_cursor(SyncCursor.FILLS) is None  # the next sync starts from the new exchange's start
    assert journal.record_fills([fill(1)]) == 1  # the new exchange's fill-1 is a new fill


def test_the_environment_outlives_an_archive(stores):
    journal = stores("demo").journal()
    journal.bind_exchange("exchange-a")
    journal.bind_exchange("exchange-b")
    refused_or_apart(stores)


# -- order intents and events -------------------------------------------------------------------------------------


def test_an_intent_is_recorded_with_its_owner_and_deadline(journal, clock):
    deadline = T0 + timedelta(minutes=5)
    event = journal.record_intent("c1", "KXA", "ask", D("0.4"), D("2.5"), "immediate_or_cancel", "demo",
                                  {"strategy": "edge"}, owner=OWNER, deadline=deadline)
    assert (event.kind, event.client_order_id, event.ticker, event.book_side, event.env) == \
        (EventKind.INTENT, "c1", "KXA", "ask", "demo")
    assert (event.yes_price, event.count, event.time_in_force) == (D("0.4"), D("2.5"), "immediate_or_cancel")
    assert event.owner == OWNER and event.deadline == deadline and event.extra == {"strategy": "edge"}
    assert event.time == clock.now and event.time.tzinfo is not None
    [stored] = journal.pending_intents()
    assert stored == event and stored.owner == OWNER and stored.deadline == deadline
    unowned = intent(journal, "c2")
    assert unowned.owner is None and unowned.deadline <= unowned.time  # nobody is sending it: settle at once


@pytest.mark.parametrize("bad", [
    dict(client_order_id=""), dict(book_side="buy"), dict(yes_price=D("1.5")), dict(count=D("-1")),
    dict(yes_price=D("0.123456")),
])
def test_a_bad_intent_is_refused_and_nothing_recorded(journal, bad):
    args = dict(client_order_id="c1", ticker="KXA", book_side="bid", yes_price=D("0.52"), count=D("10"),
                time_in_force="good_till_canceled", env="sim") | bad
    with pytest.raises(UsageError):
        journal.record_intent(**args)
    assert journal.order_events() == []


def test_one_intent_per_client_order_id(journal):
    intent(journal, "c1")
    with pytest.raises(UsageError, match="already has an intent"):
        intent(journal, "c1", ticker="KXB")
    assert len(journal.order_events()) == 1


def test_outcomes_close_intents_and_carry_the_intents_facts(journal):
    for cid in ("c1", "c2", "c3", "c4"):
        intent(journal, cid, ticker=f"KX{cid}", env="demo")
    accepted = journal.record_outcome("c1", "accepted", order_id="o1", status="resting")
    assert (accepted.kind, accepted.order_id, accepted.status, accepted.ticker, accepted.env, accepted.book_side) \
        == (EventKind.ACCEPTED, "o1", "resting", "KXc1", "demo", "bid")
    rejected = journal.record_outcome("c2", EventKind.REJECTED, code="insufficient_balance", message="no cash")
    assert (rejected.code, rejected.message, rejected.time_in_force) == \
        ("insufficient_balance", "no cash", "good_till_canceled")
    journal.record_outcome("c1", "amended", order_id="o1", yes_price=D("0.55"), count=D("8"))
    journal.record_outcome("c1", "decreased", order_id="o1", count=D("3"))
    journal.record_outcome("c1", "cancelled", order_id="o1", status="canceled")
    assert [e.client_order_id for e in journal.pending_intents()] == ["c3", "c4"]
    with pytest.raises(UsageError):
        journal.record_outcome("c3", "exploded")
    assert [e.kind for e in journal.order_events(client_order_id="c1")] == [
        "intent", "accepted", "amended", "decreased", "cancelled"]
    amended = journal.order_events(client_order_id="c1")[2]
    assert (amended.yes_price, amended.count) == (D("0.55"), D("8"))


def test_not_placed_then_placed_after_all(journal, clock):
    intent(journal, "c1")
    intent(journal, "c2")
    before = clock.now
    assert journal.mark_reconciled("c1", None, NOT_PLACED).kind == EventKind.RECONCILED
    journal.mark_reconciled("c2", "o2", "executed")
    assert journal.pending_intents() == []
    assert [e.client_order_id for e in journal.not_placed_intents(before)] == ["c1"]
    assert journal.not_placed_intents(clock.now + timedelta(hours=1)) == []  # recorded before `since`
    late = journal.record_late_placement("c1", "o1", "resting")
    assert (late.kind, late.order_id, late.status) == (EventKind.RECONCILED, "o1", "resting")
    assert journal.not_placed_intents(before) == []  # the newest outcome wins


def test_known_order_ids(journal):
    intent(journal, "c1")
    journal.record_outcome("c1", "accepted", order_id="o1", status="resting")
    many = [f"x{i}" for i in range(1200)] + ["o1"]  # more than one query's worth of ids
    assert journal.known_order_ids(many) == {"o1"}
    assert journal.known_order_ids([]) == set()


def test_order_events_by_time_ticker_and_order(journal, clock):
    for i in range(6):
        intent(journal, f"c{i}", ticker="KXA" if i % 2 else "KXB")
    times = [e.time for e in journal.order_events()]
    assert times == sorted(times) and len(set(times)) == 6
    assert [e.client_order_id for e in journal.order_events(since=times[2], until=times[4])] == ["c2", "c3"]
    assert [e.client_order_id for e in journal.order_events(ticker="KXA", limit=2)] == ["c1", "c3"]
    assert [e.client_order_id for e in journal.order_events(newest_first=True, limit=2)] == ["c5", "c4"]
    assert [e.client_order_id for e in journal.order_events(client_order_id="c4")] == ["c4"]


def test_credentials_never_reach_the_journal(journal):
    event = intent(journal, "c1", extra={"KALSHI-ACCESS-SIGNATURE": "abc", "headers": {"x": 1}, "api_key": "k",
                                         "strategy": "mm"})
    assert event.extra == {"strategy": "mm"} and journal.pending_intents()[0].extra == {"strategy": "mm"}
    journal.record_error("auth", "refused", {"Authorization": "Bearer x", "path": "/portfolio"})
    assert journal.errors()[0].context == {"path": "/portfolio"}


# -- fills, settlements, cursors ---------------------------------------------------------------------------------


def test_fills_round_trip_exactly_and_are_unique_by_id(journal):
    odd = Fill(fill_id='f,1"x', order_id="o\n1", ticker="KXA", outcome_side="yes", book_side="bid",
               count=D("1.5"), yes_price=D("0.0001"), is_taker=False, fee=D("0.000001"), created_time=T0)
    untimed = replace(fill(9), created_time=None)
    assert journal.record_fills([fill(1), fill(2), odd, untimed]) == 4
    assert journal.record_fills([fill(2), fill(3), fill(3)]) == 1  # the same fill again changes nothing
    stored = {f.fill_id: f for f in journal.fills()}
    assert stored == {f.fill_id: f for f in (fill(1), fill(2), fill(3), odd, untimed)}
    assert journal.fills()[0] == untimed  # an unknown time sorts first


@pytest.mark.parametrize("change", [dict(order_id="another"), dict(count=D(3)), dict(yes_price=D("0.40")),
                                    dict(book_side="ask"), dict(ticker="KXB"), dict(created_time=T0)])
def test_a_different_fill_under_a_known_id_is_refused_and_nothing_of_its_batch_stored(journal, change):
    journal.record_fills([fill(1), fill(2)])
    with pytest.raises(JournalError, match="fill-2"):
        journal.record_fills([fill(3), replace(fill(2), **change), fill(4)], advance_cursor=True)
    assert [f.fill_id for f in journal.fills()] == ["fill-1", "fill-2"]
    assert journal.fills()[1] == fill(2) and journal.sync_cursor(SyncCursor.FILLS) is None


def test_settlements_are_unique_by_ticker_and_time(journal):
    assert journal.record_settlements([settlement(), settlement()]) == 1
    assert journal.record_settlements([settlement(), settlement(ticker="KXB"), settlement(minutes=90)]) == 2
    assert journal.settlements()[0] == settlement()
    assert [s.ticker for s in journal.settlements(ticker="KXA")] == ["KXA", "KXA"]


def test_sync_cursors_move_only_with_a_sync_and_only_forward(journal):
    assert journal.sync_cursor(SyncCursor.FILLS) is None and journal.sync_cursor(SyncCursor.SETTLEMENTS) is None
    journal.record_fills([fill(5)])
    assert journal.sync_cursor(SyncCursor.FILLS) is None
    journal.record_fills([fill(3), fill(7)], advance_cursor=True)
    assert journal.sync_cursor(SyncCursor.FILLS) == T0 + timedelta(minutes=7)
    journal.record_fills([fill(6)], advance_cursor=True)  # an older fill (the overlap) never moves it back
    assert journal.sync_cursor(SyncCursor.FILLS) == T0 + timedelta(minutes=7)
    journal.record_settlements([settlement(minutes=30)], advance_cursor=True)
    assert journal.sync_cursor(SyncCursor.SETTLEMENTS) == T0 + timedelta(minutes=30)


def test_queries_by_time_and_ticker(journal):
    journal.record_fills([fill(i, ticker="KXA" if i % 2 else "KXB") for i in range(10)])
    journal.record_settlements([settlement("KXA", minutes=30), settlement("KXB", minutes=3)])
    since, until = T0 + timedelta(minutes=2), T0 + timedelta(minutes=6)  # since inclusive, until exclusive
    assert [f.fill_id for f in journal.fills(since, until)] == [f"fill-{i}" for i in (2, 3, 4, 5)]
    assert [f.fill_id for f in journal.fills(ticker="KXA", limit=2)] == ["fill-1", "fill-3"]
    assert [f.fill_id for f in journal.fills(ticker="KXA", limit=1, newest_first=True)] == ["fill-9"]
    assert journal.fills(limit=0) == []
    assert [s.ticker for s in journal.settlements(since, until)] == ["KXB"]
    assert [s.ticker for s in journal.settlements(newest_first=True)] == ["KXA", "KXB"]
    assert journal.settlements(until=T0 + timedelta(minutes=3)) == []


@pytest.mark.parametrize("query", [
    lambda j: j.fills(since=datetime(2026, 1, 1)), lambda j: j.settlements(until=datetime(2026, 1, 1)),
    lambda j: j.order_events(since=datetime(2026, 1, 1)), lambda j: j.errors(until=datetime(2026, 1, 1)),
    lambda j: list(j.trade_rows(since=datetime(2026, 1, 1))), lambda j: j.not_placed_intents(datetime(2026, 1, 1)),
    lambda j: j.fills(limit=-1), lambda j: j.history(limit=-1),
])
def test_naive_times_and_negative_limits_are_usage_errors(journal, query):
    with pytest.raises(UsageError):
        query(journal)


def test_history_merges_newest_first(journal, clock):
    journal.record_fills([fill(1), fill(2)])
    journal.record_settlements([settlement(minutes=30)])
    clock.now = T0 + timedelta(minutes=10)
    intent(journal, "c1")
    history = journal.history()
    assert [(h.kind, h.ticker) for h in history] == [
        (HistoryKind.SETTLEMENT, "KXA"), (HistoryKind.ORDER, "KXA"), (HistoryKind.FILL, "KXA"),
        (HistoryKind.FILL, "KXA")]
    assert history[2].record == fill(2) and history[1].record.client_order_id == "c1"
    assert [h.kind for h in journal.history(limit=2)] == ["settlement", "order"]
    assert [h.kind for h in journal.history(until=T0 + timedelta(minutes=5))] == ["fill", "fill"]


# -- export rows --------------------------------------------------------------------------------------------------


def test_export_rows_are_labelled_by_the_position_before_each_fill(journal):
    journal.record_fills([
        fill(1, "bid", "10", "0.52", "0.0175"),  # buy YES 10 @ 0.52
        fill(2, "ask", "4", "0.60", "0.0168"),  # long YES: sells 4 YES @ 0.60
        fill(3, "ask", "8.5", "0.55", "0.0001"),  # 6 left: sells 6 YES and flips to 2.5 NO (labelled a YES sale)
        fill(4, "ask", "1", "0.70", "0"),  # long NO now: buys NO @ 0.30
        fill(5, "bid", "2", "0.65", "0"),  # long NO: sells NO @ 0.35
        fill(6, "bid", "1", "0.01", "0", ticker="KXB"),
    ])
    rows = list(journal.trade_rows(ticker="KXA"))
    assert all(isinstance(r, TradeRow) for r in rows) and len(TradeRow._fields) == len(TRADE_COLUMNS)
    assert rows[0] == TradeRow("2026-03-01T12:01:00.000000Z", "fill-1", "ord-1", "KXA", "yes", "buy", "10.00",
                               "0.5200", "0.4800", "0.5200", "5.200000", "0.017500", "false", "")
    assert [(r.side, r.action, r.price, r.notional, r.is_taker) for r in rows[1:]] == [
        ("yes", "sell", "0.6000", "2.400000", "true"),
        ("yes", "sell", "0.5500", "4.675000", "false"),
        ("no", "buy", "0.3000", "0.300000", "true"),
        ("no", "sell", "0.3500", "0.700000", "false"),
    ]
    # a date range still sees the position built before it
    ranged = journal.trade_rows(since=T0 + timedelta(minutes=4), until=T0 + timedelta(minutes=6))
    assert [(r.fill_id, r.side, r.action) for r in ranged] == [("fill-4", "no", "buy"), ("fill-5", "no", "sell")]


def test_export_rows_come_in_time_order_whatever_the_arrival_order(journal):
    # recorded out of order: the NO buy at minute 1 arrives after the YES bid at minute 2 (then a NO *sale*)
    journal.record_fills([fill(2, "bid", "3", "0.45", "0")])
    journal.record_fills([fill(1, "ask", "5", "0.60", "0"), fill(2, "bid", "3", "0.45", "0")])
    journal.record_fills([fill(7, minutes=2), replace(fill(0, ticker="KXB"), created_time=None)])
    assert [(r.fill_id, r.side, r.action) for r in journal.trade_rows()] == [  # an unknown time first; then by id
        ("fill-0", "yes", "buy"), ("fill-1", "no", "buy"), ("fill-2", "no", "sell"), ("fill-7", "no", "sell")]
    assert next(iter(journal.trade_rows())).created_time == ""


def test_export_csv_is_the_rows_rendered(journal):
    odd = Fill(fill_id='f,1"x', order_id="o\r\n1", ticker="KXA", outcome_side="yes", book_side="bid",
               count=D("1"), yes_price=D("0.5"), is_taker=False, fee=D("0"), created_time=T0)
    journal.record_fills([odd] + [fill(i, "ask" if i % 3 else "bid", str(i % 7 + 1)) for i in range(30)])
    for args in ((), (T0 + timedelta(minutes=5), T0 + timedelta(minutes=20)), (None, None, "KXA")):
        lines = [line for chunk in journal.trade_csv(*args) for line in chunk]
        assert lines == [line for chunk in render_csv(journal.trade_rows(*args)) for line in chunk]
    text = "".join(line for chunk in journal.trade_csv() for line in chunk)
    first = next(csv.reader(io.StringIO(text, newline="")))
    assert first[1:3] == ['f,1"x', "o\r\n1"]


def test_the_strategy_that_placed_an_order_tags_its_fills_and_exports(journal):
    """The bot keeps its strategy in the intent; fills of that order carry it in the export, manual ones do not."""
    intent(journal, "c-mm", extra={"strategy": "mm"})
    journal.record_outcome("c-mm", "accepted", order_id="ord-1", status="resting")
    intent(journal, "c-odd", extra={"strategy": 'my,pkg:"S"'})
    journal.record_outcome("c-odd", "accepted", order_id="ord-3", status="resting")
    intent(journal, "c-hand")  # placed by hand: no strategy
    journal.record_outcome("c-hand", "accepted", order_id="ord-2", status="resting")
    journal.record_fills([fill(1), fill(2, "ask", "3"), fill(3, "ask", "1"), fill(4)])  # ord-4: never journalled
    assert [(r.fill_id, r.strategy) for r in journal.trade_rows()] == [
        ("fill-1", "mm"), ("fill-2", ""), ("fill-3", 'my,pkg:"S"'), ("fill-4", "")]
    lines = [line for chunk in journal.trade_csv() for line in chunk]
    assert lines == [line for chunk in render_csv(journal.trade_rows()) for line in chunk]
    assert next(csv.reader(io.StringIO(lines[2], newline="")))[-1] == 'my,pkg:"S"'
    assert journal.strategies(["ord-1", "c-mm", "ord-2", "nope"]) == {"ord-1": "mm", "c-mm": "mm"}
    later = journal.trade_rows(ticker="KXA", since=T0 + timedelta(minutes=2))
    assert [r.strategy for r in later] == ["", 'my,pkg:"S"', ""]


# -- errors -------------------------------------------------------------------------------------------------------


def test_errors_by_time(journal, clock):
    journal.record_error("network", "timeout", {"path": "/portfolio/fills", "attempt": 3})
    middle = clock.now + timedelta(seconds=1)
    journal.record_error("rejected", "no cash")
    journal.record_error("rejected", "still no cash")
    errors = journal.errors()
    assert [(e.kind, e.message) for e in errors] == [("network", "timeout"), ("rejected", "no cash"),
                                                      ("rejected", "still no cash")]
    assert errors[0].context == {"path": "/portfolio/fills", "attempt": 3} and errors[0].time.tzinfo == timezone.utc
    assert [e.message for e in journal.errors(since=middle)] == ["no cash", "still no cash"]
    assert [e.message for e in journal.errors(until=middle)] == ["timeout"]
    assert len(journal.errors(limit=1)) == 1
