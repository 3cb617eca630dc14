"""An event's forecast as percentiles: the distribution the simulated world prices the event's markets with
(`World.fair`), read off as a cumulative distribution over the markets' strikes and interpolated.

Floats are fine here: model quantities, never money.
"""

from __future__ import annotations

from itertools import pairwise


def _cdf(ex, event) -> list[tuple[float, float]]:
    """(x, P(value <= x)) points, ascending, for an event with a numeric underlying; [] otherwise."""
    engine = ex.engine
    now = ex.clock.now_ms()
    markets = [engine.markets[t] for t in event.market_tickers if t in engine.markets]
    if event.kind == "btc":
        return sorted((m.floor_strike, 1.0 - ex.world.fair(m, now)) for m in markets)
    if event.kind != "temp":
        return []
    bins = []  # (lower edge, upper edge, probability) over the reported integer high
    for m in markets:
        p = ex.world.fair(m, now)
        if m.strike_type == "less":
            bins.append((m.cap_strike - 10.5, m.cap_strike - 0.5, p))
        elif m.strike_type == "greater":
            bins.append((m.floor_strike + 0.5, m.floor_strike + 10.5, p))
        else:
            bins.append((m.floor_strike - 0.5, m.cap_strike + 0.5, p))
    bins.sort()
    total = sum(p for _, _, p in bins) or 1.0
    points: list[tuple[float, float]] = []
    running = 0.0
    for lo, hi, p in bins:
        if not points:
            points.append((lo, 0.0))
        running += p / total
        points.append((hi, running))
    return points


def _quantile(points: list[tuple[float, float]], q: float) -> float:
    if q <= points[0][1]:
        return points[0][0]
    for (x0, f0), (x1, f1) in pairwise(points):
        if f1 >= q:
            return x1 if f1 == f0 else x0 + (x1 - x0) * (q - f0) / (f1 - f0)
    return points[-1][0]


def percentile_points(ex, event, percentiles: list[int]) -> list[dict]:
    """PercentilePoint rows (percentile in hundredths of a percent, 0-9999) or [] without a forecast."""
    points = _cdf(ex, event)
    if len(points) < 2:
        return []
    out = []
    for pct in percentiles:
        x = _quantile(points, pct / 10_000)
        if event.kind == "btc":
            out.append({"percentile": pct, "raw_numerical_forecast": x, "numerical_forecast": round(x, 2),
                        "formatted_forecast": f"${x:,.2f}"})
        else:
            out.append({"percentile": pct, "raw_numerical_forecast": x, "numerical_forecast": round(x, 1),
                        "formatted_forecast": f"{x:.1f}°F"})
    return out
