"""Every feed event type through the loop's typed dispatch, each with its effect (no network, injected clock)."""

from __future__ import annotations

import typing
from decimal import Decimal

import pytest

from kalshi_trading.auto.strategies import MarketMaker
from kalshi_trading.auto.types import BookStaleEvent, SimpleBookView, TradeEvent
from kalshi_trading.marketdata import events as ev
from kalshi_trading.marketdata.events import (BookStale, BookUpdated, Disconnected, FeedError, FillMsg,
                                              LifecycleEvent, LifecycleMsg, PositionMsg, Reconnected, Resynced,
                                              TickerMsg, TradeMsg, UserOrderMsg)
from kalshi_trading.models import BookSide, OrderStatus, PriceLevel, Side
from tests.auto import test_loop
from tests.auto.test_loop import T, T0, book, make_loop

state = test_loop.state  # the bot-state fixture of test_loop.py, shared

D = Decimal


def quoted(state):
    """A loop that has placed its two quotes on T (a bid and an ask)."""
    loop, ex, feed, clock = make_loop(state)
    loop.handle(BookUpdated(T, T0))
    assert len(ex.orders) == 2
    return loop, ex, feed, clock


def test_every_feed_event_type_is_dispatched(state):
    """The FeedEvent union and the loop agree: a new event type without a case fails here, not silently."""
    loop, ex, _, _ = quoted(state)
    samples = {
        BookUpdated: BookUpdated(T, T0), BookStale: BookStale(T, "gap", T0), Resynced: Resynced(T, "gap", T0),
        TradeMsg: TradeMsg(T, "t1", D("0.45"), D(1), Side.NO, BookSide.ASK, T0),
        FillMsg: FillMsg(T, "t2", "zz", False, Side.YES, BookSide.BID, D("0.40"), D(1), D(0), None, T0),
        TickerMsg: TickerMsg(T, None, D("0.40"), D("0.50"), None, None, None, None, T0),
        PositionMsg: PositionMsg(T, D(0), None, None, None, None, T0),
        LifecycleMsg: LifecycleMsg("OTHER", LifecycleEvent.METADATA_UPDATED, None, None, T0),
        UserOrderMsg: UserOrderMsg("nope", T, OrderStatus.RESTING, Side.YES, BookSide.BID, D("0.4"), None, None,
                                   None, None, T0),
        Disconnected: Disconnected("bye", T0), Reconnected: Reconnected(1, T0),
        FeedError: FeedError(17, "internal", T0),
    }
    assert set(samples) == set(typing.get_args(ev.FeedEvent))
    for sample in samples.values():
        loop.handle(sample)

    class Unknown:
        ticker = T

    with pytest.raises(TypeError, match="Unknown"):
        loop.handle(Unknown())  # type: ignore[arg-type]


def test_lifecycle_close_cancels_the_markets_orders_and_stops_quoting(state):
    loop, ex, feed, _ = quoted(state)
    loop.handle(LifecycleMsg(T, LifecycleEvent.DETERMINED, "yes", None, T0))
    assert ex.orders == {} and loop.ledger.orders == {}
    assert T in loop.closed
    loop.handle(BookUpdated(T, T0))  # the book moves on: nothing is quoted any more
    assert ex.orders == {}
    loop.handle(LifecycleMsg(T, LifecycleEvent.ACTIVATED, None, None, T0))
    loop.handle(BookUpdated(T, T0))
    assert len(ex.orders) == 2


class ReadsTrades:
    """The market maker's quotes from a strategy that also reads the trades (not `BookBanded`): every trade wakes it."""

    name = "reads-trades"

    def __init__(self):
        self.inner = MarketMaker()
        self.seen: list = []

    def targets(self, event, snap):
        self.seen.append(event)
        return self.inner.targets(event, snap)


def test_trade_keeps_the_takers_side(state):
    strategy = ReadsTrades()
    loop, ex, feed, _ = make_loop(state, strategy=strategy)
    loop.handle(BookUpdated(T, T0))
    feed.books[T] = SimpleBookView(bids=(PriceLevel(D("0.41"), D(1)), PriceLevel(D("0.40"), D(10))),
                                   asks=(PriceLevel(D("0.49"), D(1)), PriceLevel(D("0.50"), D(10))))
    loop.handle(BookUpdated(T, T0))  # the book shows the bot's quotes: decisions on it may go ahead
    loop.handle(TradeMsg(T, "t1", D("0.45"), D(3), Side.NO, BookSide.ASK, T0))
    loop.handle(TradeMsg(T, "t2", D("0.46"), D(2), Side.YES, BookSide.BID, T0))
    trades = [e for e in strategy.seen if isinstance(e, TradeEvent)]
    assert [(t.taker_book_side, t.count) for t in trades] == [(BookSide.ASK, D(3)), (BookSide.BID, D(2))]


