"""The statistics of a backtest report, with numpy (the `model` extra): equity curve, drawdown, daily Sharpe,
adverse selection, time-weighted inventory, time both quoted and live.

Times are integer microseconds, prices and P&L float dollars: these are statistics over a path; the report's money
totals are exact decimals from the fills (`report.py`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Mapping, Sequence

import numpy as np

DAY_US = 86_400_000_000


@dataclass(frozen=True)
class Curve:
    """Net P&L (equity, starting at 0) at each sample time."""

    times: np.ndarray  # int64 microseconds
    equity: np.ndarray  # float dollars


def equity_curve(sample_times: Sequence[int], fill_times: Sequence[int], cash_flows: Sequence[float],
                 positions: Mapping[str, Sequence[float]], mids: Mapping[str, Sequence[float]],
                 settled: Mapping[str, tuple[int, float]]) -> Curve:
    """Cash from the fills (price and fee, signed) plus each position marked at its mid, forward-filled over stale
    spells; a settled market is marked at its payout from its settlement on."""
    times = np.asarray(sample_times, dtype=np.int64)
    ft = np.asarray(fill_times, dtype=np.int64)
    cash = np.concatenate(([0.0], np.cumsum(np.asarray(cash_flows, dtype=float))))
    equity = cash[np.searchsorted(ft, times, side="right")] if len(times) else np.zeros(0)
    for t, pos in positions.items():
        p = np.asarray(pos, dtype=float)
        mark = forward_fill(np.asarray(mids[t], dtype=float))
        if t in settled:
            at, value = settled[t]
            mark = np.where(times >= at, value, mark)
        equity = equity + np.where(p != 0, p * np.nan_to_num(mark, nan=0.0), 0.0)
    return Curve(times, equity)


def forward_fill(values: np.ndarray) -> np.ndarray:
    """NaNs replaced by the last number before them (leading NaNs stay)."""
    if not len(values):
        return values
    idx = np.where(np.isnan(values), 0, np.arange(len(values)))
    np.maximum.accumulate(idx, out=idx)
    out = values[idx]
    return out


def max_drawdown(curve: Curve) -> tuple[float, int | None]:
    """The largest fall of equity from a running peak (dollars, >= 0) and when it bottomed."""
    if not len(curve.equity):
        return 0.0, None
    peak = np.maximum.accumulate(np.maximum(curve.equity, 0.0))
    falls = peak - curve.equity
    i = int(np.argmax(falls))
    return float(falls[i]), int(curve.times[i]) if falls[i] > 0 else None


def daily_sharpe(curve: Curve) -> tuple[float | None, int]:
    """Mean over sample standard deviation (ddof 1) of the net P&L made on each UTC day the recording covers
    (not annualised); None with fewer than 2 days or no variation.  Returns (sharpe, days)."""
    if not len(curve.times):
        return None, 0
    days = curve.times // DAY_US
    last = np.flatnonzero(np.diff(days, append=days[-1] + 1))  # the last sample of each day
    closes = curve.equity[last]
    daily = np.diff(np.concatenate(([0.0], closes)))
    if len(daily) < 2:
        return None, len(daily)
    sd = float(np.std(daily, ddof=1))
    if sd == 0:
        return None, len(daily)
    return float(np.mean(daily) / sd), len(daily)


def adverse_selection(signed: Sequence[float], mids: Sequence[float], later: Sequence[float]
                      ) -> tuple[float | None, int]:
    """Count-weighted mean mid move after the fills, signed against the fill (positive: the mid moved against the
    side bought or sold), in cents; and how many fills had a mid both then and later."""
    s, m, l_ = (np.asarray(x, dtype=float) for x in (signed, mids, later))
    ok = ~(np.isnan(m) | np.isnan(l_))
    if not ok.any():
        return None, 0
    against = -np.sign(s[ok]) * (l_[ok] - m[ok])
    w = np.abs(s[ok])
    return float(np.sum(against * w) / np.sum(w) * 100), int(ok.sum())


@dataclass(frozen=True)
class Inventory:
    minimum: float
    maximum: float
    mean: float  # time-weighted
    mean_abs: float  # time-weighted


def inventory(start: int, end: int, fill_times: Sequence[int], signed: Sequence[float]) -> Inventory:
    """The position path of one market (0 before its first fill) over [start, end], time-weighted."""
    t = np.asarray(fill_times, dtype=np.int64)
    pos = np.concatenate(([0.0], np.cumsum(np.asarray(signed, dtype=float))))
    edges = np.concatenate(([start], np.clip(t, start, end), [end]))
    durations = np.diff(edges).astype(float)
    total = float(durations.sum())
    if total <= 0:
        return Inventory(float(pos.min()), float(pos.max()), float(pos[-1]), float(abs(pos[-1])))
    return Inventory(float(pos.min()), float(pos.max()), float(np.dot(pos, durations) / total),
                     float(np.dot(np.abs(pos), durations) / total))


def both_seconds(start: int, end: int, first: Iterable[tuple[int, bool]], second: Iterable[tuple[int, bool]]
                 ) -> tuple[float, float]:
    """Over [start, end]: seconds `second` held, and seconds both held (each a list of (time, state) changes,
    False before its first change)."""
    changes = sorted([(t, 0, s) for t, s in first] + [(t, 1, s) for t, s in second])
    state = [False, False]
    last = start
    held = both = 0
    for t, which, s in changes:
        t = min(max(t, start), end)
        if state[1]:
            held += t - last
            if state[0]:
                both += t - last
        last = t
        state[which] = s
    if state[1]:
        held += end - last
        if state[0]:
            both += end - last
    return held / 1e6, both / 1e6
