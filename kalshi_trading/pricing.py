"""Binary-option pricing: Black-Scholes `N(d2)` per strike type, time to expiry in years (pure math, no I/O).

Model values (probabilities, volatilities, spot prices) are floats: they are estimates, not money.
The scalar path uses `math.erfc`, about 100x faster per call than `scipy.stats.norm.cdf`; the
vectorised ladder path needs numpy (the `model` extra) and is imported lazily.

This is domain code so that both the bot (`auto/`) and the signal pipeline (`signals/`) price with it;
`auto/pricing.py` re-exports it next to the underlying price sources.
"""

from __future__ import annotations

import math
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Sequence

if TYPE_CHECKING:
    import numpy.typing as npt

SECONDS_PER_YEAR = 365.0 * 24 * 3600  # one year for time to expiry and for annualised volatility
_SQRT2 = math.sqrt(2.0)

# Strike types we can value; the rest (functional, custom, structured) get no model value.
ABOVE_TYPES = frozenset({"greater", "greater_or_equal"})
BELOW_TYPES = frozenset({"less", "less_or_equal"})
BETWEEN_TYPES = frozenset({"between"})


def norm_cdf(x: float) -> float:
    """Standard normal CDF; `erfc` keeps precision in the lower tail."""
    return 0.5 * math.erfc(-x / _SQRT2)


def d2(spot: float, strike: float, t_years: float, vol: float, rate: float = 0.0) -> float:
    """Black-Scholes d2 (needs spot, strike, t_years and vol all > 0)."""
    sd = vol * math.sqrt(t_years)
    return (math.log(spot / strike) + (rate - 0.5 * vol * vol) * t_years) / sd


def prob_above(spot: float, strike: float, t_years: float, vol: float, rate: float = 0.0) -> float:
    """Risk-neutral probability that the underlying ends above `strike`: N(d2).

    With no time or no volatility left the answer is the deterministic limit: 1 above the
    (forward) strike, 0 below, 1/2 exactly at it.
    """
    if strike <= 0:
        return 1.0
    if spot <= 0:
        return 0.0
    if t_years <= 0 or vol <= 0:
        forward = spot * math.exp(rate * max(t_years, 0.0))
        return 1.0 if forward > strike else 0.0 if forward < strike else 0.5
    return norm_cdf(d2(spot, strike, t_years, vol, rate))


def binary_value(strike_type: str | None, spot: float, floor_strike: float | None, cap_strike: float | None,
                 t_years: float, vol: float, rate: float = 0.0) -> float | None:
    """Value of one YES contract paying $1, per the market's strike semantics; None if not modelled.

    greater / greater_or_equal: N(d2) at floor_strike; less / less_or_equal: 1 - N(d2) at cap_strike;
    between: N(d2 at floor) - N(d2 at cap).  Discounted at `rate` (0 by default: Kalshi pays at settlement).
    """
    if strike_type in ABOVE_TYPES and floor_strike is not None:
        p = prob_above(spot, floor_strike, t_years, vol, rate)
    elif strike_type in BELOW_TYPES and cap_strike is not None:
        p = 1.0 - prob_above(spot, cap_strike, t_years, vol, rate)
    elif strike_type in BETWEEN_TYPES and floor_strike is not None and cap_strike is not None:
        p = prob_above(spot, floor_strike, t_years, vol, rate) - prob_above(spot, cap_strike, t_years, vol, rate)
    else:
        return None
    p = min(1.0, max(0.0, p))
    return p * math.exp(-rate * t_years) if rate and t_years > 0 else p


def year_fraction(now: datetime, expiry: datetime) -> float:
    """Years from `now` to `expiry` (365-day years, never negative)."""
    return max((expiry - now).total_seconds(), 0.0) / SECONDS_PER_YEAR


def prob_above_ladder(spot: float, strikes: Sequence[float], t_years: float, vol: float,
                      rate: float = 0.0) -> npt.NDArray[Any]:
    """N(d2) for a ladder of strikes (all > 0) at once (numpy array out).  Needs numpy.

    numpy has no erf, so this uses the Numerical Recipes Chebyshev `erfc` (relative error < 1.2e-7),
    plenty for prices quoted to $0.001.
    """
    import numpy as np  # lazy: numpy is the optional `model` extra

    k = np.asarray(strikes, dtype=float)
    if t_years <= 0 or vol <= 0:
        forward = spot * math.exp(rate * max(t_years, 0.0))
        return np.where(forward > k, 1.0, np.where(forward < k, 0.0, 0.5))
    sd = vol * math.sqrt(t_years)
    x = (np.log(spot / k) + (rate - 0.5 * vol * vol) * t_years) / sd
    return 0.5 * _erfc_np(-x / _SQRT2)


def _erfc_np(x: npt.NDArray[Any]) -> npt.NDArray[Any]:
    import numpy as np

    z = np.abs(x)
    t = 1.0 / (1.0 + 0.5 * z)
    poly = -z * z - 1.26551223 + t * (1.00002368 + t * (0.37409196 + t * (0.09678418 + t * (
        -0.18628806 + t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 + t * (
            -0.82215223 + t * 0.17087277))))))))
    ans = t * np.exp(poly)
    result: npt.NDArray[Any] = np.where(x >= 0, ans, 2.0 - ans)
    return result


def model_price(value: float) -> Decimal:
    """A model value as a Decimal to 1e-6 (to compare with exact prices)."""
    return Decimal(round(value, 6)).quantize(Decimal("0.000001"))
