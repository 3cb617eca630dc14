"""The matching engine and the ledger it drives.

Integer units throughout (see `records`).  Price-time priority, fills at the resting price,
GTC / IOC / FoK, post-only, reduce-only, both self-trade-prevention modes, amend, decrease.

Collateral: a bid reserves price x count, an ask (1 - price) x count, each only for the part of
the count not covered by an opposite position held (selling YES you own needs no collateral);
plus the taker fee of that uncovered part at the limit price.  Fees are rounded up per fill, so
a run of partial fills can cost up to $0.0001 per fill more than the reservation; when the
account has no free cash for that overage it is waived (fee_cost is then that much lower).
"""

from __future__ import annotations

import heapq
import logging
import threading
from collections import deque
from typing import TYPE_CHECKING, Callable

from kalshi_trading.sim.book import Book
from kalshi_trading.sim.changes import OrderChanges
from kalshi_trading.sim.clock import Clock
from kalshi_trading.sim.errors import SimError, bad_request, not_found
from kalshi_trading.sim.groups import OrderGroup
from kalshi_trading.sim.market import Market, fee_mu
from kalshi_trading.sim.records import (
    ASK, BID, CANCELED, EXECUTED, FOK, GTC, IOC, PU, RESTING, STP_MAKER, STP_TAKER,
    Account, Fill, Order, Position, Trade,
)

if TYPE_CHECKING:
    from kalshi_trading.sim.feed import Feed  # only while someone watches; not imported by a bare engine

log = logging.getLogger(__name__)

TRADES_KEPT = 200  # public trades remembered per market
TIFS = (GTC, IOC, FOK)
STPS = (STP_TAKER, STP_MAKER)


