"""The simulated underlyings and the fair values the background participants quote around.

Floats are fine here: these are model quantities (spot, probability), never money.
"""

from __future__ import annotations

import math
import random

from kalshi_trading.sim import btc15m, noise
from kalshi_trading.sim.btcpath import MINUTE_MS, MINUTES_KEPT, SECOND_MS, SECONDS_KEPT, BtcPath
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
    """BTC spot (GBM) and its recorded path, per-event temperature truths and rain propensities.

    The index moves on its own seeded RNG (`path_rng`), so its path depends on the seed and the steps of time
    only, never on what the background participants draw; the weather and the participants share `rng`.
    A day's true high is fixed by the seed and the day (`true_high`), so outside forecasts of a day not listed
    yet already centre on the value that will settle it."""

    def __init__(self, seed: int, spot: float = 95_000.0, vol: float = 0.5):
        self.seed = seed
        self.rng = random.Random(seed)
        self.path_rng = random.Random(f"btc-path:{seed}")
        self.spot = spot
        self.vol = vol
        self.path = BtcPath()
        self.temps: dict[str, list[float]] = {}  # event -> [true high, forecast error]
        self.rains: dict[str, list[float]] = {}  # event -> [logit propensity, hidden uniform]

    # ---- evolution ---------------------------------------------------------------------------

    def advance(self, from_ms: int, to_ms: int) -> None:
        """Move every underlying from `from_ms` to `to_ms`: the weather in one exact step, the index in steps
        fine enough that its path holds a sample a second for the last `SECONDS_KEPT` seconds before `to_ms` and
        a minute bar for the day before that (one exact step further back)."""
        if to_ms <= from_ms:
            return
        self.evolve((to_ms - from_ms) / 1000.0)
        fine_from = to_ms - SECONDS_KEPT * SECOND_MS
        t = from_ms
        if t < fine_from - MINUTES_KEPT * MINUTE_MS:
            t = self._spot_to(t, fine_from - MINUTES_KEPT * MINUTE_MS)
        while t < fine_from:
            t = self._spot_to(t, min(t + MINUTE_MS, fine_from))
        while t < to_ms:
            t = self._spot_to(t, min(t + SECOND_MS, to_ms))

    def _spot_to(self, t: int, to: int) -> int:
        """One exact GBM step of the index from t to `to` ms, recorded on the path."""
        years = (to - t) / 1000.0 / YEAR_S
        step = -0.5 * self.vol * self.vol * years + self.vol * math.sqrt(years) * self.path_rng.gauss(0.0, 1.0)
        self.spot = min(max(self.spot * math.exp(step), SPOT_RANGE[0]), SPOT_RANGE[1])
        self.path.record(to, self.spot)
        return to

    def backfill(self, now_ms: int) -> None:
        """Give a new world the past a running one would have (a sample a second for `SECONDS_KEPT`, minute bars
        for the day before), ending at the current spot at `now_ms`: the first 15-minute window has its price
        to beat and the first candle request its history.  Seeded, so the same seed gives the same past."""
        rng = random.Random(f"btc-backfill:{self.seed}")
        times = [now_ms - k * SECOND_MS for k in range(SECONDS_KEPT)]
        times += [times[-1] - k * MINUTE_MS for k in range(1, MINUTES_KEPT + 1)]
        prices = [self.spot]
        for later, earlier in zip(times, times[1:], strict=False):
            years = (later - earlier) / 1000.0 / YEAR_S
            step = -0.5 * self.vol * self.vol * years + self.vol * math.sqrt(years) * rng.gauss(0.0, 1.0)
            prices.append(min(max(prices[-1] / math.exp(step), SPOT_RANGE[0]), SPOT_RANGE[1]))
        self.path = BtcPath()
        for t, price in zip(reversed(times), reversed(prices), strict=True):
            self.path.record(t, price)

    def evolve(self, seconds: float) -> None:
        """Move the weather forward by `seconds` in one exact step (the index moves in `advance`)."""
        if seconds <= 0:
            return
        rng = self.rng
        scale = math.sqrt(seconds / 3600.0)
        for state in self.temps.values():
            state[1] = state[1] * 0.999 ** (seconds / 60.0) + 0.15 * scale * rng.gauss(0.0, 1.0)
        for state in self.rains.values():
            state[0] += 0.35 * scale * rng.gauss(0.0, 1.0)

    def true_high(self, event_ticker: str) -> float:
        """The true high of the day a KXHIGHNY event ticker names (listed or not): what settles it."""
        state = self.temps.get(event_ticker)
        if state is not None:
            return state[0]
        return 50.0 + 6.0 * noise.gauss(self.seed, "true-high", event_ticker)

    def new_temp_event(self, event_ticker: str) -> int:
        """Fix the day's true high and the makers' forecast error; return the integer the brackets centre on."""
        truth = self.true_high(event_ticker)
        self.temps[event_ticker] = [truth, self.rng.gauss(0.0, 2.5)]
        return int(math.floor(truth + self.temps[event_ticker][1] + 0.5))

    def new_rain_event(self, event_ticker: str) -> None:
        self.rains[event_ticker] = [self.rng.gauss(-0.5, 1.0), self.rng.random()]

    # ---- fair values and results -------------------------------------------------------------

    def fair(self, market: Market, now_ms: int) -> float:
        remaining = max(0.0, (market.close_ms - now_ms) / 1000.0)
        if market.underlying == "btc":
            return binary_above(self.spot, _strike(market, "floor"), self.vol, remaining)
        if market.underlying == btc15m.UNDERLYING:
            return btc15m.maker_fair(market, self.path, self.vol, now_ms)
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
        if market.underlying == btc15m.UNDERLYING:
            return btc15m.result(market, self.path)
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
        return {"seed": self.seed, "spot": self.spot, "vol": self.vol, "temps": self.temps, "rains": self.rains,
                "rng": _rng_state(self.rng), "path_rng": _rng_state(self.path_rng), "path": self.path.to_state()}

    @classmethod
    def from_state(cls, data: dict) -> "World":
        """Rebuild a saved world (one saved before the path existed gets a fresh path; `SimExchange` backfills it)."""
        world = cls(int(data.get("seed", 0)), data["spot"], data["vol"])
        version, internal, gauss_next = data["rng"]
        world.rng.setstate((version, tuple(internal), gauss_next))
        if "path_rng" in data:
            version, internal, gauss_next = data["path_rng"]
            world.path_rng.setstate((version, tuple(internal), gauss_next))
        world.path = BtcPath.from_state(data.get("path"))
        world.temps = {k: list(v) for k, v in data["temps"].items()}
        world.rains = {k: list(v) for k, v in data["rains"].items()}
        return world


def _rng_state(rng: random.Random) -> list:
    version, internal, gauss_next = rng.getstate()
    return [version, list(internal), gauss_next]


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
