"""The replay feed on recordings written by the real recorder: the same typed events as live, in receive order, the
books as live had them, the replay clock, checkpoints, and the round trip of every row kind."""

from __future__ import annotations

import json
from datetime import timedelta
from decimal import Decimal as D

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kalshi_trading.errors import UsageError
from kalshi_trading.marketdata.book import fixed_to_units
from kalshi_trading.marketdata.events import (
    BookStale,
    BookUpdated,
    LifecycleEvent,
    LifecycleMsg,
    Resynced,
    TickerMsg,
    TradeMsg,
)
from kalshi_trading.replay import schema
from kalshi_trading.replay.feed import ReplayClock, ReplayFeed
from kalshi_trading.replay.reader import Recording
from tests.replay.conftest import A, B, T0, at, book_file, c, close, n, read_lines, session, standard, trade


def kinds(events) -> list[tuple]:
    out = []
    for e in events:
        name = type(e).__name__
        out.append((name, getattr(e, "ticker", None), getattr(e, "snapshot", None)) if name == "BookUpdated"
                   else (name, getattr(e, "ticker", None)))
    return out


def test_events_in_receive_order_and_books_as_live(tmp_path):
    feed = ReplayFeed(standard(tmp_path))
    feed.subscribe([A, B])
    events = list(feed.events())
    assert kinds(events) == [
        ("BookUpdated", A, True), ("BookUpdated", B, True), ("BookUpdated", A, False), ("TradeMsg", A),
        ("BookUpdated", A, False), ("BookUpdated", B, False), ("TickerMsg", A), ("BookUpdated", A, False),
        ("BookUpdated", A, True), ("BookUpdated", A, False), ("LifecycleMsg", A),
        ("BookStale", A), ("BookStale", B)]  # the session ended: no book is carried past its recording
    assert feed.books[A].levels_units() == ({c(50): n(10), c(49): n(1)}, {})
    assert feed.books[B].levels_units() == ({c(30): n(1)}, {c(60): n(3)})
    assert feed.checkpoints == 1 and feed.problems == [] and feed.gaps == [] and feed.finished
    upd = [e for e in events if isinstance(e, BookUpdated)]
    assert [e.ts for e in upd] == [at(i) for i in (1, 2, 3, 4, 5, 6, 7, 8)]  # the exchange's times
    assert events[3] == trade(A, "0.5100", "2.00", 4)
    assert events[6] == TickerMsg(A, D("0.51"), D("0.50"), D("0.55"), D("10"), D("5"), D("2"), D("0"), at(5))
    assert events[10] == LifecycleMsg(A, LifecycleEvent.DEACTIVATED, None, None, at(9))
    assert all(e.reason == "recording ended" for e in events[-2:] if isinstance(e, BookStale))
    assert feed.stats.snapshots == 3 and feed.stats.deltas == 5


def test_only_subscribed_markets_are_yielded_but_a_late_subscriber_gets_a_current_book(tmp_path):
    feed = ReplayFeed(standard(tmp_path))
    feed.subscribe([A])
    events = list(feed.events(timeout=0.0035))  # receive times run 1 ms apart from T0 + 1 ms
    assert {getattr(e, "ticker", None) for e in events} == {A}
    feed.subscribe([B])  # B's book was kept all along, as a live get_snapshot would give it
    assert not feed.books[B].stale and feed.books[B].best_bid == D("0.30")
    rest = list(feed.events())
    assert ("BookUpdated", B, False) in kinds(rest)


def test_the_replay_clock_moves_with_the_events_and_the_windows(tmp_path):
    clock = ReplayClock()
    feed = ReplayFeed(standard(tmp_path), clock)
    feed.subscribe([A, B])
    feed.start()
    first = clock.now()
    assert first == T0 + timedelta(milliseconds=1)  # the first receive time
    got = list(feed.events(timeout=0.0015))  # 1.5 ms of recording: receive times first and first + 1 ms
    assert kinds(got) == [("BookUpdated", A, True), ("BookUpdated", B, True)]
    assert clock.now() == first + timedelta(microseconds=1500)
    assert list(feed.events(timeout=0.0)) == [] and clock.now() == first + timedelta(microseconds=1500)
    later = list(feed.events(timeout=1.0))
    # the recording ended inside that window: the clock stays at its last receive time
    assert len(later) == 11 and feed.finished and clock.now() == T0 + timedelta(milliseconds=11)
    assert list(feed.events(timeout=1.0)) == [] and feed.finished


