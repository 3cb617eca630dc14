"""KXHIGHNY bracket probabilities from ensemble members: a smoothed distribution of the settled whole-°F maximum.

**What settles.**  The NWS climate report prints the day's maximum in whole °F.  We model the true maximum X as
continuous and the printed value as X rounded half up: `T = floor(X + 0.5)`, so `T = k` exactly when
`k - 0.5 <= X < k + 0.5`.  A bracket YES set of integers `lo..hi` therefore has probability
`P(lo - 0.5 <= X < hi + 0.5)`:

| strike_type | YES when | lo .. hi |
|---|---|---|
| between (floor, cap) | floor <= T <= cap | ceil(floor) .. floor(cap) |
| greater (floor) | T > floor | floor(floor) + 1 .. +inf |
| greater_or_equal (floor) | T >= floor | ceil(floor) .. +inf |
| less (cap) | T < cap | -inf .. ceil(cap) - 1 |
| less_or_equal (cap) | T <= cap | -inf .. floor(cap) |

**Smoothing.**  The members (control included, °F, plus an optional bias) are pooled with equal total weight per
model (a 51-member model does not drown a 31-member one).  X's density is a mixture:
`(1 - wide_weight) x` a Gaussian kernel density over the members, with bandwidth
`h = max(min_bandwidth_f, 1.06 x sd x n_eff^(-1/5))` (the normal-reference rule; the floor stands for the gap
between a grid point and the Central Park thermometer, and for ensembles being under-dispersed), plus
`wide_weight x` one wide normal `N(mean, wide_sd_f^2)` (model error beyond the members' spread).  Both parts are
proper distributions, so the masses of brackets that partition the line sum to exactly 1; the final probability is
kept inside [0.0001, 0.9999] (the 4-place grid), so the sum over an event's brackets is 1 within n x 0.0001.

**Confidence** = `n / (n + count_half)` x `1 / (1 + (sd / spread_scale_f)^2)`: more members and less
disagreement make a surer model (n pooled members, sd their weighted standard deviation).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from decimal import Decimal
from typing import Mapping, Sequence

import numpy as np
from scipy.special import ndtr

from kalshi_trading.errors import ConfigError
from kalshi_trading.signals.collectors.weather import ModelMembers
from kalshi_trading.signals.models.common import as_confidence, as_probability, fmt
from kalshi_trading.signals.types import Probability

MODEL = "weather-ensemble-kde"
INF = math.inf


@dataclass(frozen=True)
class WeatherModelParams:
    """The smoothing and confidence knobs (see the module docstring)."""

    min_bandwidth_f: float = 1.0
    wide_weight: float = 0.05
    wide_sd_f: float = 5.0
    bias_f: float = 0.0          # added to every member (a station-vs-grid correction)
    count_half: float = 10.0
    spread_scale_f: float = 4.0

    def __post_init__(self) -> None:
        if not self.min_bandwidth_f > 0:
            raise ConfigError("must be positive", variable="weather_model.min_bandwidth_f")
        if not 0 <= self.wide_weight < 1:
            raise ConfigError("must be in [0, 1)", variable="weather_model.wide_weight")
        if not self.wide_sd_f > 0:
            raise ConfigError("must be positive", variable="weather_model.wide_sd_f")
        if not (self.count_half > 0 and self.spread_scale_f > 0):
            raise ConfigError("must be positive", variable="weather_model.count_half/spread_scale_f")


@dataclass(frozen=True)
class Bracket:
    """A KXHIGHNY market's strike (whole °F), from the market's strike fields (never its title)."""

    strike_type: str
    floor_strike: Decimal | None = None
    cap_strike: Decimal | None = None

    def settled_range(self) -> tuple[float, float]:
        """The whole-°F values lo..hi (inclusive, +-inf for tails) that settle YES; ValueError if unmodelled."""
        f, c, kind = self.floor_strike, self.cap_strike, self.strike_type
        if kind == "between" and f is not None and c is not None:
            return math.ceil(f), math.floor(c)
        if kind == "greater" and f is not None:
            return math.floor(f) + 1, INF
        if kind == "greater_or_equal" and f is not None:
            return math.ceil(f), INF
        if kind == "less" and c is not None:
            return -INF, math.ceil(c) - 1
        if kind == "less_or_equal" and c is not None:
            return -INF, math.floor(c)
        raise ValueError(f"cannot model strike_type {kind!r} with floor {f} and cap {c}")


@dataclass(frozen=True)
class _Pooled:
    x: np.ndarray            # members, °F
    w: np.ndarray            # weights, summing to 1
    mean: float
    sd: float
    h: float
    n: int
    models: tuple[str, ...]


def pool_members(models: Mapping[str, Sequence[float]] | Sequence[ModelMembers],
                 params: WeatherModelParams = WeatherModelParams()) -> _Pooled:
    """Members of every model with equal weight per model, their moments and the kernel bandwidth."""
    by_model = ({m.model: tuple(m.members_f) for m in models} if not isinstance(models, Mapping)
                else {k: tuple(v) for k, v in models.items()})
    by_model = {k: v for k, v in by_model.items() if v}
    if not by_model:
        raise ValueError("no members to model")
    xs, ws = [], []
    for vals in by_model.values():
        xs += [float(v) + params.bias_f for v in vals]
        ws += [1.0 / (len(by_model) * len(vals))] * len(vals)
    x, w = np.asarray(xs), np.asarray(ws)
    mean = float(np.dot(w, x))
    sd = math.sqrt(max(0.0, float(np.dot(w, (x - mean) ** 2))))
    n_eff = 1.0 / float(np.dot(w, w))
    h = max(params.min_bandwidth_f, 1.06 * sd * n_eff ** -0.2)
    return _Pooled(x, w, mean, sd, h, len(xs), tuple(sorted(by_model)))


def _cdf(pool: _Pooled, t: float, params: WeatherModelParams) -> float:
    """P(X < t) under the mixture."""
    if t == INF:
        return 1.0
    if t == -INF:
        return 0.0
    kde = float(np.dot(pool.w, ndtr((t - pool.x) / pool.h)))
    wide = float(ndtr((t - pool.mean) / params.wide_sd_f))
    return (1 - params.wide_weight) * kde + params.wide_weight * wide


def raw_bracket_mass(pool: _Pooled, bracket: Bracket, params: WeatherModelParams = WeatherModelParams()) -> float:
    """P(lo - 0.5 <= X < hi + 0.5) before the [0.0001, 0.9999] guard (0 for an empty bracket)."""
    lo, hi = bracket.settled_range()
    if lo > hi:
        return 0.0
    return max(0.0, _cdf(pool, hi + 0.5, params) - _cdf(pool, lo - 0.5, params))


def confidence(pool: _Pooled, params: WeatherModelParams = WeatherModelParams()) -> float:
    """n / (n + count_half) x 1 / (1 + (sd / spread_scale_f)^2)."""
    return pool.n / (pool.n + params.count_half) / (1 + (pool.sd / params.spread_scale_f) ** 2)


def bracket_probability(models: Mapping[str, Sequence[float]] | Sequence[ModelMembers], bracket: Bracket,
                        params: WeatherModelParams = WeatherModelParams()) -> Probability:
    """P(YES) of one bracket from the members (°F) of one climate day; raises ValueError with no members."""
    return event_probabilities(models, [bracket], params)[0]


def event_probabilities(models: Mapping[str, Sequence[float]] | Sequence[ModelMembers], brackets: Sequence[Bracket],
                        params: WeatherModelParams = WeatherModelParams()) -> list[Probability]:
    """P(YES) of every bracket of one event, from one pooling of the members (they sum to 1 within rounding)."""
    pool = pool_members(models, params)
    conf = as_confidence(confidence(pool, params))
    inputs = (("members", str(pool.n)), ("models", ",".join(pool.models)), ("mean_f", fmt(pool.mean, 2)),
              ("sd_f", fmt(pool.sd, 2)), ("bandwidth_f", fmt(pool.h, 2)))
    return [Probability(as_probability(raw_bracket_mass(pool, b, params)), conf, MODEL, inputs) for b in brackets]


def members_for_day(models: Sequence[ModelMembers]) -> dict[str, tuple[float, ...]]:
    """model -> members (°F) from a `WeatherSample.for_day(day)`."""
    return {m.model: m.members_f for m in models if m.members_f}
