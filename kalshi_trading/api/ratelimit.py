"""Client-side token buckets, so the client waits instead of collecting 429s.

Tiers and costs from the reference (section 9): separate Read (GET) and Write buckets; a request
costs 10 tokens by default, a cancel 2 per order; batches bill per item.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Callable

# tier -> (read refill per second, write refill per second)
TIER_RATES: dict[str, tuple[int, int]] = {
    "basic": (200, 100),
    "advanced": (300, 300),
    "expert": (600, 600),
    "premier": (1000, 1000),
    "paragon": (2000, 2000),
    "prime": (4000, 4000),
    "prestige": (10000, 8000),
}

DEFAULT_COST = 10
CANCEL_COST = 2


class TokenBucket:
    """A thread-safe token bucket with an injected clock and sleep."""

    def __init__(
        self,
        rate: float,
        capacity: float,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ):
        if rate <= 0 or capacity <= 0:
            raise ValueError("rate and capacity must be positive")
        self.rate = rate
        self.capacity = capacity
        self._tokens = capacity
        self._clock = clock
        self._sleep = sleep
        self._stamp = clock()
        self._lock = threading.Lock()

    def _refill(self) -> None:
        now = self._clock()
        self._tokens = min(self.capacity, self._tokens + (now - self._stamp) * self.rate)
        self._stamp = now

    def acquire(self, cost: float) -> float:
        """Take `cost` tokens, sleeping until they are there.  Returns seconds waited."""
        cost = min(cost, self.capacity)  # a request dearer than the bucket still gets through when full
        waited = 0.0
        while True:
            with self._lock:
                self._refill()
                if self._tokens >= cost:
                    self._tokens -= cost
                    return waited
                wait = (cost - self._tokens) / self.rate
            self._sleep(wait)
            waited += wait

    @property
    def available(self) -> float:
        with self._lock:
            self._refill()
            return self._tokens


@dataclass
class RateLimiter:
    """The read and write buckets of one API key."""

    read: TokenBucket
    write: TokenBucket
    costs: dict[tuple[str, str], int] = field(default_factory=dict)

    @classmethod
    def for_tier(
        cls,
        tier: str,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        costs: dict[tuple[str, str], int] | None = None,
    ) -> "RateLimiter":
        read_rate, write_rate = TIER_RATES[tier]
        # Capacity: one second of read refill; two seconds of write refill except on Basic.
        write_capacity = write_rate * (1 if tier == "basic" else 2)
        return cls(
            TokenBucket(read_rate, read_rate, clock, sleep),
            TokenBucket(write_rate, write_capacity, clock, sleep),
            dict(costs or {}),
        )

    def cost(self, method: str, route: str, items: int = 1) -> int:
        """Tokens for one request: configured per (METHOD, route), cancels 2 per order, else 10 per item."""
        configured = self.costs.get((method.upper(), route))
        if configured is not None:
            return configured * items
        if method.upper() == "DELETE" and route.startswith("/portfolio/events/orders"):
            return CANCEL_COST * items
        return DEFAULT_COST * items

    def acquire(self, method: str, route: str, items: int = 1) -> float:
        bucket = self.read if method.upper() == "GET" else self.write
        return bucket.acquire(self.cost(method, route, items))