def test_start_and_end_bound_what_is_yielded_but_the_books_are_built_from_before(tmp_path):
    standard(tmp_path)
    start, end = T0 + timedelta(milliseconds=6), T0 + timedelta(milliseconds=8)  # receive times of d5, d6
    feed = ReplayFeed(tmp_path, start=start, end=end)
    feed.subscribe([A, B])
    events = list(feed.events())
    assert kinds(events) == [("BookUpdated", B, False), ("TickerMsg", A), ("BookUpdated", A, False)]
    assert feed.books[A].levels_units() == ({c(50): n(10)}, {})  # the snapshot and deltas before the start count
    assert feed.finished and feed.clock.now() == T0 + timedelta(milliseconds=8)


def test_subscribing_to_a_market_not_recorded_is_refused_naming_what_is(tmp_path):
    feed = ReplayFeed(standard(tmp_path))
    with pytest.raises(UsageError, match=f"no recording of KXOTHER in .* [(]it holds {A}, {B}[)]"):
        feed.subscribe(["kxother"])


def test_a_checkpoint_that_disagrees_with_the_deltas_is_reported_and_the_snapshot_wins(tmp_path):
    standard(tmp_path)
    path = book_file(tmp_path)
    lines = read_lines(path)
    row = json.loads(lines[10])  # the checkpoint's one level (line 11)
    row["size"] = "11.00"
    lines[10] = (json.dumps(row) + "\n").encode()
    from tests.replay.conftest import rewrite

    rewrite(path, lines)
    feed = ReplayFeed(tmp_path)
    feed.subscribe([A])
    list(feed.events())
    assert feed.checkpoints == 0
    [problem] = feed.problems
    assert problem.line == 10 and "differs from the book rebuilt from the deltas" in str(problem)
    assert feed.books[A].levels_units()[0] == {c(50): n(11), c(49): n(1)}


def test_a_level_driven_below_zero_makes_the_book_stale_until_the_next_snapshot(tmp_path):
    rec, writer = session(tmp_path)
    rec.book_snapshot(A, 1, 1, [(c(50), n(1))], [], at(1))
    rec.book_delta(A, 1, 2, True, c(50), -n(2), at(2))  # more than there is: something was missed
    rec.book_delta(A, 1, 3, True, c(48), n(2), at(3))  # not applied to a stale book
    rec.book_snapshot(A, 1, 4, [(c(47), n(1))], [], at(4))
    close(rec, writer)
    feed = ReplayFeed(tmp_path)
    feed.subscribe([A])
    events = list(feed.events())
    assert kinds(events)[:4] == [("BookUpdated", A, True), ("BookStale", A), ("Resynced", A),
                                 ("BookUpdated", A, True)]
    assert events[1].reason == "negative level" and events[2].reason == "negative level"
    assert [p.line for p in feed.problems] == [3] and feed.stats.dropped == 2


