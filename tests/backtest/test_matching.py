"""The queue model on hand-made books and trades (honesty check 3, first half): queue position, partial fills,
cancels ahead, a book reaching through, touch fills, stale books, taking."""

from __future__ import annotations

import pytest

from kalshi_trading.backtest.matching import WINDOW_US, QueueBook, QueueModel, Resting
from kalshi_trading.marketdata.book import LocalBook

C = 100  # price units in a cent
N = 100  # size units in a contract
T = "KXTEST-26DEC01-A"


class Time:
    def __init__(self) -> None:
        self.us = 0

    def __call__(self) -> int:
        return self.us


def book(bids: dict[int, int] | None = None, asks: dict[int, int] | None = None) -> LocalBook:
    """A live book from cents -> contracts (asks as YES prices; they rest as NO bids)."""
    b = LocalBook(T)
    b.apply_snapshot([(p * C, s * N) for p, s in (bids or {}).items()],
                     [(10_000 - p * C, s * N) for p, s in (asks or {}).items()])
    return b


def queue(b: LocalBook, model: QueueModel = QueueModel.CONSERVATIVE) -> tuple[QueueBook, Time]:
    now = Time()
    return QueueBook(b, model, now), now


def bid(q: QueueBook, cents: int, contracts: int) -> Resting:
    r = Resting("o-bid", True, cents * C, contracts * N)
    q.join(r)
    return r


def ask(q: QueueBook, cents: int, contracts: int) -> Resting:
    r = Resting("o-ask", False, cents * C, contracts * N)
    q.join(r)
    return r


def sell(q: QueueBook, cents: int, contracts: int) -> int:
    """A taker sells YES at `cents`: our fills (contracts), applied to the orders as the exchange applies them."""
    return _apply(q.on_trade(cents * C, contracts * N, taker_bid=False))


def buy(q: QueueBook, cents: int, contracts: int) -> int:
    return _apply(q.on_trade(cents * C, contracts * N, taker_bid=True))


def _apply(matches) -> int:
    total = 0
    for m in matches:
        n = min(m.count, m.order.remaining)
        m.order.remaining -= n
        total += n
    return total // N


def delta(b: LocalBook, cents: int, contracts: int, yes: bool = True) -> None:
    """Size change at a YES bid (or, yes=False, at the YES ask `cents`)."""
    assert b.apply_delta(yes, cents * C if yes else 10_000 - cents * C, contracts * N)


def test_an_order_joins_behind_the_size_at_its_price_and_fills_partly_as_trades_consume_it():
    b = book({40: 10, 39: 4}, {42: 5})
    q, _ = queue(b)
    o = bid(q, 40, 5)
    assert o.ahead == 10 * N  # everything resting at 0.40 when it arrived is ahead of it
    delta(b, 40, -4)
    assert sell(q, 40, 4) == 0 and o.ahead == 6 * N  # a trade smaller than the queue only moves it up
    delta(b, 40, -6)
    assert sell(q, 40, 8) == 2 and o.remaining == 3 * N  # 6 ahead, then 2 of ours: a partial fill
    assert sell(q, 40, 10) == 3 and o.remaining == 0  # the rest


def test_trades_that_do_not_reach_the_order_do_not_fill_it():
    b = book({40: 0, 39: 4}, {42: 5})
    q, _ = queue(b)
    o = bid(q, 40, 2)
    assert buy(q, 40, 5) == 0  # a buyer at 0.40 met someone's ask, not our bid
    assert sell(q, 41, 5) == 0  # above our price: a better bid took it
    assert o.remaining == 2 * N


@pytest.mark.parametrize("model", list(QueueModel))
def test_a_trade_through_the_price_fills_in_every_model(model):
    q, _ = queue(book({39: 4}, {42: 5}), model)
    bid(q, 40, 2)
    assert sell(q, 39, 5) == 2  # nobody at 0.40: with us there the seller would have met us first


@pytest.mark.parametrize("model", [QueueModel.CONSERVATIVE, QueueModel.PROBABILISTIC])
def test_a_trade_through_the_price_meets_what_is_still_counted_ahead_first(model):
    b = book({40: 3, 39: 4}, {42: 5})
    q, _ = queue(b, model)
    o = bid(q, 40, 2)
    assert o.ahead == 3 * N
    assert sell(q, 39, 4) == 1 and o.ahead == 0  # the 3 ahead first (as the recorded seller met them), then us


