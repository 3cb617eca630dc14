"""The queue-aware matching model of a backtest: where our orders stand in a recorded book, and what fills them.

Everything is in integer units (prices 1/10,000 $, sizes 1/100 contract, times microseconds) and reads the replayed
`LocalBook`.  Our orders never change the recorded book: each stands in a queue we estimate.  (A recording made
while a bot of ours traded holds that bot's orders too; they count as anyone else's.)

* **Joining**: an order reaches the book after the latency (the exchange model, `exchange.py`, schedules that) and
  joins behind every contract resting at its price then (`ahead` = the recorded level's size at arrival).
* **Trades**: a recorded trade whose taker sold YES at our bid's price (bought YES at our ask's) would have reached
  our price level; its size consumes `ahead` first, and what is left fills us (at our price, as a maker).  A trade
  *through* our price (the taker sold below our bid) means nobody else was at our price when it printed (else the
  print would have been there): the taker's order was marketable at our price, and by price priority it would have
  met us first, so every model fills from it too (after whatever `ahead` is still counted).  That fill is certain,
  not a guess about the queue; only the taker's later behaviour (it traded with us instead of deeper) is not
  modelled, as with any fill.  A trade whose taker side the exchange did not say is not used.  Several of our orders
  at one level share a trade in arrival order.
* **Cancels**: a level that shrinks while no trade explains it is someone cancelling.  The trade print and the book
  change of one execution come as two messages in either order, so a decrease waits up to `window` (1 s) of
  recorded time for a trade at that price to claim it (a trade whose decrease is still to come is remembered the
  same way); only what is left unclaimed counts as cancelled:

  - `conservative`: cancels come from behind us first; the queue ahead shrinks only when the level itself holds
    less than it (`ahead <= level`).  Fills only from trades (at our price, or through it).
  - `probabilistic`: a cancel of `d` from a level of `L` others, `ahead` of them in front of us, takes
    `d x ahead / L` (rounded) from in front of us (pro rata by position in the queue).  A fill also comes when the
    recorded book's other side reaches through our price (in the recording a resting order there met nobody;
    with us there it would have met us): that size first consumes `ahead`, the rest fills us, each contract of a
    crossing order counted once while the cross lasts.
  - `touch` (the optimistic bound, named as such in the report): the whole remaining order fills as soon as a
    trade prints at or through its price or the other side reaches it; no queue.

* **Stale books**: nothing fills and nothing moves the queue while the book is stale (a gap, a disconnect, the end of
  a session); at the next snapshot `ahead` is capped by the fresh level (an order that arrived meanwhile joins
  behind all of it).
* **Taking** (immediate-or-cancel orders): the order takes the recorded book's other side from its best price up to
  its limit, at each level's price, as a taker; what it takes stays taken (`taken`: the recorded level is smaller
  by it for later takers of ours until the level holds less than that).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Callable

from kalshi_trading.marketdata.book import LocalBook

ONE_DOLLAR = 10_000
WINDOW_US = 1_000_000  # how long a book decrease waits for a trade print to claim it (and the other way round)


class QueueModel(StrEnum):
    """How our resting orders get filled (see the module docstring)."""

    CONSERVATIVE = "conservative"
    PROBABILISTIC = "probabilistic"
    TOUCH = "touch"

    @property
    def optimistic(self) -> bool:
        return self is QueueModel.TOUCH


@dataclass(eq=False)
class Resting:
    """One of our orders on the book: its side, price and remaining size, and where it stands in the queue."""

    key: str
    bid: bool  # True: a YES bid at `price`; False: a YES ask at `price` (a NO bid at 1 - price)
    price: int
    remaining: int
    ahead: int = 0  # others' size in front of us at our price
    level: int = 0  # others' size at our price when last seen
    queued: bool = True  # False while the book was stale at arrival: `ahead` unknown until the next snapshot
    pending: deque = field(default_factory=deque)  # (time us, size, level before) decreases no trade claimed yet
    pending_size: int = 0
    printed: int = 0  # size of trades at our price whose book decrease has not been seen yet
    cross_taken: int = 0  # size of a crossing other side already counted (probabilistic)

    @property
    def yes_level(self) -> bool:
        """Which side of the recorded book our price level is on: YES bids for a bid, NO bids for an ask."""
        return self.bid

    @property
    def level_price(self) -> int:
        return self.price if self.bid else ONE_DOLLAR - self.price


@dataclass(frozen=True)
class Match:
    """A fill the model found: `count` of `order` at `price` (YES, units), as a maker or a taker."""

    order: Resting
    count: int
    price: int
    taker: bool = False


class QueueBook:
    """Our resting orders on one market's recorded book, and the rules that fill them."""

    def __init__(self, book: LocalBook, model: QueueModel, now: Callable[[], int], window_us: int = WINDOW_US):
        self.book = book
        self.model = model
        self.now = now  # recorded time, microseconds (read only when a level at our price moves)
        self.window_us = window_us
        self.orders: list[Resting] = []  # arrival order (queue priority among our own)
        self.taken: dict[tuple[bool, int], int] = {}  # (YES side?, level price) -> size our takers consumed

    # ---------------------------------------------------------------- our orders
    def crosses(self, bid: bool, price: int) -> bool:
        """Whether an order at `price` would trade at once against the (live) recorded book's other side."""
        book = self.book
        if book.stale:
            return False
        if bid:
            ask = book.best_ask_units
            return ask != 0 and ask <= price
        best = book.best_bid_units
        return best != 0 and best >= price

    def join(self, order: Resting) -> None:
        """The order reaches the book: behind everything resting at its price now."""
        size = self.book.size_at(order.yes_level, order.level_price)
        order.level = order.ahead = size
        order.queued = not self.book.stale
        order.pending.clear()
        order.pending_size = order.printed = order.cross_taken = 0
        self.orders.append(order)

    def leave(self, order: Resting) -> None:
        try:
            self.orders.remove(order)
        except ValueError:
            pass

    def take(self, bid: bool, limit: int, count: int) -> list[tuple[int, int]]:
        """An immediate-or-cancel order: [(YES price, size)] it takes from the other side, best price first."""
        book = self.book
        if book.stale or count <= 0:
            return []
        yes_bids, no_bids = book.levels_units()
        if bid:  # buy YES: the YES asks (NO bids at 1 - price), lowest YES price first
            levels = sorted(((ONE_DOLLAR - p, False, p, s) for p, s in no_bids.items() if ONE_DOLLAR - p <= limit))
        else:  # sell YES: the YES bids, highest first
            levels = sorted(((p, True, p, s) for p, s in yes_bids.items() if p >= limit), reverse=True)
        out = []
        for yes_price, side, level_price, size in levels:
            key = (side, level_price)
            taken = min(self.taken.get(key, 0), size)
            n = min(count, size - taken)
            if n > 0:
                out.append((yes_price, n))
                self.taken[key] = taken + n
                count -= n
            if count == 0:
                break
        return out

    # ---------------------------------------------------------------- what the recording does
    def on_book(self) -> list[Match]:
        """The book changed: levels at our prices (joins, cancels), and what a crossing other side fills."""
        if self.book.stale:
            return []
        out: list[Match] = []
        touch, probabilistic = self.model is QueueModel.TOUCH, self.model is QueueModel.PROBABILISTIC
        for o in self.orders:
            if not o.queued:
                self._requeue(o)
                continue
            size = self.book.size_at(o.bid, o.price if o.bid else ONE_DOLLAR - o.price)
            if size != o.level:
                self._level(o, size, self.now())
            if o.pending:
                self._expire(o, self.now())
            if touch:
                if self.crosses(o.bid, o.price):
                    out.append(Match(o, o.remaining, o.price))
            elif probabilistic:
                self._cross(o, out)
        return out

    def on_trade(self, price: int, count: int, taker_bid: bool | None) -> list[Match]:
        """A recorded trade at `price` (YES) of `count`; `taker_bid`: the taker bought YES (None: not said)."""
        if self.book.stale or taker_bid is None:
            return []
        out: list[Match] = []
        given = 0  # what our earlier orders at this level already took of the trade
        for o in self.orders:
            if not o.queued:
                continue
            if o.bid:
                hits = not taker_bid and price <= o.price
            else:
                hits = taker_bid and price >= o.price
            if not hits:
                continue
            if self.model is QueueModel.TOUCH:
                out.append(Match(o, o.remaining, o.price))
                continue
            if price == o.price:
                if o.pending:
                    self._expire(o, self.now())
                self._claim(o, count)
            avail = count - given
            consumed = min(o.ahead, avail)
            o.ahead -= consumed
            n = min(o.remaining, avail - consumed)
            if n > 0:
                out.append(Match(o, n, o.price))
                given += n
        return out

    def on_resync(self) -> None:
        """A fresh snapshot after a stale spell: each order's queue is capped by its level as it is now."""
        for o in self.orders:
            self._requeue(o)

    # ---------------------------------------------------------------- the rules
    def _requeue(self, o: Resting) -> None:
        size = self.book.size_at(o.yes_level, o.level_price)
        o.ahead = size if not o.queued else min(o.ahead, size)
        o.level = size
        o.queued = True
        o.pending.clear()
        o.pending_size = o.printed = o.cross_taken = 0

    def _level(self, o: Resting, size: int, now: int) -> None:
        """Others' size at our price went from `o.level` to `size`: a join behind us, or a decrease that is an
        execution already printed, or one to be explained by a trade (else a cancel, once the window passes)."""
        before, o.level = o.level, size
        if size > before:
            return
        d = before - size
        explained = min(d, o.printed)
        o.printed -= explained
        d -= explained
        if d:
            o.pending.append((now, d, before - explained))
            o.pending_size += d
        if o.ahead > o.level + o.pending_size:
            o.ahead = o.level + o.pending_size

    def _claim(self, o: Resting, count: int) -> None:
        """A trade at our price explains decreases already seen (oldest first); the rest is still to come."""
        while count and o.pending:
            ts, d, before = o.pending[0]
            used = min(d, count)
            count -= used
            o.pending_size -= used
            if used == d:
                o.pending.popleft()
            else:
                o.pending[0] = (ts, d - used, before - used)
        o.printed += count

    def _expire(self, o: Resting, now: int) -> None:
        """Decreases no trade claimed within the window are cancels (see the models)."""
        while o.pending and o.pending[0][0] <= now - self.window_us:
            _, d, before = o.pending.popleft()
            o.pending_size -= d
            if self.model is QueueModel.PROBABILISTIC and before > 0 and o.ahead > 0:
                o.ahead -= min(o.ahead, (2 * d * o.ahead + before) // (2 * before))  # d x ahead / before, rounded
        if o.ahead > o.level + o.pending_size:
            o.ahead = o.level + o.pending_size

    def _cross(self, o: Resting, out: list[Match]) -> None:
        """Probabilistic: the other side reaching through our price meets the queue, then us."""
        if not self.crosses(o.bid, o.price):
            o.cross_taken = 0
            return
        if o.bid:
            size = self.book.size_through(False, ONE_DOLLAR - o.price)
        else:
            size = self.book.size_through(True, o.price)
        avail = size - o.cross_taken
        if avail <= 0:
            return
        consumed = min(o.ahead, avail)
        o.ahead -= consumed
        n = min(o.remaining, avail - consumed)
        o.cross_taken += consumed + n
        if n > 0:
            out.append(Match(o, n, o.price))