class Engine(OrderChanges):
    """Books, accounts and orders.  Not thread-safe by itself: callers hold `lock`."""

    def __init__(self, clock: Clock, id_prefix: str = "00000000-0000-4000-8000-"):
        self.clock = clock
        self.lock = threading.RLock()
        self.markets: dict[str, Market] = {}
        self.books: dict[str, Book] = {}
        self.accounts: dict[str, Account] = {}
        self.by_key: dict[str, Account] = {}
        self.orders: dict[str, Order] = {}
        self.trades: dict[str, deque[Trade]] = {}
        self.expiries: list[tuple[int, int, Order]] = []
        self.id_prefix = id_prefix
        self.counter = 0
        self.version = 0  # bumped on every change; the store saves when it moved
        self.on_trade: Callable[[str, int, int, int], None] | None = None  # (ticker, ts, price, count)
        self.groups: dict[str, OrderGroup] = {}  # order_group_id -> OrderGroup
        self._tripped: list[OrderGroup] = []  # groups that hit their cap during the current action
        # The WebSocket feed while anyone is subscribed, else None (see feed.Feed for the hooks);
        # every hook sits behind one `is not None` test, so an unwatched engine pays ~nothing.
        self.observer: Feed | None = None

    # ---- ids, accounts, markets -------------------------------------------------------------

    def next_id(self) -> str:
        self.counter += 1
        return f"{self.id_prefix}{self.counter:012x}"

    def add_account(self, account: Account) -> Account:
        self.accounts[account.account_id] = account
        if account.key_id:
            self.by_key[account.key_id] = account
        self.version += 1
        return account

    def add_market(self, market: Market) -> None:
        self.markets[market.ticker] = market
        book = self.books[market.ticker] = Book(market.ticker)
        self.trades.setdefault(market.ticker, deque(maxlen=TRADES_KEPT))
        self.version += 1
        if self.observer is not None:
            self.observer.market_added(market.ticker, book)

    def market(self, ticker: str) -> Market:
        market = self.markets.get(ticker)
        if market is None:
            raise not_found("market not found", ticker)
        return market

    def user_order(self, account: Account, order_id: str) -> Order:
        order = self.orders.get(order_id)
        if order is None or order.account is not account:
            raise not_found("order not found", order_id)
        return order

    # ---- creating orders --------------------------------------------------------------------

    def place(self, account: Account, ticker: str, side: str, price: int, count: int, tif: str = GTC,
              stp: str = STP_TAKER, client_order_id: str = "", expiration_s: int | None = None,
              post_only: bool = False, reduce_only: bool = False, order_group_id: str | None = None,
              cancel_on_pause: bool = False) -> Order:
        """Validate, reserve, match and rest (or cancel) one order; raise SimError when refused."""
        market = self.markets.get(ticker)
        if market is None:
            raise not_found("market not found", ticker)
        now = self.clock.now_ms()
        if market.status != "active" or now >= market.close_ms:
            raise bad_request("market is not open for trading", "market_closed", market.status)
        if side != BID and side != ASK:
            raise bad_request("side must be bid or ask", "invalid_parameters", str(side))
        if price not in market.valid_prices:
            raise bad_request("price is not on the market's price grid", "invalid_price", str(price / PU))
        if count <= 0:
            raise bad_request("count must be a positive multiple of 0.01", "invalid_order_size")
        if tif not in TIFS:
            raise bad_request("unknown time_in_force", "invalid_parameters", str(tif))
        if stp not in STPS:
            raise bad_request("unknown self_trade_prevention_type", "invalid_parameters", str(stp))
        expiration_ms = None
        if expiration_s is not None:
            if tif != GTC:
                raise bad_request("expiration_time is only allowed with good_till_canceled", "invalid_order",
                                  "expiration_time with " + tif)
            expiration_ms = int(expiration_s) * 1000
            if expiration_ms <= now:
                raise bad_request("expiration_time is in the past", "invalid_order", "expiration_time in the past")
        if client_order_id and client_order_id in account.client_ids:
            raise SimError(409, "order_already_exists", "client_order_id already used", client_order_id)
        if order_group_id is not None:
            group = self.groups.get(order_group_id)
            if group is None or group.account is not account:
                raise not_found("order group not found", str(order_group_id))
            if group.triggered:
                raise bad_request("the order group is triggered; reset it first", "invalid_order",
                                  "order group triggered")
        book = self.books[ticker]
        if post_only and self._crosses(book, side, price):
            raise bad_request("post only order would cross the book", "invalid_order", "post only cross")
        if reduce_only:
            count = min(count, self._reducible(account, ticker, side))
            if count <= 0:
                raise bad_request("reduce only order would increase the position", "invalid_order",
                                  "reduce only")
        order = Order(self.next_id(), self.counter, account, ticker, side, price, count, tif, stp, now,
                      client_order_id)
        order.post_only = post_only
        order.reduce_only = reduce_only
        order.expiration_ms = expiration_ms
        order.order_group_id = order_group_id
        order.cancel_on_pause = cancel_on_pause
        if not account.house:
            self._cover(order)
            need = self.reservation(order, market)
            if need > account.cash - account.reserved:
                self._uncover(order)
                raise bad_request("insufficient balance for this order", "insufficient_balance",
                                  f"needs {need / 1e6:.6f}")
            order.reserved = need
            account.reserved += need
            account.orders.append(order)
        if client_order_id:
            account.client_ids.add(client_order_id)
        self.orders[order.order_id] = order
        self.version += 1
        if tif == FOK and self._fillable(book, order) < count:
            self._finish(order, CANCELED)
            return order
        self._match(order, market, book)
        if order.status == RESTING:
            if order.remaining and tif == GTC:
                book.add(order)
                if expiration_ms is not None:
                    heapq.heappush(self.expiries, (expiration_ms, order.seq, order))
            else:
                self._finish(order, EXECUTED if order.remaining == 0 else CANCELED)
        if self.observer is not None and not account.house:
            self.observer.order_changed(order)
        if self._tripped:
            self.fire_groups()
        return order

    def fire_groups(self) -> None:
        """Cancel the resting orders of groups that hit their cap (after matching, never during)."""
        tripped, self._tripped = self._tripped, []
        for group in tripped:
            self.cancel_group_orders(group)

    def cancel_group_orders(self, group) -> int:
        n = 0
        for order in list(group.account.orders):
            if order.status == RESTING and order.order_group_id == group.group_id:
                self.cancel_order(order)
                n += 1
        return n

    @staticmethod
    def _crosses(book: Book, side: str, price: int) -> bool:
        if side == BID:
            return bool(book.ask_prices) and book.ask_prices[0] <= price
        return bool(book.bid_prices) and book.bid_prices[-1] >= price

    def _reducible(self, account: Account, ticker: str, side: str) -> int:
        pos = account.positions.get(ticker)
        if pos is None:
            return 0
        if side == BID:
            return max(0, -pos.pos - pos.committed_no)
        return max(0, pos.pos - pos.committed_yes)

    def _fillable(self, book: Book, order: Order) -> int:
        """Contracts a FoK order could take now, honouring its STP mode."""
        total = 0
        if order.side == BID:
            prices, levels, ok = book.ask_prices, book.asks, (lambda p: p <= order.price)
        else:
            prices, levels, ok = list(reversed(book.bid_prices)), book.bids, (lambda p: p >= order.price)
        for price in prices:
            if not ok(price):
                break
            for other in levels[price].queue:
                if other.status != RESTING:
                    continue
                if other.account is order.account:
                    if order.stp == STP_TAKER:
                        return total
                    continue
                total += other.remaining
                if total >= order.remaining:
                    return total
        return total

    # ---- matching ---------------------------------------------------------------------------

    def _match(self, order: Order, market: Market, book: Book) -> None:
        if order.side == BID:
            prices, levels = book.ask_prices, book.asks
        else:
            prices, levels = book.bid_prices, book.bids
        limit = order.price
        bid = order.side == BID
        while order.remaining and prices:
            best = prices[0] if bid else prices[-1]
            if (best > limit) if bid else (best < limit):
                return
            level = levels[best]
            queue = level.queue
            while order.remaining and level.qty > 0:
                resting = queue[0]
                if resting.status != RESTING:
                    queue.popleft()
                    continue
                if resting.account is order.account:
                    if order.stp == STP_TAKER:
                        self._finish(order, CANCELED)
                        return
                    queue.popleft()
                    self.cancel_order(resting)
                    continue
                count = order.remaining if order.remaining < resting.remaining else resting.remaining
                self._execute(order, resting, count, best, market, book)
                if resting.remaining == 0:
                    queue.popleft()

    def _execute(self, taker: Order, maker: Order, count: int, price: int, market: Market, book: Book) -> None:
        now = self.clock.now_ms()
        taker.remaining -= count
        taker.filled += count
        maker.remaining -= count
        maker.filled += count
        book.reduce(maker, count)
        taker_fee = fee_mu(count, price, market.taker_ratio)
        maker_fee = fee_mu(count, price, market.maker_ratio) if market.maker_ratio[0] else 0
        trade_id = self.next_id()
        ticker = market.ticker
        oi = self._apply(taker, count, price, taker_fee, True, trade_id, now)
        oi += self._apply(maker, count, price, maker_fee, False, trade_id, now)
        if maker.remaining == 0:
            self._finish(maker, EXECUTED)
        market.last_price = price
        market.volume += count
        market.open_interest += oi
        recent = market.recent
        if recent and recent[-1][0] // 60_000 == now // 60_000:  # one entry per minute keeps it small
            recent[-1] = (recent[-1][0], recent[-1][1] + count)
        else:
            recent.append((now, count))
        trade = Trade(trade_id, ticker, count, price, taker.side, now)
        self.trades[ticker].append(trade)
        if self.on_trade is not None:
            self.on_trade(ticker, now, price, count)
        if self.observer is not None:
            self.observer.traded(trade, taker, maker)

    def _apply(self, order: Order, count: int, price: int, fee: int, is_taker: bool, trade_id: str,
               now: int) -> int:
        """Book one side of a fill on its account; return the change in open interest."""
        account = order.account
        ticker = order.ticker
        pos = account.positions.get(ticker)
        if pos is None:
            pos = account.positions[ticker] = Position(ticker)
        before = pos.pos if pos.pos > 0 else 0
        bid = order.side == BID
        if account.house:
            pos.pos += count if bid else -count
            order.updated_ms = now
            return (pos.pos if pos.pos > 0 else 0) - before
        leg = price if bid else PU - price
        used = order.covered if order.covered < count else count
        order.covered -= used
        if bid:
            opposite = -pos.pos if pos.pos < 0 else 0
            pos.committed_no -= used
            free = opposite - pos.committed_no
        else:
            opposite = pos.pos if pos.pos > 0 else 0
            pos.committed_yes -= used
            free = opposite - pos.committed_yes
        closing = count if count < free else free
        if closing > 0:
            proceeds = (PU - leg) * closing
            removed = pos.cost if closing == opposite else pos.cost * closing // opposite
            pos.cost -= removed
            pos.realized += proceeds - removed
            account.cash += proceeds
        else:
            closing = 0
        opening = count - closing
        if opening:
            cost = leg * opening
            pos.cost += cost
            account.cash -= cost
        pos.pos += count if bid else -count
        pos.total_traded += leg * count
        pos.traded_count += count
        need = self.reservation(order, self.markets[ticker])
        account.reserved += need - order.reserved
        order.reserved = need
        short = account.reserved - (account.cash - fee)
        if short > 0:
            fee -= short if short < fee else fee
        account.cash -= fee
        pos.fees += fee
        pos.updated_ms = now
        if is_taker:
            order.taker_cost += leg * count
            order.taker_fees += fee
        else:
            order.maker_cost += leg * count
            order.maker_fees += fee
        order.updated_ms = now
        if order.order_group_id is not None:
            group = self.groups.get(order.order_group_id)
            if group is not None and group.record(now, count):
                self._tripped.append(group)
        fill = Fill(trade_id, order.order_id, ticker, order.side, count, price, is_taker, fee, now)
        account.fills.append(fill)
        if self.observer is not None:
            self.observer.filled(order, fill, pos)
        return (pos.pos if pos.pos > 0 else 0) - before

    # ---- collateral -------------------------------------------------------------------------

    @staticmethod
    def reservation(order: Order, market: Market) -> int:
        """Cash held for an order's remaining count (mu); zero for house accounts."""
        if order.account.house or order.status != RESTING:
            return 0
        uncovered = order.remaining - order.covered
        if uncovered <= 0:
            return 0
        leg = order.price if order.side == BID else PU - order.price
        return leg * uncovered + fee_mu(uncovered, order.price, market.taker_ratio)

    def _cover(self, order: Order) -> None:
        pos = order.account.positions.get(order.ticker)
        if pos is None:
            return
        if order.side == BID:
            free = -pos.pos - pos.committed_no
            covered = min(order.remaining, free) if free > 0 else 0
            pos.committed_no += covered
        else:
            free = pos.pos - pos.committed_yes
            covered = min(order.remaining, free) if free > 0 else 0
            pos.committed_yes += covered
        order.covered = covered

    def _uncover(self, order: Order) -> None:
        if order.covered:
            pos = order.account.positions[order.ticker]
            if order.side == BID:
                pos.committed_no -= order.covered
            else:
                pos.committed_yes -= order.covered
            order.covered = 0

    def _release(self, order: Order) -> None:
        account = order.account
        account.reserved -= order.reserved
        order.reserved = 0
        self._uncover(order)

    def _finish(self, order: Order, status: str) -> None:
        order.status = status
        order.remaining = 0 if status == CANCELED else order.remaining
        order.updated_ms = self.clock.now_ms()
        self._release(order)
        if order.account.house:
            self.orders.pop(order.order_id, None)
        elif self.observer is not None:
            self.observer.order_changed(order)

    # ---- cancel, decrease, amend ------------------------------------------------------------

    def cancel_order(self, order: Order) -> int:
        """Cancel a resting order; return the count removed."""
        reduced = order.remaining
        if order.status == RESTING and reduced:
            self.books[order.ticker].reduce(order, reduced)
        self._finish(order, CANCELED)
        self.version += 1
        return reduced

    def cancel(self, account: Account, order_id: str) -> tuple[Order, int]:
        """Cancel one of the account's resting orders; return it and the count removed."""
        order = self.user_order(account, order_id)
        if order.status != RESTING:
            raise not_found("order is no longer resting", order_id)
        self._trading_check(order.ticker, allow_paused=True)
        return order, self.cancel_order(order)

    def _trading_check(self, ticker: str, allow_paused: bool = False) -> Market:
        market = self.markets[ticker]
        ok = market.status == "active" or (allow_paused and market.status == "inactive")
        if not ok or self.clock.now_ms() >= market.close_ms:
            raise bad_request("market is not open for trading", "market_closed", market.status)
        return market

    # ---- bulk / lifecycle hooks -------------------------------------------------------------

    def cancel_all(self, account: Account, ticker: str | None = None) -> list[Order]:
        done = []
        for order in list(account.orders):
            if order.status == RESTING and (ticker is None or order.ticker == ticker):
                market = self.markets.get(order.ticker)
                if market is not None and market.status in ("active", "inactive"):
                    self.cancel_order(order)
                    done.append(order)
        return done

    def sweep_market(self, ticker: str) -> int:
        """Cancel every resting order in a market (close, pause of `cancel_order_on_pause`)."""
        book = self.books[ticker]
        live = list(book.live_orders())
        for order in live:
            self.cancel_order(order)
        fresh = self.books[ticker] = Book(ticker)
        fresh.tap = book.tap
        return len(live)

    def expire(self, now_ms: int) -> int:
        n = 0
        while self.expiries and self.expiries[0][0] <= now_ms:
            _, _, order = heapq.heappop(self.expiries)
            if order.status == RESTING and order.expiration_ms is not None and order.expiration_ms <= now_ms:
                self.cancel_order(order)
                n += 1
        return n

    def queue_position(self, order: Order) -> int:
        if order.status != RESTING:
            return 0
        return self.books[order.ticker].queue_ahead(order)
