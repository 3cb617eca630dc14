"""Underlying price sources and the exchange clock, both read from the exchange over HTTP.

`SimSpotUnderlying` polls the simulator's spot route (`GET /sim/underlying/{series}`, not part of
Kalshi's API) and keeps a window of points; on a real exchange the route answers 404 and the source
refuses with a ConfigError telling the user to pass a recorded feed (`--underlying FILE.csv`).
It is a pluggable `UnderlyingSource`, chosen by the user, not a branch in the loop.

`ExchangeClock` is the exchange's time (`GET /exchange/user_data_timestamp`), extrapolated between
samples at the measured rate, so a loop interval is in exchange time whether the exchange runs at
wall speed or a simulator runs faster.
"""

from __future__ import annotations

import logging
import time
from datetime import datetime, timedelta, timezone
from typing import Callable

from kalshi_trading.auto.pricing import RecordedUnderlying
from kalshi_trading.errors import ApiError, ConfigError, NotFoundError, ResponseFormatError

log = logging.getLogger(__name__)


class SimSpotUnderlying:
    """`UnderlyingSource` over the simulator's spot route; polls at most every `min_interval` wall seconds."""

    def __init__(self, client, series: str = "KXBTCD", *, min_interval: float = 0.05,
                 horizon: timedelta = timedelta(hours=2), wall: Callable[[], float] = time.monotonic):
        self.client = client
        self.series = series.upper()
        self.min_interval = min_interval
        self.horizon = horizon
        self._wall = wall
        self._data = RecordedUnderlying()
        self._polled_at: float | None = None
        self.volatility: float | None = None

    def poll(self) -> tuple[datetime, float] | None:
        """Fetch the spot now; ConfigError if the exchange has no such route (a real exchange)."""
        try:
            quote = self.client.get_sim_underlying(self.series)
        except NotFoundError:
            raise ConfigError(
                f"this exchange publishes no underlying price for {self.series} (GET /sim/underlying/{self.series} "
                "answered 404: it is not the simulator)", variable="--underlying",
                fix="pass a recorded price feed: --underlying FILE.csv (a CSV with a timestamp,price header)",
            ) from None
        except ResponseFormatError as exc:
            log.warning("unreadable underlying price: %s", exc)
            return None
        self._polled_at = self._wall()
        ts, price = quote.ts, float(quote.price)  # a model input (Black-Scholes), not money
        if quote.volatility is not None:
            self.volatility = float(quote.volatility)
        last = self._data.latest()
        if last is None or ts > last[0]:
            self._data.append(ts, price)
            self._trim(ts)
        return ts, price

    def _trim(self, now: datetime) -> None:
        pts = self._data.window(now - self.horizon, now)
        if len(pts) < len(self._data):
            self._data = RecordedUnderlying(pts)

    def _maybe_poll(self) -> None:
        if self._polled_at is None or self._wall() - self._polled_at >= self.min_interval:
            try:
                self.poll()
            except ApiError as exc:  # NotFound is a ConfigError above; a transient failure keeps the window
                if isinstance(exc, NotFoundError):
                    raise
                log.warning("underlying price unavailable: %s", exc)

    def latest(self, at: datetime | None = None) -> tuple[datetime, float] | None:
        self._maybe_poll()
        return self._data.latest(at)

    def window(self, start: datetime, end: datetime) -> list[tuple[datetime, float]]:
        self._maybe_poll()
        return self._data.window(start, end)


class ExchangeClock:
    """The exchange's current time, sampled every `resample` wall seconds and extrapolated in between.

    `rate` = exchange seconds per wall second, measured over the samples (1 on a real exchange, the
    speed on an accelerated simulator, ~0 on a frozen test clock).  Never goes backwards.
    """

    def __init__(self, client, *, resample: float = 1.0, wall: Callable[[], float] = time.monotonic,
                 warmup: float = 0.25, sleep: Callable[[float], None] = time.sleep):
        self.client = client
        self.resample = resample
        self._wall = wall
        self._first: tuple[float, datetime] | None = None
        self._last: tuple[float, datetime] | None = None
        self._rate = 1.0
        self._returned: datetime | None = None
        self.sample()
        if warmup > 0:  # a second sample so the rate is known before the first loop interval
            sleep(warmup)
            self.sample()

    def _fetch(self) -> datetime:
        return self.client.get_user_data_timestamp()

    def sample(self) -> None:
        try:
            before = self._wall()
            ts = self._fetch()
            w = (before + self._wall()) / 2
        except ApiError as exc:
            log.warning("exchange time unavailable (%s); extrapolating", exc)
            return
        if self._first is None:
            self._first = (w, ts)
        elif w - self._first[0] >= 0.2:
            self._rate = max(0.0, (ts - self._first[1]).total_seconds() / (w - self._first[0]))
        self._last = (w, ts)

    @property
    def rate(self) -> float:
        return self._rate

    def now(self) -> datetime:
        w = self._wall()
        if self._last is None or w - self._last[0] >= self.resample:
            self.sample()
        if self._last is None:
            value = datetime.now(timezone.utc)
        else:
            value = self._last[1] + timedelta(seconds=(w - self._last[0]) * self._rate)
        if self._returned is not None and value < self._returned:
            value = self._returned
        self._returned = value
        return value


class WallClock:
    """UTC wall time (rate 1), for tests and tools that need no exchange."""

    rate = 1.0

    def __init__(self, now: Callable[[], datetime] | None = None):
        self._now = now or (lambda: datetime.now(timezone.utc))

    def now(self) -> datetime:
        return self._now()
