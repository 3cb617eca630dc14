"""Realized P&L throughput: our exact integer-lot engine vs a naive Decimal FIFO vs a float FIFO (speed only).

    python bench/bench_pnl.py                 # 1,000,000 seeded fills over 1,000 tickers, median of 5 runs
    python bench/bench_pnl.py --fills 100000 --runs 3

Every engine starts from the same list of `Fill` domain objects (Decimal fields), oldest first.
Prints a table of median wall time and fills/s; the float baseline's answer is shown only to compare speed.
"""

from __future__ import annotations

import argparse
import gc
import random
import statistics
import time
from collections import deque
from datetime import datetime, timedelta, timezone
from decimal import Decimal

from tabulate import tabulate

from kalshi_trading.models import Fill
from kalshi_trading.money import taker_fee
from kalshi_trading.trading.pnl import LotBook, compute_pnl


def synthetic_fills(n: int, tickers: int, seed: int = 7) -> list[Fill]:
    """Seeded random fills, oldest first: cent prices, whole and fractional counts, taker fees per the formula."""
    rng = random.Random(seed)
    names = [f"KX-BENCH-{i:04d}" for i in range(tickers)]
    prices = [Decimal(p).scaleb(-2) for p in range(1, 100)]
    counts = [Decimal(c) for c in range(1, 21)] + [Decimal("0.50"), Decimal("2.25"), Decimal("7.01")]
    fees = {(c, p): taker_fee(c, p) for c in counts for p in prices}
    t0 = datetime(2026, 1, 1, tzinfo=timezone.utc)
    fills = []
    for i in range(n):
        c, p = rng.choice(counts), rng.choice(prices)
        fills.append(
            Fill(
                fill_id=f"f{i}", order_id=f"o{i}", ticker=rng.choice(names), outcome_side="yes",
                book_side="bid" if rng.random() < 0.5 else "ask", count=c, yes_price=p,
                is_taker=True, fee=fees[(c, p)], created_time=t0 + timedelta(seconds=i),
            )
        )
    return fills


def decimal_fifo(fills: list[Fill]) -> Decimal:
    """The obvious exact implementation: Decimal everywhere, one deque of [count, price] per ticker."""
    books: dict[str, list] = {}
    realized = Decimal(0)
    one = Decimal(1)
    for f in fills:
        state = books.get(f.ticker)
        if state is None:
            state = books[f.ticker] = [Decimal(0), deque()]
        d = f.count if f.book_side == "bid" else -f.count
        pos, lots = state
        if pos == 0 or (pos > 0) == (d > 0):
            lots.append([abs(d), f.yes_price if d > 0 else one - f.yes_price])
        else:
            disposed = f.yes_price if pos > 0 else one - f.yes_price
            q = min(abs(d), abs(pos))
            rest = abs(d) - q
            while q > 0:
                lot = lots[0]
                take = min(q, lot[0])
                realized += (disposed - lot[1]) * take
                lot[0] -= take
                q -= take
                if lot[0] == 0:
                    lots.popleft()
            if rest > 0:
                lots.append([rest, f.yes_price if d > 0 else one - f.yes_price])
        state[0] = pos + d
    return realized


def float_fifo(fills: list[Fill]) -> float:
    """Same algorithm on floats: fast-ish but inexact; here only as a speed reference."""
    books: dict[str, list] = {}
    realized = 0.0
    for f in fills:
        state = books.get(f.ticker)
        if state is None:
            state = books[f.ticker] = [0.0, deque()]
        c, y = float(f.count), float(f.yes_price)
        d = c if f.book_side == "bid" else -c
        pos, lots = state
        if abs(pos) < 1e-9 or (pos > 0) == (d > 0):
            lots.append([abs(d), y if d > 0 else 1.0 - y])
        else:
            disposed = y if pos > 0 else 1.0 - y
            q = min(abs(d), abs(pos))
            rest = abs(d) - q
            while q > 1e-9:
                lot = lots[0]
                take = min(q, lot[0])
                realized += (disposed - lot[1]) * take
                lot[0] -= take
                q -= take
                if lot[0] <= 1e-9:
                    lots.popleft()
            if rest > 1e-9:
                lots.append([rest, y if d > 0 else 1.0 - y])
        state[0] = pos + d
    return realized