def test_the_market_maker_is_not_decided_again_on_news_it_does_not_read(state):
    """`MarketMaker` is `BookBanded`: after a pass that changed nothing, a trade, or a delta below the others' best,
    does not decide it again; a delta inside the band, or anything else (`wake`), does."""
    loop, ex, feed, _ = quoted(state)
    feed.books[T] = SimpleBookView(bids=(PriceLevel(D("0.41"), D(1)), PriceLevel(D("0.40"), D(10))),
                                   asks=(PriceLevel(D("0.49"), D(1)), PriceLevel(D("0.50"), D(10))))
    loop.handle(BookUpdated(T, T0))
    ticks = loop.metrics.ticks
    yes_40, no_50 = 4000, 5000  # the others' best: YES bid 0.40, YES ask 0.50 = NO bid 0.50
    loop.handle(TradeMsg(T, "t1", D("0.45"), D(3), Side.NO, BookSide.ASK, T0))
    loop.handle(BookUpdated(T, T0, False, True, yes_40 - 100, 500))  # below the others' best bid
    loop.handle(BookUpdated(T, T0, False, False, no_50 - 100, -500))  # below the others' best ask (NO side)
    loop.handle(BookUpdated(T, T0, False, True, yes_40, 500))  # more size at the others' best: nothing moves
    assert loop.metrics.ticks == ticks and loop.metrics.unread == 4
    loop.handle(BookUpdated(T, T0, False, True, yes_40, -500))  # less: the others' best may empty
    loop.handle(BookUpdated(T, T0, False, False, no_50 + 100, 500))  # someone inside the others' ask
    loop.handle(BookUpdated(T, T0, True))  # a snapshot
    loop.handle(BookUpdated(T, T0))  # a delta the feed did not describe
    assert loop.metrics.ticks == ticks + 4
    loop.wake()
    loop.handle(TradeMsg(T, "t2", D("0.45"), D(3), Side.NO, BookSide.ASK, T0))
    assert loop.metrics.ticks == ticks + 5


def test_order_cancelled_outside_the_bot_is_noticed_at_once(state):
    loop, ex, feed, _ = quoted(state)
    oid = next(iter(loop.ledger.orders))
    rec = loop.ledger.orders[oid]
    ex.orders.pop(oid)  # cancelled on the website
    loop.handle(UserOrderMsg(oid, T, OrderStatus.CANCELED, Side.YES, rec.book_side, rec.yes_price, D(0), D(0),
                             rec.remaining, None, T0))
    assert oid not in loop.ledger.orders
    assert oid not in loop.state.load_orders()
    assert loop._reconcile_soon is False  # noticed from the event itself, not by waiting for REST


def test_partial_fill_seen_on_user_orders_asks_for_the_fills(state):
    loop, ex, feed, _ = quoted(state)
    oid = next(iter(loop.ledger.orders))
    rec = loop.ledger.orders[oid]
    loop.handle(UserOrderMsg(oid, T, OrderStatus.RESTING, Side.YES, rec.book_side, rec.yes_price, D("0.5"),
                             rec.remaining - D("0.5"), rec.remaining, None, T0))
    assert loop.ledger.orders[oid].remaining == rec.remaining
    assert loop._reconcile_soon is True


def test_stale_book_pulls_quotes_and_resync_restores_them(state):
    loop, ex, feed, _ = quoted(state)
    seen = []
    inner = loop.strategy.targets
    loop.strategy.targets = lambda event, snap: seen.append(event) or inner(event, snap)  # type: ignore[method-assign]
    feed.books[T] = SimpleBookView(stale=True)
    loop.handle(BookStale(T, "sequence gap", T0))
    assert isinstance(seen[-1], BookStaleEvent) and seen[-1].reason == "sequence gap"
    assert ex.orders == {}
    assert loop.metrics.stale_books == 1
    feed.books[T] = book("0.40", "0.50")
    loop.handle(Resynced(T, "sequence gap", T0))
    assert len(ex.orders) == 2 and loop.metrics.resyncs == 1


def test_fill_position_and_disconnect_events(state):
    loop, ex, feed, _ = quoted(state)
    oid, rec = next(iter(loop.ledger.orders.items()))
    loop.handle(FillMsg(T, "t9", oid, False, Side.YES if rec.book_side is BookSide.BID else Side.NO, rec.book_side,
                        rec.yes_price, D(1), D("0.01"), None, T0))
    signed = D(1) if rec.book_side is BookSide.BID else D(-1)
    assert loop.ledger.position(T) == signed
    loop._reconcile_soon = False
    loop.handle(PositionMsg(T, signed, None, None, None, None, T0))
    assert loop._reconcile_soon is False  # agrees with what the bot knows
    loop.handle(PositionMsg(T, signed + 2, None, None, None, None, T0))
    assert loop._reconcile_soon is True  # the exchange knows more: reconcile
    loop._reconcile_soon = False
    loop.handle(Disconnected("closed", T0))
    assert loop._reconcile_soon is True and loop.metrics.disconnects == 1
    loop._reconcile_soon = False
    loop.handle(Reconnected(2, T0))
    assert loop._reconcile_soon is True
    loop.handle(FeedError(27, "too many commands", T0))
    assert loop.metrics.feed_errors == 1


def test_ticker_message_marks_a_market_without_a_book(state):
    loop, ex, feed, _ = quoted(state)
    feed.books.pop(T)
    loop.handle(TickerMsg(T, D("0.44"), D("0.40"), D("0.50"), None, None, None, None, T0))
    assert loop.marks()[T] == D("0.45")


def test_unknown_wire_values_become_unknown_members():
    lc = ev.lifecycle_msg({"market_ticker": T, "event_type": "teleported", "ts_ms": 1_790_000_000_000})
    assert lc.event_type is LifecycleEvent.UNKNOWN and not lc.event_type.stops_trading
    uo = ev.user_order_msg({"order_id": "x", "ticker": T, "status": "frozen", "outcome_side": "yes",
                            "book_side": "bid"})
    assert uo.status is OrderStatus.UNKNOWN and uo.book_side is BookSide.BID
