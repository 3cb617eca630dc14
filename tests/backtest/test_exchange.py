"""The simulated exchange on hand-made books (honesty check 3, second half): latency, post-only rejection, fees,
amends and cancels in flight, settlement."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from decimal import Decimal as D

import pytest

from kalshi_trading.auto.ledger import OrderRecord
from kalshi_trading.auto.ports import MarketInfo
from kalshi_trading.auto.reconcile import bot_fill
from kalshi_trading.auto.types import TargetOrder
from kalshi_trading.backtest.exchange import SimulatedExchange, micros
from kalshi_trading.backtest.matching import QueueModel
from kalshi_trading.errors import NotFoundError, RejectedError
from kalshi_trading.marketdata.book import LocalBook
from kalshi_trading.marketdata.events import FillMsg, LifecycleEvent, LifecycleMsg, UserOrderMsg
from kalshi_trading.models import BookSide, OrderStatus
from kalshi_trading.money import GRIDS, fill_fee
from kalshi_trading.replay.feed import ReplayClock
from kalshi_trading.store.botstate import FillSource

T = "KXTEST-26DEC01-A"
T0 = datetime(2026, 12, 1, 12, tzinfo=timezone.utc)


class Market:
    """A book, a replay clock and a simulated exchange over them."""

    def __init__(self, latency_ms: int = 0, fee_type: str = "quadratic", queue=QueueModel.CONSERVATIVE):
        self.book = LocalBook(T)
        self.book.apply_snapshot([(4000, 1000)], [(10_000 - 4200, 500)])  # 10 bid at 0.40, 5 offered at 0.42
        self.clock = ReplayClock(T0)
        info = MarketInfo(T, GRIDS["linear_cent"], fee_type, D(1))
        self.ex = SimulatedExchange({T: self.book}, self.clock, {T: info}, queue=queue,
                                    latency=timedelta(milliseconds=latency_ms))

    def at(self, ms: int) -> None:
        """Move to T0 + ms; whatever was sent by then reaches the book."""
        self.clock.advance_to(T0 + timedelta(milliseconds=ms))
        self.ex.process_due(micros(self.clock.now()))

    def place(self, side: BookSide, price: str, count: str, ioc: bool = False):
        return self.ex.place(TargetOrder(T, side, D(price), D(count), "test"), None, ioc)

    def sell(self, price: str, count: str) -> None:
        """A recorded trade: a taker sold YES."""
        self.ex.on_trade(T, D(price), D(count), taker_bid=False)

    def fills(self) -> list[FillMsg]:
        return [e for e in self.ex.outbox if isinstance(e, FillMsg)]


def record(placed, side: BookSide, price: str, count: str) -> OrderRecord:
    return OrderRecord(placed.order_id, T, side, D(price), D(count), client_order_id=placed.client_order_id)


def test_an_order_reaches_the_book_only_after_the_latency():
    m = Market(latency_ms=50)
    placed = m.place(BookSide.BID, "0.41", "2")
    assert placed.status == "resting" and placed.remaining == 2  # acknowledged at once
    m.at(10)
    m.sell("0.41", "5")  # a seller at 0.41 before the order got there: no fill
    assert m.fills() == [] and m.ex.resting_orders([T])[0].order_id == placed.order_id
    m.at(50)
    m.sell("0.41", "5")  # now it rests at 0.41 with nobody ahead
    assert [(f.count, f.yes_price, f.is_taker) for f in m.fills()] == [(D(2), D("0.41"), False)]


def test_a_crossing_post_only_order_is_refused_by_the_call_without_latency():
    m = Market()
    with pytest.raises(RejectedError) as caught:
        m.place(BookSide.BID, "0.42", "1")  # would take the 0.42 offer
    assert caught.value.code == "invalid_order" and caught.value.details == "post only cross"
    assert m.ex.stats.rejected == 1 and m.ex.resting_orders() == []


def test_a_post_only_order_crossing_when_it_arrives_is_cancelled_by_the_exchange():
    m = Market(latency_ms=50)
    placed = m.place(BookSide.BID, "0.41", "1")  # fine when sent...
    m.book.apply_delta(False, 10_000 - 4100, 300)  # ...but someone offers 0.41 before it arrives
    m.at(50)
    told = [e for e in m.ex.outbox if isinstance(e, UserOrderMsg)]
    assert [(e.order_id, e.status) for e in told] == [(placed.order_id, OrderStatus.CANCELED)]
    assert m.ex.stats.rejected_on_arrival == 1 and m.ex.resting_orders() == [] and m.fills() == []


def test_fees_are_the_exchanges_for_makers_and_takers():
    m = Market(fee_type="quadratic_with_maker_fees")
    m.place(BookSide.BID, "0.40", "3")
    m.sell("0.40", "13")  # 10 ahead, then our 3: a maker fill
    m.place(BookSide.BID, "0.42", "2", ioc=True)  # takes 2 of the 0.42 offer
    maker, taker = m.fills()
    assert (maker.is_taker, maker.fee) == (False, D("0.0126"))  # 0.0175 x 3 x 0.40 x 0.60, rounded up
    assert (taker.is_taker, taker.fee) == (True, D("0.0342"))  # 0.07 x 2 x 0.42 x 0.58 = 0.034104, rounded up
    assert maker.fee == fill_fee(D(3), D("0.40"), "quadratic_with_maker_fees", False)
    assert m.ex.positions() == {T: D(5)}


def test_a_cancel_on_its_way_does_not_stop_a_fill_before_it_arrives():
    m = Market(latency_ms=50)
    placed = m.place(BookSide.BID, "0.41", "2")
    m.at(50)
    assert m.ex.cancel(record(placed, BookSide.BID, "0.41", "2")) == D(2)
    assert m.ex.resting_orders() == []  # acknowledged: no longer listed
    m.at(60)
    m.sell("0.41", "1")  # the cancel has not reached the book: this still fills
    m.at(100)
    m.sell("0.41", "1")  # now it has
    assert [f.count for f in m.fills()] == [D(1)]
    assert m.ex.cancel(record(placed, BookSide.BID, "0.41", "2")) == D(0)  # gone: cancelling again is no error


def test_less_at_the_same_price_keeps_the_queue_and_a_new_price_goes_to_the_back():
    m = Market()
    placed = m.place(BookSide.BID, "0.40", "4")
    m.book.apply_delta(True, 4000, 500)  # 5 more join behind us
    m.ex.on_book(T)
    m.ex.amend(record(placed, BookSide.BID, "0.40", "4"), TargetOrder(T, BookSide.BID, D("0.40"), D("3"), "t"))
    m.sell("0.40", "11")  # 10 ahead, then 1 of ours: the smaller order kept its place
    assert [f.count for f in m.fills()] == [D(1)]
    m.book.apply_delta(True, 3900, 300)  # 3 bid at 0.39 already
    m.ex.on_book(T)
    rec = record(placed, BookSide.BID, "0.40", "3")
    rec.fills.append(bot_fill(m.ex.fills[0], FillSource.REST, T0))
    m.ex.amend(rec, TargetOrder(T, BookSide.BID, D("0.39"), D("2"), "t"))  # total 3 = the 1 filled + 2
    m.sell("0.39", "3")  # the 3 that were there first
    assert len(m.fills()) == 1
    m.sell("0.39", "5")
    assert [f.count for f in m.fills()] == [D(1), D(2)]


def test_settlement_cancels_the_orders_refuses_new_ones_and_keeps_the_result():
    m = Market()
    placed = m.place(BookSide.BID, "0.40", "2")
    m.ex.on_lifecycle(LifecycleMsg(T, LifecycleEvent.DETERMINED, "yes", None, T0, settlement_value=D(1)))
    m.ex.on_lifecycle(LifecycleMsg(T, LifecycleEvent.SETTLED, "yes", None, T0, settlement_value=D(1)))
    told = [e for e in m.ex.outbox if isinstance(e, UserOrderMsg)]
    assert [(e.order_id, e.status) for e in told] == [(placed.order_id, OrderStatus.CANCELED)]
    assert m.ex.settlements[T].result == "yes" and m.ex.resting_orders() == []
    with pytest.raises(RejectedError) as caught:
        m.place(BookSide.BID, "0.40", "1")
    assert caught.value.code == "market_closed"
    with pytest.raises(NotFoundError):
        m.ex.amend(record(placed, BookSide.BID, "0.40", "2"), TargetOrder(T, BookSide.BID, D("0.39"), D(2), "t"))


@pytest.mark.parametrize(("price", "count", "code"), [("0.405", "1", "invalid_price"), ("1.00", "1", "invalid_price"),
                                                       ("0.40", "0.001", "invalid_order_size"),
                                                       ("0.40", "0", "invalid_order_size")])
def test_orders_off_the_grid_or_of_a_bad_size_are_refused_like_the_exchange(price, count, code):
    m = Market()
    with pytest.raises(RejectedError) as caught:
        m.place(BookSide.BID, price, count)
    assert caught.value.code == code and m.ex.orders == {}


def test_a_decrease_keeps_the_queue_place_and_to_nothing_is_a_cancel():
    m = Market(latency_ms=50)
    placed = m.place(BookSide.BID, "0.40", "4")
    m.at(50)  # 10 ahead of it
    rec = record(placed, BookSide.BID, "0.40", "4")
    assert m.ex.decrease(rec, D(1)) == D(1)
    m.at(100)
    m.sell("0.40", "12")  # 10 ahead, then the 1 it kept: its place did not move
    assert [f.count for f in m.fills()] == [D(1)]
    other = m.place(BookSide.ASK, "0.43", "2")
    m.at(150)
    assert m.ex.decrease(record(other, BookSide.ASK, "0.43", "2"), D(0)) == D(0)
    m.at(200)
    assert m.ex.resting_orders() == []
