"""Bitcoin models: KXBTC15M up/down (an Asian-style digital on the closing 60-second average) and the KXBTCD ladder.

**Volatility and drift** come from Crypto.com candle closes: sigma is the realized volatility of the closes
(`marketdata.stats.realized_volatility`, per square-root second, floored at `vol_floor_annual`); the drift is the
log return over the last `momentum_candles` closes per second, times `momentum_weight` (momentum at these horizons
is weak, so it is shrunk; 0 turns it off).

**KXBTC15M.**  YES when the simple average A of the index over the W = 60 s before the close, rounded to 2
decimals, is at least `floor_strike` K (the opening average, already rounded).  Rounded-A >= K exactly when
A >= K - 0.005.  With the spot S now, tau seconds to the close, and price moves s = sigma x S per root second
(arithmetic Brownian motion, fine over 15 minutes):

* tau >= W (the window has not started): A = mean over [T - W, T] of S_u, normal with
  mean S x exp(mu x (tau - W/2)) and variance s^2 x (tau - 2W/3): the path up to the window's start contributes
  s^2 (tau - W), the window itself s^2 W / 3 (the variance of the mean of a Brownian path over W).  Far from the
  close this is s^2 tau to within 2W/3 (data-sources.md's "sigma^2 tau before it").
* 0 < tau < W (inside the window): part of the average is known.  With a the mean observed over the elapsed
  W - tau seconds (`window_mean`; the spot stands in for it when not given),
  A = ((W - tau) a + tau x mean of the rest) / W, mean ((W - tau) a + tau S exp(mu tau / 2)) / W and variance
  s^2 tau^3 / (3 W^2) (the mean of a Brownian path over tau is s^2 tau / 3, scaled by (tau / W)^2).
  Both formulas give s^2 W / 3 at tau = W.
* tau <= 0: A is known; the variance is only the basis term.

To both a basis variance (`basis_bps` x S)^2 is added: our median of exchange mids is a proxy for CF Benchmarks'
BRTI, not BRTI.  P(YES) = N((mean - (K - 0.005)) / sd), kept inside [0.0001, 0.9999].

**KXBTCD** reuses the bot's Black-Scholes `binary_value` (`kalshi_trading.pricing`) with the same sigma.

**Confidence** = min(1, sources / full_sources) x min(1, candles / full_candles).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Sequence

from kalshi_trading.errors import ConfigError
from kalshi_trading.marketdata.stats import realized_volatility
from kalshi_trading.pricing import SECONDS_PER_YEAR, binary_value, norm_cdf, year_fraction
from kalshi_trading.signals.collectors.bitcoin import Candle
from kalshi_trading.signals.models.common import as_confidence, as_probability, fmt
from kalshi_trading.signals.types import Probability

UPDOWN_MODEL = "btc15m-asian-digital"
LADDER_MODEL = "btcd-black-scholes"
ROUNDING = 0.005  # each average is rounded to 2 decimals: rounded A >= K  <=>  A >= K - 0.005


@dataclass(frozen=True)
class BtcModelParams:
    window_s: float = 60.0
    momentum_candles: int = 15
    momentum_weight: float = 0.25
    vol_floor_annual: float = 0.20
    basis_bps: float = 1.0
    full_sources: int = 3
    full_candles: int = 30

    def __post_init__(self) -> None:
        if not self.window_s > 0:
            raise ConfigError("must be positive", variable="btc_model.window_s")
        if self.momentum_candles < 2:
            raise ConfigError("must be at least 2", variable="btc_model.momentum_candles")
        if self.vol_floor_annual < 0 or self.basis_bps < 0 or self.momentum_weight < 0:
            raise ConfigError("must not be negative", variable="btc_model.vol_floor_annual/basis_bps/momentum_weight")
        if self.full_sources < 1 or self.full_candles < 1:
            raise ConfigError("must be at least 1", variable="btc_model.full_sources/full_candles")


@dataclass(frozen=True)
class VolEstimate:
    """sigma and drift of log prices, per second, and how many candles they rest on."""

    sigma_per_sqrt_s: float
    drift_per_s: float
    candles: int

    @property
    def annual(self) -> float:
        return self.sigma_per_sqrt_s * math.sqrt(SECONDS_PER_YEAR)


def estimate_volatility(candles: Sequence[Candle], params: BtcModelParams = BtcModelParams()) -> VolEstimate | None:
    """Realized volatility of the closes (floored) and the shrunk momentum drift; None with fewer than 3 candles."""
    points = [(c.start, float(c.close)) for c in candles]
    annual = realized_volatility(points)
    if annual is None:
        return None
    sigma = max(annual, params.vol_floor_annual) / math.sqrt(SECONDS_PER_YEAR)
    recent = points[-params.momentum_candles:]
    span = (recent[-1][0] - recent[0][0]).total_seconds()
    drift = params.momentum_weight * math.log(recent[-1][1] / recent[0][1]) / span if span > 0 else 0.0
    return VolEstimate(sigma, drift, len(candles))


def average_moments(spot: float, tau_s: float, vol: VolEstimate, window_mean: float | None,
                    params: BtcModelParams = BtcModelParams()) -> tuple[float, float]:
    """Mean and variance of the closing window's average (see the module docstring), basis included."""
    w, s, mu = params.window_s, vol.sigma_per_sqrt_s * spot, vol.drift_per_s
    basis_var = (params.basis_bps * 1e-4 * spot) ** 2
    known = window_mean if window_mean is not None else spot
    if tau_s >= w:
        return spot * math.exp(mu * (tau_s - w / 2)), s * s * (tau_s - 2 * w / 3) + basis_var
    if tau_s > 0:
        mean = ((w - tau_s) * known + tau_s * spot * math.exp(mu * tau_s / 2)) / w
        return mean, s * s * tau_s ** 3 / (3 * w * w) + basis_var
    return known, basis_var


