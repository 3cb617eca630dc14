"""A model's probability against the book: the market's mid, the price we could trade at, and the edge net of fees.

For each side: edge = fair value of the side - its ask - the taker fee per contract, in basis points of $1
(rounded down: never claim more edge than there is).  The fair value of YES is the model's P(YES), of NO
1 - P(YES).  The taker fee is the exchange's formula (`money.taker_fee`: round_up(0.07 x C x P x (1 - P)) per fill,
times the series' multiplier), divided by the count C the order would be (1 by default: the rounding hurts most
there).  The signal's direction is the side with the larger edge when that edge reaches `min_edge_bps`, else none;
`trade_price` and `edge_bps` are that better side's either way (None when neither side has an ask).
"""

from __future__ import annotations

from datetime import datetime
from decimal import ROUND_FLOOR, Decimal

from kalshi_trading.money import ONE, taker_fee
from kalshi_trading.signals.types import Direction, Family, Probability, Signal

BPS = Decimal(10_000)


def side_edge_bps(fair: Decimal, ask: Decimal, count: Decimal = ONE, fee_multiplier: Decimal = ONE) -> int:
    """(fair - ask - taker fee per contract) x 10,000, rounded down."""
    fee = taker_fee(count, ask, fee_multiplier) / count
    return int(((fair - ask - fee) * BPS).to_integral_value(rounding=ROUND_FLOOR))


def market_mid(yes_ask: Decimal | None, no_ask: Decimal | None) -> Decimal | None:
    """P(YES) by the book: the mean of the YES bid (1 - NO ask) and the YES ask; None for a one-sided book."""
    if yes_ask is None or no_ask is None:
        return None
    return (yes_ask + (ONE - no_ask)) / 2


def edge(prob: Probability, *, ticker: str, family: Family, at: datetime, yes_ask: Decimal | None,
         no_ask: Decimal | None, fee_multiplier: Decimal = ONE, count: Decimal = ONE,
         min_edge_bps: int = 1) -> Signal:
    """The signal for one market: the model's `prob` against its book's YES and NO asks (dollars, None if empty)."""
    sides: list[tuple[int, Direction, Decimal]] = []
    if yes_ask is not None:
        sides.append((side_edge_bps(prob.p_yes, yes_ask, count, fee_multiplier), Direction.BUY_YES, yes_ask))
    if no_ask is not None:
        sides.append((side_edge_bps(ONE - prob.p_yes, no_ask, count, fee_multiplier), Direction.BUY_NO, no_ask))
    best = max(sides, key=lambda s: s[0]) if sides else None
    direction = best[1] if best is not None and best[0] >= min_edge_bps else Direction.NONE
    side = ("yes" if best[1] is Direction.BUY_YES else "no") if best is not None else "none"
    return Signal(ticker=ticker, family=family, at=at, model=prob.model, model_prob=prob.p_yes,
                  market_mid=market_mid(yes_ask, no_ask), trade_price=best[2] if best else None,
                  edge_bps=best[0] if best else None, confidence=prob.confidence, direction=direction,
                  inputs=prob.inputs + (("side", side), ("fee_multiplier", str(fee_multiplier))))
