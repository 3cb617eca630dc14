"""Statistics of market-data series (pure functions, floats: these are model inputs, never money)."""

from __future__ import annotations

import math
from datetime import datetime
from typing import Sequence

from kalshi_trading.pricing import SECONDS_PER_YEAR  # the same year as the pricing's time to expiry


def realized_volatility(points: Sequence[tuple[datetime, float]], min_returns: int = 2) -> float | None:
    """Annualised volatility from timestamped prices: sqrt(sum of squared log returns / elapsed years).

    Dividing by elapsed time (not the number of returns) makes irregular sampling harmless.
    Non-positive prices and non-increasing timestamps are skipped.  None if too little data.
    """
    total_sq = 0.0
    total_years = 0.0
    n = 0
    prev_ts = None
    prev_px = 0.0
    for ts, px in points:
        if px <= 0:
            continue
        if prev_ts is not None:
            dt = (ts - prev_ts).total_seconds()
            if dt <= 0:
                continue
            r = math.log(px / prev_px)
            total_sq += r * r
            total_years += dt / SECONDS_PER_YEAR
            n += 1
        prev_ts, prev_px = ts, px
    if n < min_returns or total_years <= 0:
        return None
    return math.sqrt(total_sq / total_years)
