"""What the loop holds back, and until when: unsettled books, post-only cross back-offs, the order-rate wait,
withheld orders.

- A book is decided on only when it is settled (`BookWatch`): not crossed or locked (no exchange shows such a
  book: the view is caught mid-update), and showing what the bot knows happened (its own last write, a fill or
  a vanished order it learned of before the feed showed it), for at most ECHO_WAIT wall seconds.

- A post-only order (or amend) the exchange rejected as crossing proves the local book is behind the exchange.
  That side of that market sends nothing more until a newer book has arrived (`blocked`), and its next price is
  then one tick less aggressive than the rejected one (`clamp`: a bid at most one tick below, an ask at least one
  tick above) until an order on that side rests again.
- A `rate_limit` denial means the order-rate window is full: the loop sends no order or amend until the window
  reopens (`rate_waiting`), instead of asking the risk engine again on every pass.
- A withheld order (one the risk engine denied, or one held back by the rate wait) is counted once, however
  many passes it stays withheld: it is the same order until it is sent or the strategy stops wanting it.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from decimal import Decimal
from typing import Callable, Iterable, Mapping

from kalshi_trading.auto.ledger import OrderRecord
from kalshi_trading.auto.types import BookView, TargetOrder
from kalshi_trading.models import BookSide
from kalshi_trading.money import PriceGrid

ECHO_WAIT = 0.25  # wall seconds a market waits for the book to show what the bot knows happened
Side = tuple[str, BookSide]  # (ticker, side)
Slot = tuple[str, BookSide, str]  # (ticker, side, tag): one wanted order


@dataclass(frozen=True)
class BookMark:
    """Which book a decision saw: the loop's count of book events for the market, and the book object (a feed
    that replaces frozen views instead of sending events still shows a newer book as a different one)."""

    seen: int
    book: BookView | None

    def same(self, other: "BookMark") -> bool:
        return self.seen == other.seen and self.book == other.book


def crossed(book: BookView) -> bool:
    """Best bid at or above best ask: no exchange shows such a book, so the view is caught mid-update."""
    bid, ask = book.best_bid, book.best_ask
    return bid is not None and ask is not None and bid >= ask


def crosses_own(target: TargetOrder, orders: Iterable[OrderRecord]) -> bool:
    """A resting quote at the target's price would meet one of the bot's own orders on the other side."""
    for o in orders:
        if o.ticker == target.ticker and o.book_side is not target.book_side:
            if o.yes_price <= target.yes_price if target.book_side is BookSide.BID else o.yes_price >= target.yes_price:
                return True
    return False


class BookWatch:
    """Which book a decision sees (`mark`), and whether it shows what the bot knows happened (`expect`)."""

    def __init__(self, books: Mapping[str, BookView], wall: Callable[[], float]):
        self.books = books
        self.wall = wall
        self.seen: dict[str, int] = {}  # book events handled per market
        self.expected: dict[str, tuple[BookMark, float]] = {}  # market -> (book then, wall time then)

    def mark(self, ticker: str) -> BookMark:
        return BookMark(self.seen.get(ticker, 0), self.books.get(ticker))

    def saw(self, ticker: str) -> None:
        """A book event for `ticker` was handled."""
        self.seen[ticker] = self.seen.get(ticker, 0) + 1

    def expect(self, ticker: str) -> None:
        """The exchange changed `ticker`'s book in a way the bot knows of: wait for the book to move on."""
        self.expected[ticker] = (self.mark(ticker), self.wall())

    def waiting(self, ticker: str) -> bool:
        """The book does not show the expected change yet (and ECHO_WAIT has not passed)."""
        expected = self.expected.get(ticker)
        if expected is None:
            return False
        mark, at = expected
        if mark.same(self.mark(ticker)) and self.wall() - at < ECHO_WAIT:
            return True
        del self.expected[ticker]
        return False


@dataclass(frozen=True)
class CrossBackoff:
    """A post-only cross at `price`, decided on the book `mark`."""

    price: Decimal
    mark: BookMark


def slot(target: TargetOrder) -> Slot:
    return (target.ticker, target.book_side, target.tag)


def back_off(target: TargetOrder, rejected: Decimal, grid: PriceGrid) -> TargetOrder | None:
    """`target` no more aggressive than one tick behind the `rejected` price (None: no such price on the grid)."""
    if target.book_side is BookSide.BID:
        limit = grid.next_below(rejected)
        if limit is None:
            return None
        return target if target.yes_price <= limit else replace(target, yes_price=limit)
    limit = grid.next_above(rejected)
    if limit is None:
        return None
    return target if target.yes_price >= limit else replace(target, yes_price=limit)


class Pacing:
    """The loop's memory of what it must not send yet (see the module docstring)."""

    def __init__(self) -> None:
        self.backoffs: dict[Side, CrossBackoff] = {}
        self.rate_reopens: datetime | None = None
        self.withheld: dict[Slot, str] = {}  # -> the rule that first withheld it

    # --- post-only crosses ----------------------------------------------------------------------------
    def crossed(self, target: TargetOrder, price: Decimal, mark: BookMark) -> None:
        """The exchange rejected an order at `price` on `target`'s side as crossing; `mark`: the book decided on."""
        self.backoffs[(target.ticker, target.book_side)] = CrossBackoff(price, mark)

    def blocked(self, ticker: str, side: BookSide, mark: BookMark) -> bool:
        """Nothing may be sent on this side: its last cross was decided on this very book."""
        b = self.backoffs.get((ticker, side))
        return b is not None and b.mark.same(mark)

    def clamp(self, targets: Iterable[TargetOrder], grid: PriceGrid) -> list[TargetOrder]:
        """The targets, each one tick behind its side's last rejected price (dropped when none is left)."""
        out = []
        for t in targets:
            b = self.backoffs.get((t.ticker, t.book_side))
            adjusted = t if b is None else back_off(t, b.price, grid)
            if adjusted is not None:
                out.append(adjusted)
        return out

    def rested(self, ticker: str, side: BookSide) -> None:
        """An order on this side rests again: the back-off is over."""
        self.backoffs.pop((ticker, side), None)

    # --- the order-rate window ------------------------------------------------------------------------
    def wait_for_rate(self, reopens: datetime | None) -> None:
        self.rate_reopens = reopens

    def rate_waiting(self, now: datetime) -> bool:
        if self.rate_reopens is None:
            return False
        if now >= self.rate_reopens:
            self.rate_reopens = None
            return False
        return True

    # --- withheld orders ------------------------------------------------------------------------------
    def withhold(self, target: TargetOrder, rule: str) -> bool:
        """Note `target` as withheld by `rule`; True the first time (a new withheld order, to be counted)."""
        key = slot(target)
        if key in self.withheld:
            return False
        self.withheld[key] = rule
        return True

    def release(self, target: TargetOrder) -> None:
        """`target` was sent: a later denial on its slot is a new withheld order."""
        self.withheld.pop(slot(target), None)

    def still_wanted(self, ticker: str, targets: Iterable[TargetOrder]) -> None:
        """Forget the withheld orders of `ticker` the strategy no longer wants."""
        wanted = {slot(t) for t in targets}
        for key in [k for k in self.withheld if k[0] == ticker and k not in wanted]:
            del self.withheld[key]
