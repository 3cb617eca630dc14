"""Injected clocks.  Simulated time is integer milliseconds since the Unix epoch (UTC)."""

from __future__ import annotations

import math
import threading
import time
from datetime import datetime, timezone
from typing import Callable, Protocol


class Clock(Protocol):
    def now_ms(self) -> int: ...

    def advance(self, seconds: float) -> None: ...


class ManualClock:
    """A clock that only moves when told to (tests)."""

    def __init__(self, start_ms: int):
        self._now = int(start_ms)
        self._lock = threading.Lock()

    def now_ms(self) -> int:
        return self._now

    def advance(self, seconds: float) -> None:
        if not math.isfinite(seconds):
            raise ValueError("seconds must be a finite number")
        with self._lock:
            self._now += int(round(seconds * 1000))

    def set_ms(self, ms: int) -> None:
        with self._lock:
            self._now = int(ms)


class SimClock:
    """Simulated time = a base plus wall time elapsed since then, scaled by `speed`; it never runs backwards
    (a wall clock stepped back holds it still until real time catches up)."""

    def __init__(self, start_ms: int, speed: float = 1.0, wall: Callable[[], float] = time.time):
        if not (math.isfinite(speed) and speed > 0):
            raise ValueError("speed must be a positive number")
        self._wall = wall
        self._base_ms = int(start_ms)
        self._base_wall = wall()
        self.speed = float(speed)
        self._lock = threading.Lock()
        self._last = self._base_ms

    def now_ms(self) -> int:
        with self._lock:
            now = self._base_ms + int((self._wall() - self._base_wall) * 1000 * self.speed)
            self._last = max(self._last, now)
            return self._last

    def advance(self, seconds: float) -> None:
        if not (math.isfinite(seconds) and seconds >= 0):
            raise ValueError("the clock only moves forward")
        with self._lock:
            self._base_ms += int(round(seconds * 1000))


def wall_ms() -> int:
    return int(time.time() * 1000)


def ms_to_dt(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, tz=timezone.utc)


def fmt_time(ms: int) -> str:
    """RFC 3339 UTC with a `Z`, second precision unless there are milliseconds."""
    dt = datetime.fromtimestamp(ms // 1000, tz=timezone.utc)
    text = dt.strftime("%Y-%m-%dT%H:%M:%S")
    rem = ms % 1000
    return f"{text}.{rem:03d}Z" if rem else f"{text}Z"
