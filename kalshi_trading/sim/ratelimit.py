"""Token buckets per account (reference section 9): read and write, default cost 10,
cancels 2 per order, batches billed per item and admitted only whole."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Callable

DEFAULT_COST = 10
CANCEL_COST = 2


@dataclass(frozen=True)
class RateLimits:
    """Refill per second and capacity in tokens.  Defaults are generous (Prestige-like x2)."""

    read_rate: float = 20_000.0
    read_capacity: float = 20_000.0
    write_rate: float = 16_000.0
    write_capacity: float = 32_000.0
    tier: str = "prestige"


class Bucket:
    __slots__ = ("rate", "capacity", "tokens", "stamp")

    def __init__(self, rate: float, capacity: float, now: float):
        self.rate = rate
        self.capacity = capacity
        self.tokens = capacity
        self.stamp = now

    def take(self, cost: float, now: float) -> bool:
        self.tokens = min(self.capacity, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        if cost > self.tokens:
            return False
        self.tokens -= cost
        return True


class RateLimiter:
    def __init__(self, limits: RateLimits, clock: Callable[[], float] = time.monotonic):
        self.limits = limits
        self.clock = clock
        self._buckets: dict[tuple[str, str], Bucket] = {}
        self._lock = threading.Lock()

    def allow(self, account_id: str, kind: str, cost: float) -> bool:
        now = self.clock()
        with self._lock:
            bucket = self._buckets.get((account_id, kind))
            if bucket is None:
                lim = self.limits
                if kind == "read":
                    rate, cap = lim.read_rate, lim.read_capacity
                else:
                    rate, cap = lim.write_rate, lim.write_capacity
                bucket = self._buckets[(account_id, kind)] = Bucket(rate, cap, now)
            return bucket.take(cost, now)


ENDPOINT_COSTS = [
    {"method": "DELETE", "path": "/portfolio/events/orders/{order_id}", "cost": CANCEL_COST},
    {"method": "DELETE", "path": "/portfolio/events/orders/batched", "cost": CANCEL_COST},
    {"method": "GET", "path": "/portfolio/orders/{order_id}", "cost": 5},
]
