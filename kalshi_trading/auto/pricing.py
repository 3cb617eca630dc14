"""Underlying price sources for the bot's models, and (re-exported) the pricing math and realized volatility.

The pure pricing functions (Black-Scholes `N(d2)`, `binary_value`, `year_fraction`, ...) live in the domain module
`kalshi_trading/pricing.py` so that the signal pipeline can use them too; the names stay importable from here.
"""

from __future__ import annotations

import bisect
import csv
import math
import os
from datetime import datetime, timezone
from pathlib import Path
from typing import Iterable, Protocol, Sequence

from kalshi_trading.errors import ConfigError
from kalshi_trading.marketdata.stats import realized_volatility  # noqa: F401  (re-exported)
from kalshi_trading.pricing import (  # noqa: F401  (re-exported: the pricing math moved to the domain)
    ABOVE_TYPES, BELOW_TYPES, BETWEEN_TYPES, SECONDS_PER_YEAR, binary_value, d2, model_price, norm_cdf, prob_above,
    prob_above_ladder, year_fraction)


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
