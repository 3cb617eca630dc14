"""Binary-option value per tick, and the strategies' decision latency.

    python bench/bench_pricing.py                  # 20,000 ticks, 41-strike ladder, median of 5 runs
    python bench/bench_pricing.py --ticks 5000 --runs 3

Pricing: our scalar `math.erfc` N(d2) vs `scipy.stats.norm.cdf` called once per value (how a loop would
call it), and over a ladder of strikes per tick: scalar loop vs numpy vectorised vs scipy vectorised.
Decisions: `MarketMaker.targets` and `EdgeTaker.targets` per call on seeded books, p50/p99 in microseconds.
scipy is imported lazily (the `model` extra); times are wall clock, medians of the runs.
"""

from __future__ import annotations

import argparse
import math
import random
import statistics
import time
from datetime import datetime, timedelta, timezone
from decimal import Decimal

from tabulate import tabulate

from kalshi_trading.auto.botconfig import MarketConfig
from kalshi_trading.auto.pricing import RecordedUnderlying, prob_above, prob_above_ladder
from kalshi_trading.auto.strategies import EdgeTaker, MarketMaker
from kalshi_trading.auto.types import BookUpdate, MarketSnapshot, SimpleBookView
from kalshi_trading.money import GRIDS

T_YEARS = 6 / 24 / 365
VOL = 0.6


def ticks(n: int, seed: int = 7) -> list[float]:
    rng = random.Random(seed)
    px, out = 100_000.0, []
    for _ in range(n):
        px *= math.exp(rng.gauss(0, 0.0005))
        out.append(px)
    return out


def timed(fn, runs: int) -> float:
    samples = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - t0)
    return statistics.median(samples)


def bench_pricing(n: int, ladder: int, runs: int) -> list[list]:
    from scipy.stats import norm  # lazy: only the benchmark needs it

    spots = ticks(n)
    strike = 100_000.0
    strikes = [strike * (0.9 + 0.2 * i / max(ladder - 1, 1)) for i in range(ladder)]  # +-10% around spot
    sd = VOL * math.sqrt(T_YEARS)
    drift = -0.5 * VOL * VOL * T_YEARS

    def ours():
        for s in spots:
            prob_above(s, strike, T_YEARS, VOL)

    def scipy_scalar():
        cdf = norm.cdf
        for s in spots:
            cdf((math.log(s / strike) + drift) / sd)

    def ours_ladder():
        for s in spots:
            for k in strikes:
                prob_above(s, k, T_YEARS, VOL)

    def numpy_ladder():
        import numpy as np

        k = np.asarray(strikes)  # a ladder is built once, priced every tick
        for s in spots:
            prob_above_ladder(s, k, T_YEARS, VOL)

    def scipy_ladder():
        import numpy as np

        k = np.asarray(strikes)
        for s in spots:
            norm.cdf((np.log(s / k) + drift) / sd)

    rows = []
    base = timed(ours, runs)
    scalar = timed(scipy_scalar, runs)
    rows.append(["scalar N(d2), math.erfc (ours)", n, base / n * 1e6, 1.0])
    rows.append(["scalar N(d2), scipy.stats.norm.cdf", n, scalar / n * 1e6, scalar / base])
    lb = timed(ours_ladder, runs)
    rows.append([f"ladder of {ladder}: scalar loop (ours)", n, lb / n * 1e6, lb / base])
    nl = timed(numpy_ladder, runs)
    rows.append([f"ladder of {ladder}: numpy vectorised (ours)", n, nl / n * 1e6, nl / base])
    sl = timed(scipy_ladder, runs)
    rows.append([f"ladder of {ladder}: scipy norm.cdf vectorised", n, sl / n * 1e6, sl / base])
    return rows


def _snapshot(rng: random.Random, now: datetime, close: datetime) -> MarketSnapshot:
    bid = Decimal(rng.randint(20, 60)) / 100
    ask = bid + Decimal(rng.randint(1, 15)) / 100
    book = SimpleBookView.top(bid, Decimal(rng.randint(1, 50)), ask, Decimal(rng.randint(1, 50)))
    cfg = MarketConfig(max_inventory_yes=Decimal(50), max_inventory_no=Decimal(50), quote_size=Decimal(5),
                       min_edge=Decimal("0.02"))
    return MarketSnapshot("KX-BENCH", book, Decimal(rng.randint(-40, 40)), (), cfg, GRIDS["linear_cent"],
                          "quadratic", Decimal(1), now, close, "greater", Decimal(100_000), None)


def bench_decisions(calls: int) -> list[list]:
    rng = random.Random(11)
    t0 = datetime(2026, 3, 1, 12, tzinfo=timezone.utc)
    history = RecordedUnderlying((t0 + timedelta(seconds=i), px) for i, px in enumerate(ticks(7200)))
    now = t0 + timedelta(seconds=7199)
    close = now + timedelta(hours=6)
    snaps = [_snapshot(rng, now, close) for _ in range(calls)]
    event = BookUpdate("KX-BENCH", now)
    edge_cached = EdgeTaker(history, vol_window=timedelta(hours=1))
    edge_fresh = EdgeTaker(history, vol_window=timedelta(hours=1), vol_refresh=timedelta(0))
    rows = []
    for label, strat in [("MarketMaker.targets", MarketMaker()),
                         ("EdgeTaker.targets (vol cached 1 s)", edge_cached),
                         ("EdgeTaker.targets (vol from 3,600 points each call)", edge_fresh)]:
        samples = []
        for s in snaps:
            t = time.perf_counter()
            strat.targets(event, s)
            samples.append(time.perf_counter() - t)
        samples.sort()
        rows.append([label, calls, samples[len(samples) // 2] * 1e6, samples[int(len(samples) * 0.99)] * 1e6])
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--ticks", type=int, default=20_000)
    ap.add_argument("--ladder", type=int, default=41)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--calls", type=int, default=5_000)
    args = ap.parse_args()
    print(tabulate(bench_pricing(args.ticks, args.ladder, args.runs),
                   headers=["binary value per tick", "ticks", "median us/tick", "x ours scalar"],
                   floatfmt=(".2f", "d", ".3f", ".1f")))
    print()
    print(tabulate(bench_decisions(args.calls), headers=["decision", "calls", "p50 us", "p99 us"],
                   floatfmt=(".2f", "d", ".1f", ".1f")))


if __name__ == "__main__":
    main()
