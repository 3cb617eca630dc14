"""The local book: exact arithmetic in sub-units, legacy shapes, the sequence invariant (property tests)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from decimal import Decimal as D

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kalshi_trading.marketdata.book import (
    BookDataError,
    LocalBook,
    PriceWindow,
    delta_fields,
    fixed_to_units,
    levels_equal,
    snapshot_levels,
    units_count,
    units_price,
)
from kalshi_trading.marketdata.events import BookStale, BookUpdated, Resynced
from kalshi_trading.marketdata.feed import BookKeeper
from kalshi_trading.models import OrderBook, PriceLevel

T0 = datetime(2026, 11, 21, 14, 30, tzinfo=timezone.utc)


def book_of(yes, no) -> LocalBook:
    b = LocalBook("T")
    b.apply_snapshot(yes, no)
    return b


# ----------------------------------------------------------------------------------- parsing
@pytest.mark.parametrize("text, places, units", [
    ("0.5600", 4, 5600), ("0.56", 4, 5600), ("0.560000", 4, 5600), ("0.0001", 4, 1), ("1", 4, 10_000),
    ("10.00", 2, 1000), ("-10.00", 2, -1000), ("0.01", 2, 1), ("-0.5", 2, -50), ("3", 2, 300), ("0.420", 4, 4200),
])
def test_fixed_point_text_to_units(text, places, units):
    assert fixed_to_units(text, places) == units
    assert D(text).scaleb(places) == units  # the same answer Decimal gives


@pytest.mark.parametrize("bad", ["0.56001", "abc", "", "1e-3"])
def test_unexact_or_garbage_text_is_refused(bad):
    with pytest.raises(ValueError):
        fixed_to_units(bad, 4)


@given(st.decimals(min_value=-10**6, max_value=10**6, places=4, allow_nan=False, allow_infinity=False))
def test_fast_parse_agrees_with_decimal(value):
    for text in (f"{value:.4f}", f"{value:.6f}"):
        assert fixed_to_units(text, 4) == int(value.scaleb(4))


def test_current_and_legacy_snapshot_and_delta_shapes():
    current = {"yes_dollars_fp": [["0.4200", "13.00"]], "no_dollars_fp": [["0.5600", "17.50"]]}
    legacy_cents = {"yes": [[42, 13]], "no": [[56, 17.5]]}
    legacy_dollars = {"yes_dollars": [["0.420", 13]], "no_dollars": [["0.560", "17.50"]], "yes": [[99, 1]]}
    for msg in (current, legacy_cents, legacy_dollars):
        assert snapshot_levels(msg, "yes") == [(4200, 1300)]
        assert snapshot_levels(msg, "no") == [(5600, 1750)]
    assert snapshot_levels({"yes_dollars_fp": [["0.42", "1.00"]]}, "no") == []  # an empty side is omitted
    assert delta_fields({"side": "yes", "price_dollars": "0.4200", "delta_fp": "-3.50"}) == (True, 4200, -350)
    assert delta_fields({"side": "no", "price": 56, "delta": 4}) == (False, 5600, 400)
    assert delta_fields({"side": "no", "price_dollars": "0.560", "delta": -2}) == (False, 5600, -200)
    assert delta_fields({"side": "yes", "price_dollars": "0.5", "delta_fp": 2.5}) == (True, 5000, 250)
    with pytest.raises(BookDataError):
        delta_fields({"side": "maybe", "price_dollars": "0.5", "delta_fp": "1"})


@pytest.mark.parametrize("msg", [
    {"side": "yes", "price_dollars": "0.4200", "delta_fp": "2.50"},  # current (fast path)
    {"side": "yes", "price_dollars": "0.42", "delta_fp": "2.5"},  # fewer places
    {"side": "yes", "price": 42, "delta": 2.5},  # legacy cents, a number for the size
    {"side": "yes", "price_dollars": "0.420", "delta": "2.50"},  # legacy 3-dp dollars
])
def test_apply_message_reads_every_shape(msg):
    b = book_of([(4200, 100)], [(5000, 100)])
    assert b.apply_message(msg)
    assert b.levels_units()[0] == {4200: 350}
    assert b.apply_message({**msg, "side": "no"})
    assert b.levels_units()[1] == {5000: 100, 4200: 250}
    with pytest.raises(ValueError):
        b.apply_message({"side": "yes", "price_dollars": "0.42001", "delta_fp": "1.00"})


# ----------------------------------------------------------------------------------- reads
def test_best_depth_mid_spread_in_yes_prices():
    b = book_of([(4000, 1000), (4200, 550), (3000, 1)], [(5500, 300), (5000, 700)])
    assert (b.best_bid, b.best_bid_size) == (D("0.42"), D("5.5"))
    assert (b.best_ask, b.best_ask_size) == (D("0.45"), D("3"))  # 1 - best NO bid 0.55
    assert b.mid == D("0.435") and b.spread == D("0.03")
    assert str(b.best_bid) == "0.4200" and str(b.best_bid_size) == "5.50"  # exact, wire-like strings
    bids, asks = b.depth(2)
    assert bids == (PriceLevel(D("0.42"), D("5.5")), PriceLevel(D("0.40"), D(10)))
    assert asks == (PriceLevel(D("0.45"), D(3)), PriceLevel(D("0.50"), D(7)))
    assert b.yes_asks() == asks and len(b.yes_bids()) == 3
    assert b.top_units() == (4200, 550, 4500, 300)
    assert b.total_size() == (D("15.51"), D(10))


def test_sub_cent_prices_and_fractional_sizes_are_exact():
    b = book_of([(4205, 1)], [(5793, 33)])
    assert b.best_bid == D("0.4205") and b.best_ask == D("0.4207") and b.spread == D("0.0002")
    assert b.mid == D("0.4206") and b.best_bid_size == D("0.01")


def test_one_sided_and_empty_books():
    b = book_of([(4200, 100)], [])
    assert b.best_ask is None and b.mid is None and b.spread is None and b.best_bid == D("0.42")
    assert book_of([], []).depth(5) == ((), ())


def test_zero_level_is_removed_and_best_moves_down():
    b = book_of([(4200, 100), (4100, 50)], [(5500, 10)])
    assert b.apply_delta(True, 4200, -100)
    assert b.levels_units()[0] == {4100: 50} and b.best_bid == D("0.41")
    assert b.apply_delta(False, 5500, -10)
    assert b.best_ask is None and b.levels_units()[1] == {}
    assert b.apply_delta(True, 4300, 5) and b.best_bid == D("0.43")  # a better level appears


def test_a_level_below_zero_means_we_missed_something():
    b = book_of([(4200, 100)], [])
    assert not b.apply_delta(True, 4200, -150)
    assert b.stale and b.resync_wanted and b.stale_reason == "negative level"
    assert b.best_bid is None


def test_delta_before_snapshot_marks_stale_and_asks_for_resync():
    b = LocalBook("T")
    assert not b.apply_delta(True, 4200, 100)
    assert b.stale and b.resync_wanted and b.stale_reason == "delta before snapshot"
    assert b.levels_units() == ({}, {})
    assert not b.apply_snapshot([(4200, 100)], [])  # the first snapshot is not a resync
    assert not b.stale and b.resyncs == 0


def test_stale_book_answers_nothing_until_a_fresh_snapshot():
    b = book_of([(4200, 100)], [(5500, 10)])
    b.mark_stale("seq gap")
    assert b.stale and b.resync_wanted
    assert (b.best_bid, b.best_ask, b.mid, b.spread, b.best_bid_size, b.top_units()) == (None,) * 6
    assert b.depth(5) == ((), ()) and b.to_orderbook().yes_bids == ()
    assert not b.apply_delta(True, 4200, 1)  # ignored: deltas cannot repair a stale book
    b.mark_stale("later reason")
    assert b.stale_reason == "seq gap"  # the first cause is kept
    assert b.apply_snapshot([(4300, 1)], [])
    assert b.resyncs == 1 and not b.stale and b.best_bid == D("0.43")


def test_round_trip_with_the_rest_orderbook_model():
    rest = OrderBook("T", (PriceLevel(D("0.42"), D("13")), PriceLevel(D("0.40"), D("1.25"))),
                     (PriceLevel(D("0.56"), D("17")),))
    local = LocalBook.from_orderbook(rest)
    assert local.to_orderbook() == rest
    assert local.best_ask == rest.best_yes_ask.price and local.mid == rest.mid


def test_units_helpers():
    assert units_price(5600) == D("0.5600") and units_count(-250) == D("-2.50")


# ----------------------------------------------------------------------------------- volatility window
def test_price_window_slides_and_estimates_volatility():
    w = PriceWindow(timedelta(minutes=1))
    for i, px in enumerate([5000, 5100, 4900, 5050, 5000]):
        w.add(T0 + timedelta(seconds=10 * i), px)
    assert len(w) == 5 and w.last == D("0.5")
    w.add(T0 + timedelta(seconds=75), 5200)  # the first two fall out of the minute
    assert [p for _, p in w.prices()] == [D("0.49"), D("0.505"), D("0.5"), D("0.52")]
    vol = w.volatility()
    assert vol is not None and vol > 0
    assert PriceWindow().volatility() is None


def test_book_records_mid_changes_and_trades():
    b = book_of([(4000, 100)], [(5000, 100)])  # mid 0.45
    b.record_mid(T0)
    b.record_mid(T0 + timedelta(seconds=1))  # unchanged: not recorded again
    b.apply_delta(True, 4200, 100)  # mid 0.46
    b.record_mid(T0 + timedelta(seconds=2))
    assert [p for _, p in b.mids.prices()] == [D("0.45"), D("0.46")]
    b.record_trade(T0, 4200)
    assert b.trades.last == D("0.42")


# ----------------------------------------------------------------------------------- properties
PRICES = st.integers(min_value=1, max_value=99).map(lambda c: c * 100)  # cents grid, in units
SIZES = st.integers(min_value=0, max_value=5000)
SIDE = st.booleans()
TICKERS = ("AAA", "BBB", "CCC")


@st.composite
def histories(draw):
    """A snapshot per market and a stream of level changes across them: (ticker, yes, price, new size)."""
    snaps = {t: ({p: draw(st.integers(1, 5000)) for p in draw(st.sets(PRICES, max_size=6))},
                 {p: draw(st.integers(1, 5000)) for p in draw(st.sets(PRICES, max_size=6))}) for t in TICKERS}
    changes = draw(st.lists(st.tuples(st.sampled_from(TICKERS), SIDE, PRICES, SIZES), min_size=1, max_size=60))
    return snaps, changes


def to_messages(snaps, changes):
    """Wire messages in order (snapshots first), as one sid numbers them, and the true final books."""
    truth = {t: (dict(y), dict(n)) for t, (y, n) in snaps.items()}
    msgs = [("orderbook_snapshot", snapshot_msg(t, y, n)) for t, (y, n) in snaps.items()]
    for t, yes, price, size in changes:
        levels = truth[t][0 if yes else 1]
        delta = size - levels.get(price, 0)
        if size:
            levels[price] = size
        else:
            levels.pop(price, None)
        msgs.append(("orderbook_delta", {"market_ticker": t, "side": "yes" if yes else "no",
                                         "price_dollars": f"{price / 10_000:.4f}", "delta_fp": f"{delta / 100:.2f}"}))
    return msgs, truth


def keeper_for(asked: list):
    k = BookKeeper(lambda tickers: asked.append(list(tickers)))
    for t in TICKERS:
        k.add(t)
    return k


def feed(keeper, sid, seq, kind, msg):
    if kind == "orderbook_snapshot":
        return keeper.on_snapshot(sid, seq, msg)
    return keeper.on_delta(sid, seq, msg)


def snapshot_msg(t, y, n):
    return {"market_ticker": t, "yes_dollars_fp": [[f"{p / 10_000:.4f}", f"{s / 100:.2f}"] for p, s in y.items()],
            "no_dollars_fp": [[f"{p / 10_000:.4f}", f"{s / 100:.2f}"] for p, s in n.items()]}


@settings(max_examples=200, deadline=None)
@given(histories())
def test_any_interleaving_of_deltas_equals_the_book_rebuilt_from_the_final_state(history):
    snaps, changes = history
    msgs, truth = to_messages(snaps, changes)
    asked: list = []
    keeper = keeper_for(asked)
    for seq, (kind, msg) in enumerate(msgs, start=1):
        feed(keeper, 7, seq, kind, msg)
    assert not asked and keeper.resyncs == 0
    for t, (y, n) in truth.items():
        book = keeper.books[t]
        rebuilt = book_of(y.items(), n.items())
        assert not book.stale and levels_equal(book, list(y.items()), list(n.items()))
        assert (book.best_bid, book.best_bid_size, book.best_ask, book.best_ask_size, book.mid, book.spread) == (
            rebuilt.best_bid, rebuilt.best_bid_size, rebuilt.best_ask, rebuilt.best_ask_size, rebuilt.mid,
            rebuilt.spread)
        assert book.depth(100) == rebuilt.depth(100)


@settings(max_examples=200, deadline=None)
@given(histories(), st.data())
def test_gaps_and_duplicates_always_end_in_a_resync_and_a_correct_book(history, data):
    snaps, changes = history
    msgs, truth = to_messages(snaps, changes)
    n = len(msgs)
    # fault positions among the deltas, never the last message (a loss is only seen when a later one comes)
    positions = data.draw(st.sets(st.integers(len(TICKERS), n - 2), min_size=1, max_size=4)) if n - 2 >= len(
        TICKERS) else set()
    faults = {i: data.draw(st.sampled_from(["drop", "duplicate"])) for i in positions}
    asked: list = []
    keeper = keeper_for(asked)
    events = []
    for seq, (kind, msg) in enumerate(msgs, start=1):
        fault = faults.get(seq - 1)
        if fault == "drop":
            continue
        events += feed(keeper, 7, seq, kind, msg)
        if fault == "duplicate":
            events += feed(keeper, 7, seq, kind, msg)
    if not faults:
        assert not asked
        return
    # every fault was noticed: the sid's books went stale and fresh snapshots were asked for
    assert keeper.stats.gaps + keeper.stats.duplicates >= 1
    assert asked and set().union(*map(set, asked)) == set(TICKERS)
    assert {e.ticker for e in events if isinstance(e, BookStale)} == set(TICKERS)
    for t in TICKERS:
        assert keeper.books[t].stale and keeper.books[t].best_bid is None  # never used while stale
    # the fresh snapshots (carrying on the sid's numbering) repair every book
    seq = n + 1
    resynced = []
    for t, (y, no) in truth.items():
        resynced += keeper.on_snapshot(7, seq, snapshot_msg(t, y, no))
        seq += 1
    assert {e.ticker for e in resynced if isinstance(e, Resynced)} == set(TICKERS)
    assert all(isinstance(e, (Resynced, BookUpdated)) for e in resynced)
    assert keeper.resyncs == len(TICKERS) and keeper.stats.resyncs == len(TICKERS)
    for t, (y, no) in truth.items():
        book = keeper.books[t]
        assert not book.stale and levels_equal(book, list(y.items()), list(no.items()))
    # and deltas apply again afterwards
    keeper.on_delta(7, seq, {"market_ticker": "AAA", "side": "yes", "price_dollars": "0.0050", "delta_fp": "1.00"})
    assert keeper.books["AAA"].levels_units()[0][50] == 100


def test_overdue_snapshot_is_asked_for_again():
    now = [0.0]
    asked: list = []
    keeper = BookKeeper(lambda tickers: asked.append(tickers), resync_timeout=5, clock=lambda: now[0])
    keeper.add("AAA")
    keeper.retry_overdue()
    assert asked == []  # the subscription's snapshot is not late yet
    now[0] = 6
    keeper.retry_overdue()
    assert asked == [["AAA"]]
    keeper.on_snapshot(1, 1, {"market_ticker": "AAA"})
    now[0] = 60
    keeper.retry_overdue()
    assert asked == [["AAA"]]


def test_unknown_markets_and_unreadable_messages():
    asked: list = []
    keeper = keeper_for(asked)
    assert keeper.on_delta(1, 1, {"market_ticker": "ZZZ", "side": "yes", "price_dollars": "0.5",
                                  "delta_fp": "1"}) == []
    keeper.on_snapshot(1, 2, {"market_ticker": "AAA", "yes_dollars_fp": [["0.50", "1.00"]]})
    events = keeper.on_delta(1, 3, {"market_ticker": "AAA", "side": "yes", "price_dollars": "zz", "delta_fp": "1"})
    assert keeper.books["AAA"].stale and asked == [["AAA"]]
    assert [type(e) for e in events] == [BookStale]