def test_markers_replay_as_the_events_the_live_feed_gave(tmp_path):
    from kalshi_trading.marketdata.events import BookStale as Stale, Disconnected, FeedError, Reconnected

    rec, writer = session(tmp_path, tickers=(A,))
    rec.book_snapshot(A, 1, 1, [(c(50), n(1))], [], at(1))
    rec.handle(Disconnected("connection closed (code 1006)", at(2)))
    rec.handle(Stale(A, "disconnected", at(2)))
    rec.handle(Reconnected(2, at(3)))
    rec.handle(FeedError(6, "already subscribed", at(3), "ticker"))
    rec.book_snapshot(A, 7, 1, [(c(52), n(1))], [], at(4))  # a new connection: new sid, seq from 1
    rec.book_delta(A, 7, 2, True, c(53), n(1), at(5))
    rec.book_seq(7, 3)  # a command reply took seq 3
    rec.book_delta(A, 7, 4, True, c(54), n(1), at(6))
    close(rec, writer)
    feed = ReplayFeed(tmp_path)
    feed.subscribe([A])
    events = list(feed.events())
    assert kinds(events) == [("BookUpdated", A, True), ("Disconnected", None), ("BookStale", A),
                             ("Reconnected", None), ("FeedError", None), ("Resynced", A), ("BookUpdated", A, True),
                             ("BookUpdated", A, False), ("BookUpdated", A, False), ("BookStale", A)]
    assert events[1] == Disconnected("connection closed (code 1006)", at(2))
    assert events[2] == Stale(A, "disconnected", at(2)) and events[3] == Reconnected(2, at(3))
    assert events[4] == FeedError(6, "already subscribed", at(3), "ticker")
    assert events[5] == Resynced(A, "disconnected", at(4))
    assert feed.gaps == [] and feed.resyncs == 1


def test_two_sessions_in_one_directory_each_start_from_their_snapshot(tmp_path):
    first = session(tmp_path, tickers=(A,))
    first[0].book_snapshot(A, 1, 1, [(c(50), n(1))], [], at(1))
    first[0].book_delta(A, 1, 2, True, c(51), n(1), at(2))
    close(*first)
    later = T0 + timedelta(days=1, hours=3)  # another day, another sid numbering
    second = session(tmp_path, tickers=(A,), start=later)
    second[0].book_snapshot(A, 1, 1, [(c(60), n(2))], [], later + timedelta(seconds=1))
    close(*second)
    recording = Recording(tmp_path)
    assert len(recording.sessions) == 2 and [d.isoformat() for d in recording.days] == ["2026-12-01", "2026-12-02"]
    feed = ReplayFeed(recording)
    feed.subscribe([A])
    events = list(feed.events())
    assert kinds(events) == [("BookUpdated", A, True), ("BookUpdated", A, False), ("BookStale", A),
                             ("Resynced", A), ("BookUpdated", A, True), ("BookStale", A)]
    assert feed.gaps == [] and feed.books[A].levels_units() == ({c(60): n(2)}, {})


@given(st.integers(min_value=-10**12, max_value=10**12))
def test_units_round_trip_exactly_as_text(units):
    assert fixed_to_units(schema.price_text(units), 4) == units
    assert fixed_to_units(schema.size_text(units), 2) == units
    assert D(schema.size_text(units)) == D(units) / 100


def test_rows_round_trip_every_event_field():
    ev = TradeMsg(A, "t1", D("0.0150"), D("2.50"), None, None, at(1))
    assert schema.trade_event(json.loads(schema.dumps(schema.trade_row(ev, "x")))) == ev
    tick = TickerMsg(A, None, D("0.01"), None, D("0.5"), None, D("7"), None, at(2))
    assert schema.ticker_event(json.loads(schema.dumps(schema.ticker_row(tick, "x")))) == tick
    life = LifecycleMsg(A, LifecycleEvent.SETTLED, "yes", at(3), at(4), D("1"), at(5), True)
    assert schema.lifecycle_event(json.loads(schema.dumps(schema.lifecycle_row(life, "x")))) == life
    assert schema.fmt_ts(at(0)) == "2026-12-01T12:00:00.000000Z" and schema.parse_ts("2026-12-01T12:00:00.000000Z") \
        == at(0)
    from datetime import datetime, timezone

    eastern = datetime(2026, 12, 1, 7, 0, 0, 5, tzinfo=timezone(timedelta(hours=-5)))
    assert schema.fmt_ts(eastern) == "2026-12-01T12:00:00.000005Z"
    with pytest.raises(ValueError, match="naive"):
        schema.fmt_ts(datetime(2026, 12, 1))
