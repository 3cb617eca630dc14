"""Where probabilities come from: one `SignalSource` per family, and turning a probability into a `Signal`.

A signal source is any callable `(markets, now) -> SourceAnswer`: it gets the family's discovered markets and
answers a `Probability` per ticker it can price (or whole `Signal`s), with the health of every outside source it
asked.  The pipeline (`pipeline.py`) calls one per family and turns probabilities into signals with `evaluate`.
The real sources (the collectors and models of each family) are in `live.py`; `not_connected` stands for a family
whose source is switched off.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Callable, Mapping, Protocol, Sequence

from kalshi_trading.models import Market
from kalshi_trading.money import ONE, ZERO, fill_fee
from kalshi_trading.signals.types import (
    PROB_PLACES, Direction, Family, Probability, Signal, SourceHealth, SourceStatus,
)

log = logging.getLogger(__name__)

P_MIN, P_MAX = Decimal("0.0001"), Decimal("0.9999")
FeeOf = Callable[[Market], "tuple[str, Decimal]"]


@dataclass(frozen=True)
class SourceAnswer:
    """What one family's source answered in one cycle."""

    probabilities: Mapping[str, Probability] = field(default_factory=dict)  # ticker -> probability
    signals: tuple[Signal, ...] = ()  # whole signals, for a source that makes its own
    health: tuple[SourceHealth, ...] = ()


class SignalSource(Protocol):
    """One family's collectors and model, called once per cycle with that family's markets."""

    def __call__(self, markets: Sequence[Market], now: datetime) -> SourceAnswer: ...


def bps(amount: Decimal) -> int:
    """Dollars per $1 contract as whole basis points (half to even)."""
    return int((amount * 10_000).quantize(Decimal(1), rounding=ROUND_HALF_EVEN))


def evaluate(market: Market, family: Family, probability: Probability, at: datetime,
             fee_of: FeeOf) -> Signal:
    """The model against the market's quotes: the side with the larger positive edge net of the taker fee on one
    contract, or no direction when neither side has one (edge then the better side's, negative)."""
    yes_ask = market.best_yes_ask
    yes_bid = market.best_yes_bid
    no_ask = ONE - yes_bid if yes_bid is not None else None
    mid = (yes_ask + yes_bid) / 2 if yes_ask is not None and yes_bid is not None else None
    fee_type, multiplier = fee_of(market)
    p = probability.p_yes
    edges: list[tuple[Decimal, Direction, Decimal]] = []
    if yes_ask is not None:
        edges.append((p - yes_ask - fill_fee(ONE, yes_ask, fee_type, True, multiplier), Direction.BUY_YES, yes_ask))
    if no_ask is not None:
        edges.append(((ONE - p) - no_ask - fill_fee(ONE, no_ask, fee_type, True, multiplier), Direction.BUY_NO,
                      no_ask))
    best = max(edges, key=lambda e: (e[0], e[1] is Direction.BUY_YES)) if edges else None
    direction = best[1] if best is not None and best[0] > ZERO else Direction.NONE
    return Signal(
        ticker=market.ticker, family=family, at=at, model=probability.model, model_prob=p,
        market_mid=mid.quantize(PROB_PLACES) if mid is not None else None,
        trade_price=best[2] if best is not None else None, edge_bps=bps(best[0]) if best is not None else None,
        confidence=probability.confidence, direction=direction, inputs=probability.inputs,
    )


def clip_probability(value: float) -> Decimal:
    """A model's float probability as the Decimal the pipeline keeps (4 places, never exactly 0 or 1)."""
    d = Decimal(repr(value)).quantize(PROB_PLACES)
    return min(P_MAX, max(P_MIN, d))


def not_connected(name: str) -> SignalSource:
    """A source for a family that is switched off: no signals, a SKIPPED health row."""

    def answer(markets: Sequence[Market], now: datetime) -> SourceAnswer:
        return SourceAnswer(health=(SourceHealth(name, SourceStatus.SKIPPED, now,
                                                 reason="source switched off"),))

    return answer
