"""The simulated bitcoin index as a path: one sample a second for the last 20 minutes, and one-minute bars
(open, high, low, close) for the last 25 hours.

`KXBTC15M` settles on 60-second averages of it (`average`), its makers price on it with a lag (`price_at`),
and the loopback copies of the outside exchanges quote around it (their candles are its minute bars).
A sample stamped t is the index at t; the average "of the 60 seconds before" a time T takes the samples
stamped in (T - 60 s, T]: the 60 one-second samples ending at T.
Floats are fine here: model quantities, never money (the routes render them with fixed decimals).
"""

from __future__ import annotations

import json
from collections import deque
from itertools import islice

SECOND_MS = 1000
MINUTE_MS = 60_000
SECONDS_KEPT = 1200  # 20 minutes: the current and the last 15-minute window's averages, and the makers' lag
MINUTES_KEPT = 1500  # a day of one-minute bars and an hour more (24-hour statistics of a quote a while old)
AVERAGE_MS = 60_000


class BtcPath:
    """Recorded samples, oldest first; `record` must be called with increasing times."""

    def __init__(self) -> None:
        self.seconds: deque[tuple[int, float]] = deque()
        self.minutes: deque[list] = deque()  # [minute start ms, open, high, low, close]
        self._done: tuple[tuple[int, int] | None, str] = (None, "[]")  # finished bars as JSON, by (first, last)

    def __bool__(self) -> bool:
        return bool(self.seconds)

    def record(self, t_ms: int, price: float) -> None:
        """Add the index's value at `t_ms` (later than every sample so far)."""
        seconds = self.seconds
        previous = seconds[-1] if seconds else None
        if previous is not None and t_ms <= previous[0]:
            raise ValueError(f"samples must move forward in time ({t_ms} after {previous[0]})")
        seconds.append((t_ms, price))
        cutoff = t_ms - SECONDS_KEPT * SECOND_MS
        while seconds[0][0] <= cutoff:
            seconds.popleft()
        start = t_ms // MINUTE_MS * MINUTE_MS
        bars = self.minutes
        if bars and bars[-1][0] == start:
            bar = bars[-1]
            bar[2], bar[3], bar[4] = max(bar[2], price), min(bar[3], price), price
            return
        # a bar opens at the last price before it when that is recent (a gap leaves the bar to its own samples)
        opening = previous[1] if previous is not None and t_ms - previous[0] <= 2 * MINUTE_MS else price
        bars.append([start, opening, max(opening, price), min(opening, price), price])
        oldest = start - MINUTES_KEPT * MINUTE_MS
        while bars[0][0] < oldest:
            bars.popleft()

    def latest(self) -> tuple[int, float]:
        """(time, value) of the newest sample."""
        if not self.seconds:
            raise LookupError("the bitcoin path has no samples yet")
        return self.seconds[-1]

    def price_at(self, t_ms: int) -> float:
        """The index as it stood at `t_ms`: the newest sample at or before it (the oldest one kept if earlier;
        a minute bar's close beyond the second samples)."""
        seconds = self.seconds
        if not seconds:
            raise LookupError("the bitcoin path has no samples yet")
        if t_ms >= seconds[0][0]:
            for ts, price in reversed(seconds):
                if ts <= t_ms:
                    return price
        for bar in reversed(self.minutes):
            if bar[0] + MINUTE_MS <= t_ms:
                return bar[4]
        return self.minutes[0][1] if self.minutes else seconds[0][1]

    def average(self, end_ms: int) -> float | None:
        """The mean of the samples stamped in (end - 60 s, end]; None when there are none."""
        start = end_ms - AVERAGE_MS
        values = [p for t, p in self.seconds if start < t <= end_ms]
        return sum(values) / len(values) if values else None

    def bars(self, start_ms: int, end_ms: int) -> list[list]:
        """Minute bars whose minute starts in [start, end], oldest first (copies)."""
        return [list(b) for b in self.minutes if start_ms <= b[0] <= end_ms]

    def to_state(self) -> dict:
        """A JSON-ready snapshot.  The finished minute bars never change, so their JSON text is made once a minute
        (the store snapshots the exchange twice a second, and writing 1500 bars of floats each time is slow)."""
        bars = self.minutes
        done = len(bars) - 1
        key = (bars[0][0], bars[done - 1][0]) if done > 0 else None
        if key != self._done[0]:
            self._done = (key, json.dumps(list(islice(bars, done)) if done > 0 else []))
        return {"seconds": [list(s) for s in self.seconds], "finished_minutes": self._done[1],
                "minute": list(bars[-1]) if bars else None}

    @classmethod
    def from_state(cls, data: dict | None) -> "BtcPath":
        path = cls()
        if data:
            path.seconds = deque((int(t), float(p)) for t, p in data.get("seconds", ()))
            bars = json.loads(data.get("finished_minutes") or "[]") + ([data["minute"]] if data.get("minute") else [])
            path.minutes = deque([int(b[0]), *map(float, b[1:])] for b in bars)
        return path
