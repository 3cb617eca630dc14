"""Changing resting orders: amend (re-price / resize, may cross) and decrease.

A mixin of `Engine` (kept apart to keep modules small); it uses the engine's matching and
collateral helpers.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from kalshi_trading.sim.book import Book
from kalshi_trading.sim.clock import Clock
from kalshi_trading.sim.errors import SimError, bad_request, not_found
from kalshi_trading.sim.groups import OrderGroup
from kalshi_trading.sim.market import Market, fee_mu
from kalshi_trading.sim.records import BID, EXECUTED, PU, RESTING, Account, Order

if TYPE_CHECKING:
    from kalshi_trading.sim.feed import Feed


class OrderChanges:
    """Amend and decrease; `Engine` provides the state and the helpers declared here."""

    clock: Clock
    books: dict[str, Book]
    counter: int
    version: int
    observer: Feed | None
    _tripped: list[OrderGroup]

    if TYPE_CHECKING:  # implemented by Engine
        def user_order(self, account: Account, order_id: str) -> Order: ...
        def _trading_check(self, ticker: str, allow_paused: bool = False) -> Market: ...
        def cancel_order(self, order: Order) -> int: ...
        def _cover(self, order: Order) -> None: ...
        def _uncover(self, order: Order) -> None: ...
        def _match(self, order: Order, market: Market, book: Book) -> None: ...
        def _finish(self, order: Order, status: str) -> None: ...
        def fire_groups(self) -> None: ...

        @staticmethod
        def reservation(order: Order, market: Market) -> int: ...

        @staticmethod
        def _crosses(book: Book, side: str, price: int) -> bool: ...

    def decrease(self, account: Account, order_id: str, reduce_by: int | None, reduce_to: int | None) -> Order:
        order = self.user_order(account, order_id)
        if order.status != RESTING:
            raise not_found("order is no longer resting", order_id)
        market = self._trading_check(order.ticker, allow_paused=True)
        if (reduce_by is None) == (reduce_to is None):
            raise bad_request("give exactly one of reduce_by and reduce_to", "invalid_parameters")
        if reduce_by is not None:
            if reduce_by <= 0:
                raise bad_request("reduce_by must be positive", "invalid_order_size")
            target = max(0, order.remaining - reduce_by)
        else:
            assert reduce_to is not None  # exactly one of the two was given
            if reduce_to < 0:
                raise bad_request("reduce_to must not be negative", "invalid_order_size")
            target = min(order.remaining, reduce_to)
        self._shrink(order, target, market)
        return order

    def _shrink(self, order: Order, target: int, market: Market) -> None:
        if target <= 0:
            self.cancel_order(order)
            return
        by = order.remaining - target
        if by <= 0:
            return
        self.books[order.ticker].reduce(order, by)
        order.remaining = target
        order.initial -= by
        if order.covered > target:
            self._uncover(order)
            self._cover(order)
        self._rereserve(order, market)
        order.updated_ms = self.clock.now_ms()
        self.version += 1
        if self.observer is not None:
            self.observer.order_changed(order)

    def _rereserve(self, order: Order, market: Market) -> None:
        need = self.reservation(order, market)
        order.account.reserved += need - order.reserved
        order.reserved = need

    def amend(self, account: Account, order_id: str, ticker: str, side: str, price: int, count: int,
              client_order_id: str | None = None, updated_client_order_id: str | None = None) -> Order:
        """Change price and/or total count (filled + remaining); may cross and fill."""
        order = self.user_order(account, order_id)
        if order.status != RESTING:
            raise not_found("order is no longer resting", order_id)
        if ticker != order.ticker:
            raise bad_request("ticker does not match the order", "order_ticker_mismatch", ticker)
        if side != order.side:
            raise bad_request("side does not match the order", "order_side_mismatch", side)
        if client_order_id and client_order_id != order.client_order_id:
            raise bad_request("client_order_id does not match the order", "order_id_and_client_order_id_mismatch")
        market = self._trading_check(order.ticker)
        if price not in market.valid_prices:
            raise bad_request("price is not on the market's price grid", "invalid_price", str(price / PU))
        if count <= order.filled:
            raise bad_request("count must exceed the filled count", "invalid_order_size")
        if updated_client_order_id and updated_client_order_id in account.client_ids:
            raise SimError(409, "order_already_exists", "client_order_id already used", updated_client_order_id)
        new_remaining = count - order.filled
        book = self.books[order.ticker]
        if price == order.price and new_remaining <= order.remaining:
            self._shrink(order, new_remaining, market)
        else:
            if order.post_only and self._crosses(book, side, price):
                raise bad_request("post only order would cross the book", "invalid_order", "post only cross")
            pos = account.positions.get(order.ticker)
            free = order.covered
            if pos is not None:
                free += max(0, (-pos.pos - pos.committed_no) if side == BID else (pos.pos - pos.committed_yes))
            uncovered = new_remaining - min(new_remaining, free)
            leg = price if side == BID else PU - price
            need = leg * uncovered + fee_mu(uncovered, price, market.taker_ratio) if uncovered > 0 else 0
            if need - order.reserved > account.cash - account.reserved:
                raise bad_request("insufficient balance for this order", "insufficient_balance")
            # Re-price or grow: leave the queue and come back as a new arrival (may cross).
            book.reduce(order, order.remaining)
            self._requeue(order, book)
            self._uncover(order)
            self.counter += 1
            order.seq = self.counter
            order.price = price
            order.initial = count
            order.remaining = new_remaining
            self._cover(order)
            self._rereserve(order, market)
            self._match(order, market, book)
            if order.status == RESTING:
                if order.remaining:
                    book.add(order)
                else:
                    self._finish(order, EXECUTED)
        if updated_client_order_id:
            account.client_ids.add(updated_client_order_id)
            order.client_order_id = updated_client_order_id
        order.updated_ms = self.clock.now_ms()
        self.version += 1
        if self.observer is not None:
            self.observer.order_changed(order)
        if self._tripped:
            self.fire_groups()
        return order

    @staticmethod
    def _requeue(order: Order, book: Book) -> None:
        """Drop `order` from its queue (the object stays live, so lazy skipping cannot tell)."""
        level = book.level(order.side, order.price)
        if level is not None:
            try:
                level.queue.remove(order)
            except ValueError:
                pass
