"""One YES order book per market: sorted price levels of FIFO queues, in integer units.

Bids and asks are both kept at YES prices.  Cancelled orders are removed lazily: a level
keeps a live total and dead entries are skipped when they reach the front.
"""

from __future__ import annotations

from bisect import bisect_left, insort
from collections import deque
from typing import Callable

from kalshi_trading.sim.records import BID, PU, Order

Tap = Callable[[str, Order, str, int, int], None]  # (ticker, order, side, price, signed change in cu)


class Level:
    __slots__ = ("queue", "qty")

    def __init__(self) -> None:
        self.queue: deque[Order] = deque()
        self.qty = 0  # live remaining count at this price (cu)


class Book:
    __slots__ = ("ticker", "bid_prices", "ask_prices", "bids", "asks", "tap")

    def __init__(self, ticker: str):
        self.ticker = ticker
        # Called as tap(ticker, order, side, price, signed change in cu) on every change of a level's
        # total; set only while someone watches this market (the WebSocket feed), else None.
        self.tap: Tap | None = None
        self.bid_prices: list[int] = []  # ascending; best bid last
        self.ask_prices: list[int] = []  # ascending; best ask first
        self.bids: dict[int, Level] = {}
        self.asks: dict[int, Level] = {}

    def best_bid(self) -> int | None:
        return self.bid_prices[-1] if self.bid_prices else None

    def best_ask(self) -> int | None:
        return self.ask_prices[0] if self.ask_prices else None

    def add(self, order: Order) -> None:
        if order.side == BID:
            levels, prices = self.bids, self.bid_prices
        else:
            levels, prices = self.asks, self.ask_prices
        level = levels.get(order.price)
        if level is None:
            level = levels[order.price] = Level()
            insort(prices, order.price)
        level.queue.append(order)
        level.qty += order.remaining
        if self.tap is not None:
            self.tap(self.ticker, order, order.side, order.price, order.remaining)

    def reduce(self, order: Order, by: int) -> None:
        """The resting `order` shrank by `by` (fill, decrease or cancel); drop the level when empty."""
        levels = self.bids if order.side == BID else self.asks
        level = levels[order.price]
        level.qty -= by
        if self.tap is not None:
            self.tap(self.ticker, order, order.side, order.price, -by)
        if level.qty <= 0:
            del levels[order.price]
            prices = self.bid_prices if order.side == BID else self.ask_prices
            del prices[bisect_left(prices, order.price)]

    def level(self, side: str, price: int) -> Level | None:
        return (self.bids if side == BID else self.asks).get(price)

    def queue_ahead(self, order: Order) -> int:
        level = self.level(order.side, order.price)
        if level is None:
            return 0
        ahead = 0
        for other in level.queue:
            if other is order:
                break
            if other.status == "resting":
                ahead += other.remaining
        return ahead

    def depth(self, side: str, limit: int = 0) -> list[tuple[int, int]]:
        """(price, qty) levels of one side, best first; `limit` <= 0 means all."""
        if side == BID:
            prices = reversed(self.bid_prices)
            levels = self.bids
        else:
            prices = iter(self.ask_prices)
            levels = self.asks
        out = []
        for price in prices:
            out.append((price, levels[price].qty))
            if limit > 0 and len(out) >= limit:
                break
        return out

    def top(self) -> tuple[int, int, int, int]:
        """(best bid, bid size, best ask, ask size).  An empty side shows as the exchange shows it,
        never crossed: no bids = bid 0, no asks = ask PU ($1), size 0."""
        bb = self.bid_prices[-1] if self.bid_prices else 0
        ba = self.ask_prices[0] if self.ask_prices else PU
        return (bb, self.bids[bb].qty if bb else 0, ba, self.asks[ba].qty if self.ask_prices else 0)

    def live_orders(self):
        for levels in (self.bids, self.asks):
            for level in levels.values():
                for order in level.queue:
                    if order.status == "resting":
                        yield order

    def is_crossed(self) -> bool:
        return bool(self.bid_prices and self.ask_prices and self.bid_prices[-1] >= self.ask_prices[0])


def no_price(price: int) -> int:
    return PU - price
