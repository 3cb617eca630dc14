"""Journal speed: fill ingest (batched vs one commit per fill) and trades CSV export vs a naive Decimal export.

    python bench/bench_journal.py                       # 1,000,000 trades exported, median of 3 runs
    python bench/bench_journal.py --trades 100000 --runs 3 --per-commit 500

The journal runs as in production (WAL, synchronous=FULL), in a temporary directory on the same disk as /tmp.
"""

from __future__ import annotations

import argparse
import csv
import statistics
import tempfile
import time
from decimal import Decimal
from pathlib import Path

from bench_pnl import synthetic_fills
from tabulate import tabulate

from kalshi_trading.store.sqlite.journal import SqliteJournal
from kalshi_trading.trading.csv_export import export_trades


def naive_export(journal: SqliteJournal, path: Path) -> int:
    """The obvious way: read Fill objects, do the netting in Decimal, write with csv.DictWriter."""
    positions: dict[str, Decimal] = {}
    rows = 0
    with open(path, "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=[
            "created_time", "fill_id", "order_id", "ticker", "side", "action", "count", "yes_price", "no_price",
            "price", "notional", "fee", "is_taker", "strategy"])
        writer.writeheader()
        for f in journal.fills():
            before = positions.get(f.ticker, Decimal(0))
            d = f.signed_count
            selling = (d > 0 and before < 0) or (d < 0 and before > 0)
            side = ("no" if before < 0 else "yes") if d > 0 else ("yes" if before > 0 else "no")
            price = f.yes_price if side == "yes" else f.no_price
            positions[f.ticker] = before + d
            writer.writerow({
                "created_time": f.created_time.isoformat(), "fill_id": f.fill_id, "order_id": f.order_id,
                "ticker": f.ticker, "side": side, "action": "sell" if selling else "buy",
                "count": f"{f.count:.2f}", "yes_price": f"{f.yes_price:.4f}", "no_price": f"{f.no_price:.4f}",
                "price": f"{price:.4f}", "notional": f"{price * f.count:.6f}", "fee": f"{f.fee:.6f}",
                "is_taker": "true" if f.is_taker else "false", "strategy": "",
            })
            rows += 1
    return rows


def median_time(fn, runs: int) -> tuple[float, object]:
    times, result = [], None
    for _ in range(runs):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), result


def bench_ingest(workdir: Path, fills: list, per_commit: int, runs: int) -> list[tuple]:
    def batched():
        path = workdir / f"ingest-{time.perf_counter_ns()}.db"
        with SqliteJournal.open(path) as j:
            return j.record_fills(fills)

    def one_commit_each():
        path = workdir / f"single-{time.perf_counter_ns()}.db"
        with SqliteJournal.open(path) as j:
            return sum(j.record_fills([f]) for f in fills[:per_commit])

    batch_s, n = median_time(batched, runs)
    single_s, m = median_time(one_commit_each, runs)
    return [
        ("ingest: record_fills, executemany in one transaction", n, batch_s, n / batch_s),
        ("ingest: one transaction (fsync) per fill", m, single_s, m / single_s),
    ]


def bench_export(workdir: Path, fills: list, runs: int, naive_runs: int) -> list[tuple]:
    path = workdir / "export.db"
    with SqliteJournal.open(path) as j:
        j.record_fills(fills)

    def ours():
        out = workdir / "ours.csv"
        return export_trades(j, out, force=True)

    def naive():
        return naive_export(j, workdir / "naive.csv")

    with SqliteJournal.open(path) as j:
        ours_s, n = median_time(ours, runs)
        naive_s, m = median_time(naive, naive_runs)
    same = (workdir / "ours.csv").read_text().splitlines()[1].split(",")[4:] == \
        (workdir / "naive.csv").read_text().splitlines()[1].split(",")[4:]
    return [
        ("export: export_trades (trade_csv: stored CSV pieces, one ordered scan)", n, ours_s, n / ours_s),
        (f"export: naive Fill/Decimal + DictWriter (same columns: {same})", m, naive_s, m / naive_s),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--trades", type=int, default=1_000_000, help="fills ingested and exported")
    parser.add_argument("--tickers", type=int, default=1_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--naive-runs", type=int, default=1)
    parser.add_argument("--per-commit", type=int, default=300, help="fills for the one-commit-per-fill case")
    args = parser.parse_args()

    fills = synthetic_fills(args.trades, args.tickers)
    with tempfile.TemporaryDirectory(dir="/tmp") as tmp:
        workdir = Path(tmp)
        rows = bench_ingest(workdir, fills, args.per_commit, args.runs)
        rows += bench_export(workdir, fills, args.runs, args.naive_runs)
    print(f"{args.trades:,} fills over {args.tickers:,} tickers; median of {args.runs} runs "
          f"({args.naive_runs} for the naive export); WAL + synchronous=FULL")
    print(tabulate([(name, f"{n:,}", f"{s:.3f}", f"{rate:,.0f}") for name, n, s, rate in rows],
                   headers=["case", "rows", "median s", "rows/s"]))


if __name__ == "__main__":
    main()
