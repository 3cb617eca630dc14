"""The simulated underlyings and the fair values the background participants quote around.

Floats are fine here: these are model quantities (spot, probability), never money.
"""

from __future__ import annotations

import math
import random

from kalshi_trading.sim.market import Market

YEAR_S = 365.0 * 86400.0
DAY_S = 86400.0
# The simulated BTC index stays in this band: a long `sim advance` (years) would otherwise let it wander to where
# the strike ladder around it reaches zero and below, which no market can be listed on.
SPOT_RANGE = (20_000.0, 500_000.0)


def norm_cdf(x: float) -> float:
    return 0.5 * (1.0 + math.erf(x / math.sqrt(2.0)))


def binary_above(spot: float, strike: float, vol: float, seconds: float) -> float:
    """Black-Scholes value of a binary paying 1 if spot > strike at expiry (zero rates): N(d2)."""
    if seconds <= 0 or vol <= 0:
        return 1.0 if spot > strike else 0.0
    t = seconds / YEAR_S
    d2 = (math.log(spot / strike) - 0.5 * vol * vol * t) / (vol * math.sqrt(t))
    return norm_cdf(d2)


class World:
    """BTC spot (GBM), per-event temperature truths and rain propensities; one seeded RNG."""

    def __init__(self, seed: int, spot: float = 95_000.0, vol: float = 0.5):
        self.rng = random.Random(seed)
        self.spot = spot
        self.vol = vol
        self.temps: dict[str, list[float]] = {}  # event -> [true high, forecast error]
        self.rains: dict[str, list[float]] = {}  # event -> [logit propensity, hidden uniform]

    # ---- evolution ---------------------------------------------------------------------------

    def evolve(self, seconds: float) -> None:
        """Move every underlying forward by `seconds` in one exact step."""
        if seconds <= 0:
            return
        rng = self.rng
        t = seconds / YEAR_S
        self.spot *= math.exp(-0.5 * self.vol * self.vol * t + self.vol * math.sqrt(t) * rng.gauss(0.0, 1.0))
        self.spot = min(max(self.spot, SPOT_RANGE[0]), SPOT_RANGE[1])
        scale = math.sqrt(seconds / 3600.0)
        for state in self.temps.values():
            state[1] = state[1] * 0.999 ** (seconds / 60.0) + 0.15 * scale * rng.gauss(0.0, 1.0)
        for state in self.rains.values():
            state[0] += 0.35 * scale * rng.gauss(0.0, 1.0)

    def new_temp_event(self, event_ticker: str) -> int:
        """Draw the day's true high; return the integer the bracket ladder centres on."""
        truth = 50.0 + self.rng.gauss(0.0, 6.0)
        self.temps[event_ticker] = [truth, self.rng.gauss(0.0, 2.5)]
        return int(math.floor(truth + self.temps[event_ticker][1] + 0.5))

    def new_rain_event(self, event_ticker: str) -> None:
        self.rains[event_ticker] = [self.rng.gauss(-0.5, 1.0), self.rng.random()]

    # ---- fair values and results -------------------------------------------------------------

    def fair(self, market: Market, now_ms: int) -> float:
        remaining = max(0.0, (market.close_ms - now_ms) / 1000.0)
        if market.underlying == "btc":
            return binary_above(self.spot, _strike(market, "floor"), self.vol, remaining)
        if market.underlying == "temp":
            truth, err = self.temps.get(market.event_ticker, (50.0, 0.0))
            sd = 0.4 + 3.0 * math.sqrt(min(1.0, remaining / DAY_S))
            lo, hi = _temp_bounds(market)
            mean = truth + err * math.sqrt(min(1.0, remaining / DAY_S))
            return norm_cdf((hi - mean) / sd) - norm_cdf((lo - mean) / sd)
        if market.underlying == "rain":
            x = self.rains.get(market.event_ticker, (0.0, 0.5))[0]
            return 1.0 / (1.0 + math.exp(-x))
        return 0.5

    def result(self, market: Market) -> str:
        """`yes` or `no` from the underlying as it stands (called at close)."""
        if market.underlying == "btc":
            market.expiration_value = f"{self.spot:.2f}"
            return "yes" if self.spot > _strike(market, "floor") else "no"
        if market.underlying == "temp":
            truth = self.temps.get(market.event_ticker, (50.0, 0.0))[0]
            high = math.floor(truth + 0.5)
            market.expiration_value = str(high)
            lo, hi = _temp_bounds(market)
            return "yes" if lo <= high < hi else "no"
        if market.underlying == "rain":
            x, u = self.rains.get(market.event_ticker, (0.0, 0.5))
            rained = u < 1.0 / (1.0 + math.exp(-x))
            market.expiration_value = "0.10" if rained else "0.00"
            return "yes" if rained else "no"
        return "no"

    def forget(self, event_ticker: str) -> None:
        self.temps.pop(event_ticker, None)
        self.rains.pop(event_ticker, None)

    # ---- persistence -------------------------------------------------------------------------

    def to_state(self) -> dict:
        version, internal, gauss_next = self.rng.getstate()
        return {"spot": self.spot, "vol": self.vol, "temps": self.temps, "rains": self.rains,
                "rng": [version, list(internal), gauss_next]}

    @classmethod
    def from_state(cls, data: dict) -> "World":
        world = cls(0, data["spot"], data["vol"])
        version, internal, gauss_next = data["rng"]
        world.rng.setstate((version, tuple(internal), gauss_next))
        world.temps = {k: list(v) for k, v in data["temps"].items()}
        world.rains = {k: list(v) for k, v in data["rains"].items()}
        return world


def _temp_bounds(market: Market) -> tuple[float, float]:
    """The reported (integer) high lies in [lo, hi) for a YES."""
    if market.strike_type == "less":
        return (-1e9, _strike(market, "cap"))
    if market.strike_type == "greater":
        return (_strike(market, "floor") + 1, 1e9)
    return (_strike(market, "floor"), _strike(market, "cap") + 1)


def _strike(market: Market, which: str) -> float:
    """The market's floor or cap strike (its strike type promises one; a market without it is a listing bug)."""
    value = market.floor_strike if which == "floor" else market.cap_strike
    if value is None:
        raise ValueError(f"market {market.ticker} ({market.strike_type}) has no {which} strike")
    return float(value)
