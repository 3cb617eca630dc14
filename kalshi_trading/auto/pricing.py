"""Binary-option pricing (Black-Scholes `N(d2)`), realized volatility, and underlying price sources.

Model values (probabilities, volatilities, spot prices) are floats: they are estimates, not money.
The scalar path uses `math.erfc`, about 100x faster per call than `scipy.stats.norm.cdf`; the
vectorised ladder path needs numpy (the `model` extra) and is imported lazily.
"""

from __future__ import annotations

import bisect
import csv
import math
import os
from datetime import datetime, timezone
from decimal import Decimal
from pathlib import Path
from typing import Iterable, Protocol, Sequence

from kalshi_trading.errors import ConfigError

from kalshi_trading.marketdata.stats import SECONDS_PER_YEAR, realized_volatility  # noqa: F401  (re-exported)
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


def prob_above_ladder(spot: float, strikes: Sequence[float], t_years: float, vol: float, rate: float = 0.0):
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
    return 0.5 * _erfc_np(np, -x / _SQRT2)


def _erfc_np(np, x):
    z = np.abs(x)
    t = 1.0 / (1.0 + 0.5 * z)
    poly = -z * z - 1.26551223 + t * (1.00002368 + t * (0.37409196 + t * (0.09678418 + t * (
        -0.18628806 + t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 + t * (
            -0.82215223 + t * 0.17087277))))))))
    ans = t * np.exp(poly)
    return np.where(x >= 0, ans, 2.0 - ans)


def model_price(value: float) -> Decimal:
    """A model value as a Decimal to 1e-6 (to compare with exact prices)."""
    return Decimal(round(value, 6)).quantize(Decimal("0.000001"))


# --- underlying price sources ---------------------------------------------------------------------


class UnderlyingSource(Protocol):
    """Where a model gets the underlying's price.  Plug in a recorded feed, a CSV or a live/simulated spot feed."""

    def latest(self, at: datetime | None = None) -> tuple[datetime, float] | None:
        """The newest (timestamp, price) at or before `at` (None: the newest of all), or None if none."""
        ...

    def window(self, start: datetime, end: datetime) -> Sequence[tuple[datetime, float]]:
        """Every (timestamp, price) with start <= timestamp <= end, oldest first."""
        ...


def _aware(ts: datetime, what: str) -> datetime:
    if ts.tzinfo is None or ts.utcoffset() is None:
        raise ValueError(f"{what}: timestamp {ts} has no time zone")
    return ts.astimezone(timezone.utc)


class RecordedUnderlying:
    """An in-memory price history; `append` grows it (a live feed can push into one)."""

    def __init__(self, points: Iterable[tuple[datetime, float]] = ()):
        pts = sorted(((_aware(ts, "recorded point"), float(px)) for ts, px in points), key=lambda p: p[0])
        self._times = [p[0] for p in pts]
        self._prices = [p[1] for p in pts]

    def __len__(self) -> int:
        return len(self._times)

    def append(self, ts: datetime, price: float) -> None:
        """Add a point; timestamps must not go backwards."""
        ts = _aware(ts, "appended point")
        if self._times and ts < self._times[-1]:
            raise ValueError(f"point at {ts} is older than the last one ({self._times[-1]})")
        self._times.append(ts)
        self._prices.append(float(price))

    def latest(self, at: datetime | None = None) -> tuple[datetime, float] | None:
        if not self._times:
            return None
        i = len(self._times) if at is None else bisect.bisect_right(self._times, at)
        if i == 0:
            return None
        return self._times[i - 1], self._prices[i - 1]

    def window(self, start: datetime, end: datetime) -> list[tuple[datetime, float]]:
        lo = bisect.bisect_left(self._times, start)
        hi = bisect.bisect_right(self._times, end)
        return list(zip(self._times[lo:hi], self._prices[lo:hi], strict=True))


def parse_timestamp(text: str) -> datetime:
    """ISO 8601 with an offset (or `Z`), or Unix epoch seconds (milliseconds if > 1e11)."""
    text = text.strip()
    try:
        epoch = float(text)
    except ValueError:
        ts = datetime.fromisoformat(text.replace("Z", "+00:00"))
        return _aware(ts, "csv row")
    if epoch > 1e11:
        epoch /= 1000.0
    return datetime.fromtimestamp(epoch, tz=timezone.utc)


class CsvUnderlying:
    """A recorded feed from a CSV file with a `timestamp,price` header; `refresh()` rereads it if it changed."""

    def __init__(self, path: str | os.PathLike[str]):
        self.path = Path(path)
        self._signature: tuple[int, int] | None = None
        self._data = RecordedUnderlying()
        self.refresh()

    def refresh(self) -> bool:
        """Reread the file if its mtime or size changed; True if it did.  Raises ConfigError on a bad file."""
        try:
            st = os.stat(self.path)
        except OSError as exc:
            raise ConfigError(f"{self.path}: cannot read the price file: {exc.strerror or exc}",
                              fix="check the path") from None
        signature = (st.st_mtime_ns, st.st_size)
        if signature == self._signature:
            return False
        self._data = RecordedUnderlying(self._read())
        self._signature = signature
        return True

    def _read(self) -> list[tuple[datetime, float]]:
        points = []
        with open(self.path, newline="", encoding="utf-8") as fh:
            reader = csv.DictReader(fh)
            if not reader.fieldnames or not {"timestamp", "price"} <= {f.strip() for f in reader.fieldnames}:
                raise ConfigError(f"{self.path}: the header must name timestamp and price",
                                  fix="start the file with the line: timestamp,price")
            for line, row in enumerate(reader, start=2):
                row = {(k or "").strip(): v for k, v in row.items()}
                try:
                    ts = parse_timestamp(row["timestamp"] or "")
                    px = float(row["price"] or "")
                except ValueError as exc:
                    raise ConfigError(f"{self.path}, line {line}: {exc}",
                                      fix="write ISO 8601 times with a zone (or epoch seconds) and numeric prices",
                                      ) from None
                if not math.isfinite(px) or px <= 0:
                    raise ConfigError(f"{self.path}, line {line}: price {px} is not positive", fix="fix the price")
                points.append((ts, px))
        return points

    def __len__(self) -> int:
        return len(self._data)

    def latest(self, at: datetime | None = None) -> tuple[datetime, float] | None:
        return self._data.latest(at)

    def window(self, start: datetime, end: datetime) -> list[tuple[datetime, float]]:
        return self._data.window(start, end)