@pytest.mark.parametrize("model", [QueueModel.CONSERVATIVE, QueueModel.PROBABILISTIC])
@pytest.mark.parametrize("book_first", [True, False])
def test_an_execution_counts_once_whichever_of_its_two_messages_comes_first(model, book_first):
    """The trade print and the book's decrease of one execution: the queue moves by the trade once, never twice
    (and the decrease is no cancel), in either order."""
    b = book({40: 10}, {42: 5})
    q, now = queue(b, model)
    o = bid(q, 40, 3)
    delta(b, 40, 5)  # 5 more join behind us
    q.on_book()
    for _ in range(2):  # two executions of 4 at 0.40
        if book_first:
            delta(b, 40, -4)
            q.on_book()
            fills = sell(q, 40, 4)
        else:
            fills = sell(q, 40, 4)
            delta(b, 40, -4)
            q.on_book()
        assert fills == 0
    now.us += 2 * WINDOW_US  # long after: nothing is left over to be taken for a cancel
    q.on_book()
    assert o.ahead == 2 * N  # 10 - 4 - 4
    assert sell(q, 40, 4) == 2  # 2 ahead, then 2 of our 3


def test_conservative_cancels_come_from_behind_first():
    b = book({40: 10}, {42: 5})
    q, now = queue(b)
    o = bid(q, 40, 2)
    delta(b, 40, 5)
    q.on_book()  # 10 ahead, 5 behind
    delta(b, 40, -4)
    q.on_book()
    now.us += 2 * WINDOW_US
    q.on_book()  # no trade claimed it: a cancel, from behind
    assert o.ahead == 10 * N
    delta(b, 40, -8)  # now only 3 others are left at 0.40: at most 3 of them can be ahead
    q.on_book()
    now.us += 2 * WINDOW_US
    q.on_book()
    assert o.ahead == 3 * N


def test_probabilistic_cancels_take_their_share_of_the_queue_ahead():
    b = book({40: 10}, {42: 5})
    q, now = queue(b, QueueModel.PROBABILISTIC)
    o = bid(q, 40, 2)
    delta(b, 40, 10)
    q.on_book()  # 10 ahead of 20
    delta(b, 40, -4)
    q.on_book()
    assert o.ahead == 10 * N  # a decrease waits for a trade to claim it
    now.us += WINDOW_US + 1
    q.on_book()
    assert o.ahead == 8 * N  # 4 x 10 / 20 of it was in front of us


def test_probabilistic_fills_when_the_other_side_reaches_through_the_price_once_per_contract():
    b = book({39: 4}, {42: 5})
    q, _ = queue(b, QueueModel.PROBABILISTIC)
    o = bid(q, 40, 5)
    delta(b, 40, 3, yes=False)  # someone offers 3 at 0.40: in the recording nobody bid there
    assert _apply(q.on_book()) == 3 and o.remaining == 2 * N
    delta(b, 42, 1, yes=False)  # another event while the cross lasts: the same 3 are not counted again
    assert _apply(q.on_book()) == 0
    conservative, _ = queue(b, QueueModel.CONSERVATIVE)
    bid(conservative, 40, 5)
    assert _apply(conservative.on_book()) == 0  # no trade printed: the conservative model does not fill


def test_touch_fills_the_whole_order_when_the_price_is_touched():
    b = book({40: 50}, {42: 5})
    q, _ = queue(b, QueueModel.TOUCH)
    o = bid(q, 40, 5)
    assert sell(q, 40, 1) == 5 and o.remaining == 0  # however long the queue
    q.leave(o)
    a = ask(q, 43, 4)
    delta(b, 43, 2)  # a bid reaches our ask's price
    assert _apply(q.on_book()) == 4 and a.remaining == 0


def test_nothing_fills_while_the_book_is_stale_and_the_queue_is_capped_after_the_resync():
    b = book({40: 10}, {42: 5})
    q, _ = queue(b)
    o = bid(q, 40, 2)
    b.mark_stale("seq gap")
    assert sell(q, 40, 50) == 0 and _apply(q.on_book()) == 0 and o.ahead == 10 * N
    b.apply_snapshot([(40 * C, 3 * N)], [(10_000 - 42 * C, 5 * N)])
    q.on_resync()
    assert o.ahead == 3 * N  # what is left at 0.40 now


def test_an_order_that_arrived_on_a_stale_book_joins_behind_all_of_the_fresh_level():
    b = book({40: 10}, {42: 5})
    b.mark_stale("disconnected")
    q, _ = queue(b)
    o = bid(q, 40, 2)
    assert not o.queued and sell(q, 40, 50) == 0
    b.apply_snapshot([(40 * C, 7 * N)], [(10_000 - 42 * C, 5 * N)])
    q.on_resync()
    assert o.queued and o.ahead == 7 * N


def test_taking_walks_the_other_side_and_does_not_take_the_same_size_twice():
    b = book({40: 10}, {42: 2, 43: 3, 45: 9})
    q, _ = queue(b)
    assert q.take(True, 43 * C, 4 * N) == [(42 * C, 2 * N), (43 * C, 2 * N)]  # best first, up to the limit
    assert q.take(True, 43 * C, 4 * N) == [(43 * C, 1 * N)]  # what is left of the recorded 0.43
    assert q.take(False, 40 * C, 3 * N) == [(40 * C, 3 * N)]
    assert q.crosses(True, 42 * C) and not q.crosses(True, 41 * C) and q.crosses(False, 40 * C)