def updown_probability(spot: Decimal, floor_strike: Decimal, now: datetime, close_time: datetime, vol: VolEstimate,
                       *, window_mean: Decimal | None = None, sources: Sequence[str] = (),
                       params: BtcModelParams = BtcModelParams()) -> Probability:
    """P(the closing 60-second average, rounded to cents, >= floor_strike) for a KXBTC15M market."""
    tau = (close_time - now).total_seconds()
    mean, var = average_moments(float(spot), tau, vol, float(window_mean) if window_mean is not None else None,
                                params)
    edge = mean - (float(floor_strike) - ROUNDING)
    p = norm_cdf(edge / math.sqrt(var)) if var > 0 else (1.0 if edge >= 0 else 0.0)
    inputs = (("spot", str(spot)), ("sources", ",".join(sources)), ("sigma_annual", fmt(vol.annual)),
              ("drift_per_s", f"{vol.drift_per_s:.3e}"), ("tau_s", fmt(tau, 1)),
              ("avg_mean", fmt(mean, 2)), ("avg_sd", fmt(math.sqrt(var), 2)))
    return Probability(as_probability(p), _confidence(len(sources), vol, params), UPDOWN_MODEL, inputs)


def ladder_probability(strike_type: str | None, floor_strike: Decimal | None, cap_strike: Decimal | None,
                       spot: Decimal, now: datetime, close_time: datetime, vol: VolEstimate, *,
                       sources: Sequence[str] = (), params: BtcModelParams = BtcModelParams()) -> Probability | None:
    """A KXBTCD market's P(YES) by Black-Scholes (`pricing.binary_value`); None for a strike type it cannot value."""
    t = year_fraction(now, close_time)
    p = binary_value(strike_type, float(spot), float(floor_strike) if floor_strike is not None else None,
                     float(cap_strike) if cap_strike is not None else None, t, vol.annual)
    if p is None:
        return None
    inputs = (("spot", str(spot)), ("sources", ",".join(sources)), ("sigma_annual", fmt(vol.annual)),
              ("t_years", f"{t:.3e}"))
    return Probability(as_probability(p), _confidence(len(sources), vol, params), LADDER_MODEL, inputs)


def _confidence(n_sources: int, vol: VolEstimate, params: BtcModelParams) -> Decimal:
    return as_confidence(min(1.0, n_sources / params.full_sources) * min(1.0, vol.candles / params.full_candles))


def window_average(points: Sequence[tuple[datetime, Decimal]], start: datetime, end: datetime) -> Decimal | None:
    """The simple mean of the spot samples with start <= time <= end (the averaging window so far), or None."""
    inside = [px for ts, px in points if start <= ts <= end]
    return sum(inside, Decimal(0)) / len(inside) if inside else None
