"""Retry policy: exponential backoff with full jitter, capped in attempts and total time.

With the defaults and the default timeouts (one attempt at most 3.05 + 10 s), a request ends within
`budget(13.05)` = 30 s: 5 attempts and 0.2 + 0.4 + 0.8 + 1.6 s of backoff would be 68.25 s, so the budget,
not the attempt count, is what bounds a server that trickles or never answers.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime


@dataclass
class RetryPolicy:
    max_attempts: int = 5
    base_delay: float = 0.2
    max_delay: float = 5.0
    max_total: float = 30.0
    rng: random.Random = field(default_factory=random.Random, repr=False)

    def budget(self, attempt_deadline: float) -> float:
        """Seconds one request may take, retries included: `max_total`, but always room for two full attempts."""
        return max(self.max_total, 2 * attempt_deadline)

    def delay(self, attempt: int, retry_after: float | None = None) -> float:
        """Seconds to wait before attempt `attempt + 1` (attempt counts from 1)."""
        if retry_after is not None:
            return min(max(retry_after, 0.0), self.max_delay * 4)
        ceiling = min(self.max_delay, self.base_delay * (2 ** (attempt - 1)))
        return self.rng.uniform(0, ceiling)


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """`Retry-After` as seconds: either delta-seconds or an HTTP date.  Kalshi sends none; proxies may."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    now = now or datetime.now(timezone.utc)
    return max(0.0, (when - now).total_seconds())
