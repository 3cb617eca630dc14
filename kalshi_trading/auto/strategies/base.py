"""The strategy interface and the small helpers both strategies use.

A strategy is any object with a `name` and `targets(event, snapshot) -> list[TargetOrder]`
(the `Strategy` protocol in `auto.types`); it never talks to the exchange.
"""

from __future__ import annotations

from collections import defaultdict
from decimal import ROUND_FLOOR, Decimal

from kalshi_trading.auto.types import BookView, MarketSnapshot, Strategy, TargetOrder, WorkingOrder
from kalshi_trading.models import BookSide
from kalshi_trading.money import COUNT_STEP, ZERO

__all__ = ["Strategy", "TargetOrder", "MarketSnapshot", "others_best", "room_to_buy_yes", "room_to_sell_yes",
           "floor_count"]


def floor_count(count: Decimal) -> Decimal:
    """Round a count down to the 0.01-contract step (never below zero)."""
    if count <= 0:
        return ZERO
    return count.quantize(COUNT_STEP, rounding=ROUND_FLOOR)


def room_to_buy_yes(position: Decimal, max_inventory_yes: Decimal) -> Decimal:
    """Contracts a bid may add before the YES cap (buying YES while long NO first closes NO)."""
    return max(max_inventory_yes - position, ZERO)


def room_to_sell_yes(position: Decimal, max_inventory_no: Decimal) -> Decimal:
    """Contracts an ask may add before the NO cap (selling YES while long YES first closes YES)."""
    return max(max_inventory_no + position, ZERO)


def others_best(book: BookView, working: tuple[WorkingOrder, ...], side: BookSide) -> Decimal | None:
    """The best price on `side` once our own resting size is taken out of the book.

    Without this a market maker that is itself the best bid would step "one tick inside"
    its own quote on every update and walk the market.
    """
    ours: dict[Decimal, Decimal] = defaultdict(Decimal)
    for w in working:
        if w.book_side is side:
            ours[w.yes_price] += w.remaining
    # Mostly the best level is not all ours: then it is the answer, read without listing the side.
    best, size = (book.best_bid, book.best_bid_size) if side is BookSide.BID else (book.best_ask, book.best_ask_size)
    if best is None:
        return None
    if size is not None and size - ours.get(best, ZERO) > 0:
        return best
    # One level more than we occupy is enough to find the first level that is not all ours.
    bids, asks = book.depth(len(ours) + 1)
    for level in (bids if side is BookSide.BID else asks):
        if level.count - ours.get(level.price, ZERO) > 0:
            return level.price
    return None


def snapshot_ready(snapshot: MarketSnapshot) -> bool:
    """A market a strategy may act on: enabled and with a fresh book."""
    return snapshot.config.enabled and not snapshot.book.stale


def target(snapshot: MarketSnapshot, side: BookSide, price: Decimal, count: Decimal, tag: str) -> TargetOrder:
    return TargetOrder(snapshot.ticker, side, price, count, tag)