def int_fifo_tuples(rows: list[tuple]) -> int:
    """Reference floor: integer FIFO on pre-converted (ticker, signed_count, yes_price) tuples; no fees, no lots."""
    books: dict[str, list] = {}
    realized = 0
    for ticker, d, y in rows:
        state = books.get(ticker)
        if state is None:
            state = books[ticker] = [0, deque()]
        pos, lots = state
        if pos == 0 or (pos > 0) == (d > 0):
            lots.append([abs(d), y if d > 0 else 10_000 - y])
        else:
            disposed = y if pos > 0 else 10_000 - y
            q = min(abs(d), abs(pos))
            rest = abs(d) - q
            while q:
                lot = lots[0]
                take = min(q, lot[0])
                realized += (disposed - lot[1]) * take
                lot[0] -= take
                q -= take
                if not lot[0]:
                    lots.popleft()
            if rest:
                lots.append([rest, y if d > 0 else 10_000 - y])
        state[0] = pos + d
    return realized


def ours_realized_only(fills: list[Fill]) -> Decimal:
    book = LotBook("fifo", keep_lots=False)
    book.apply_fills(fills)
    return Decimal(book.realized_units()).scaleb(-6)


def ours_report(fills: list[Fill], method: str) -> Decimal:
    return compute_pnl(fills, method=method, presorted=True).realized_pnl


def interleaved(cases: list[tuple[str, object]], runs: int) -> list[tuple[str, float, object]]:
    """Run every case once per round (so machine noise hits all alike); median seconds per case."""
    times: dict[str, list[float]] = {name: [] for name, _ in cases}
    answers: dict[str, object] = {}
    for _ in range(runs):
        for name, fn in cases:
            gc.collect()
            start = time.perf_counter()
            answers[name] = fn()
            times[name].append(time.perf_counter() - start)
    return [(name, statistics.median(times[name]), answers[name]) for name, _ in cases]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--fills", type=int, default=1_000_000)
    parser.add_argument("--tickers", type=int, default=1_000)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()

    fills = synthetic_fills(args.fills, args.tickers)
    rows = [(f.ticker, int(f.signed_count * 100), int(f.yes_price * 10_000)) for f in fills]
    cases = [
        ("ours: LotBook fifo, realized only (no lot records)", lambda: ours_realized_only(fills)),
        ("ours: compute_pnl fifo, totals only (sorts by time)",
         lambda: compute_pnl(fills, with_lots=False).realized_pnl),
        ("ours: compute_pnl fifo, full report + closed lots", lambda: ours_report(fills, "fifo")),
        ("ours: compute_pnl avg, full report + closed lots", lambda: ours_report(fills, "avg")),
        ("naive Decimal FIFO", lambda: decimal_fifo(fills)),
        ("float FIFO (inexact, speed only)", lambda: float_fifo(fills)),
        ("int FIFO on pre-converted tuples (floor)", lambda: int_fifo_tuples(rows)),
    ]
    results = interleaved(cases, args.runs)
    base = next(s for n, s, _ in results if n.startswith("naive Decimal"))
    table = [
        (name, f"{seconds:.3f}", f"{args.fills / seconds:,.0f}", f"{base / seconds:.2f}x", str(answer)[:16])
        for name, seconds, answer in results
    ]
    print(f"{args.fills:,} fills over {args.tickers:,} tickers, median of {args.runs} interleaved runs")
    print(tabulate(table, headers=["engine", "median s", "fills/s", "vs Decimal", "realized $"]))


if __name__ == "__main__":
    main()
