"""What every model shares: turning a float estimate into the pipeline's Decimal probability and confidence."""

from __future__ import annotations

import math
from decimal import Decimal

from kalshi_trading.signals.types import PROB_PLACES

PROB_MIN = 0.0001  # the smallest probability on the 4-place grid: a model never says 0 (or 1)
PROB_MAX = 1 - PROB_MIN


def as_probability(p: float) -> Decimal:
    """A model's float probability as a Decimal on the 4-place grid, kept inside [0.0001, 0.9999]."""
    if math.isnan(p):
        raise ValueError("the model produced NaN")
    return Decimal(repr(min(PROB_MAX, max(PROB_MIN, p)))).quantize(PROB_PLACES)


def as_confidence(c: float) -> Decimal:
    """A confidence in [0, 1] as a Decimal on the 4-place grid."""
    if math.isnan(c):
        raise ValueError("the model produced a NaN confidence")
    return Decimal(repr(min(1.0, max(0.0, c)))).quantize(PROB_PLACES)


def fmt(x: float, places: int = 4) -> str:
    """A model input for a signal's summary (`inputs`)."""
    return f"{x:.{places}f}"
