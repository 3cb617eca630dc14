"""Paper fills: an immediate-or-cancel buy modelled against the order book at that moment.

Buying YES takes the YES asks (the NO bids seen at 1 - price), cheapest first; buying NO takes the NO asks (the YES
bids seen at 1 - price).  Levels at or better than the limit are taken until the count is filled; each level pays
the taker fee of the market's fee schedule, rounded up per level as the exchange rounds per fill.  Nothing is sent.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from kalshi_trading.models import OrderBook, PriceLevel, Side
from kalshi_trading.money import ONE, ZERO, fill_fee


@dataclass(frozen=True)
class PaperFill:
    count: Decimal               # contracts filled (0: nothing at or better than the limit)
    average_price: Decimal | None  # on the bought contract
    fee: Decimal


def offers(book: OrderBook, side: Side) -> list[PriceLevel]:
    """What is offered of `side`'s contract, cheapest first, at prices on that contract."""
    bids = book.no_bids if side is Side.YES else book.yes_bids
    return sorted((PriceLevel(ONE - level.price, level.count) for level in bids), key=lambda lvl: lvl.price)


def paper_fill(book: OrderBook, side: Side, count: Decimal, limit: Decimal, fee_type: str = "quadratic",
               fee_multiplier: Decimal = ONE) -> PaperFill:
    """Fill `count` of `side` at `limit` or better against `book`, as an immediate-or-cancel order would."""
    needed, filled, cost, fee = count, ZERO, ZERO, ZERO
    for level in offers(book, side):
        if needed <= 0 or level.price > limit:
            break
        take = min(needed, level.count)
        if take <= 0:
            continue
        needed -= take
        filled += take
        cost += take * level.price
        fee += fill_fee(take, level.price, fee_type, True, fee_multiplier)
    if filled == 0:
        return PaperFill(ZERO, None, ZERO)
    return PaperFill(filled, (cost / filled).quantize(Decimal("0.000001")), fee)
