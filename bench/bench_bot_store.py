"""The bot on each store, in one run: does the loop wait on the store?  SQLite, PostgreSQL and DynamoDB (moto).

    python bench/bench_bot_store.py                       # 2 interleaved rounds of 15 s per backend
    python bench/bench_bot_store.py --rounds 3 --duration 20 --writes 1000 --reload-fills 5000

Table 1, the whole bot: `kalshi auto --sim` (market maker, seeded, 500 ms exchange-time interval, x60) with
KALSHI_STORE on each backend, the rounds interleaved (sqlite, postgresql, dynamodb, sqlite, ...) so a noisy machine
hits all alike.  From each run's --json report: decision latency (strategy + diff + risk: what a pass computes
before it sends anything) and loop latency (the same pass with the HTTP calls and the store writes it
triggered), p50/p99, medians over the rounds.  The goal: the decision latency the same within noise on every
backend (the store is written after the decision and its decision log is buffered off the pass).

Table 2, the bot state's own writes, in this process: what one pass may write (a fill, an order, the risk state,
a decision: buffered, then the flush of 100 of them), p50/p99 over --writes calls each; and the reload at bot
start (open the state and fold --reload-fills fills into the ledger), median of 3.

PostgreSQL is a throwaway 15 cluster with its durable defaults (fsync and synchronous commit on), on loopback.
DynamoDB is moto's server in this process: an emulator, so its numbers say nothing of AWS's latency (a region adds
milliseconds of network per request); it slows and grows with every item it holds, so table 2 gives it at most 100
writes a kind and 500 fills to reload.  SQLite runs as in production (WAL, synchronous=FULL).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Callable

from tabulate import tabulate

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repository: the package and the test servers

from kalshi_trading.auto.state import BotState  # noqa: E402
from kalshi_trading.models import BookSide  # noqa: E402
from kalshi_trading.store import open_store  # noqa: E402
from kalshi_trading.store.botstate import BotFill, StoredOrder  # noqa: E402

T0 = datetime(2026, 11, 30, 12, 0, tzinfo=timezone.utc)


def auto_run(store_url: str, duration: float, seed: int) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        env = {k: v for k, v in os.environ.items() if not k.startswith("KALSHI_")}
        env.update(KALSHI_DATA_DIR=os.path.join(tmp, "data"), KALSHI_LOG_DIR=os.path.join(tmp, "logs"),
                   KALSHI_ENV="sim", KALSHI_STORE=store_url)
        cmd = [sys.executable, "-m", "kalshi_trading", "auto", "--sim", "--strategy", "mm", "--speed", "60",
               "--duration", str(duration), "--interval-ms", "500", "--seed", str(seed), "--json"]
        out = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=duration + 180)
        if out.returncode != 0:
            raise SystemExit(f"kalshi auto on {store_url.split(':')[0]} failed ({out.returncode}): "
                             f"{out.stderr[-2000:]}")
        return json.loads(out.stdout[out.stdout.index("{"):])


def median_of(reports: list[dict], key: str) -> str:
    """The median over the runs of one figure of the reports' metrics ("-" when no run had it)."""
    values = [rep["metrics"][key] for rep in reports if rep["metrics"].get(key) is not None]
    return f"{statistics.median(values):.3f}" if values else "-"


def bot_fill(i: int) -> BotFill:
    return BotFill(f"t{i}/o{i}", f"o{i}", "KX-BENCH-0001", BookSide.BID if i % 2 else BookSide.ASK,
                   Decimal("0.52"), Decimal("1"), Decimal("0.0175"), T0 + timedelta(seconds=i))


def percentiles(samples: list[float]) -> tuple[str, str]:
    cuts = statistics.quantiles(samples, n=100, method="inclusive")
    return f"{cuts[49] * 1000:.2f}", f"{cuts[98] * 1000:.2f}"


def timed(fn: Callable[[int], object], n: int) -> list[float]:
    out = []
    for i in range(n):
        start = time.perf_counter()
        fn(i)
        out.append(time.perf_counter() - start)
    return out


def state_rows(name: str, fresh_url: Callable[[], str], writes: int, reload_fills: int) -> list[list[str]]:
    store = open_store(fresh_url(), env="bench")
    try:
        state = BotState(store.bot_state())
        rows = []
        ops: list[tuple[str, Callable[[int], object]]] = [
            ("write a fill", lambda i: state.write_fill(bot_fill(i))),
            ("save an order", lambda i: state.store.save_order(StoredOrder(
                f"o{i}", "KX-BENCH-0001", BookSide.BID, Decimal("0.50"), Decimal("5"), Decimal("0")))),
            ("save the risk state", lambda i: state.save_risk({"state": "active", "reason": "", "n": i})),
            ("log a decision (buffered)", lambda i: state.log_decision(
                T0 + timedelta(seconds=i), "KX-BENCH-0001", {"mid": "0.51", "pass": i}, [], [])),
        ]
        for op, fn in ops:
            rows.append([name, op, *percentiles(timed(fn, writes))])

        def flush_100(i: int) -> None:
            for k in range(100):
                state.log_decision(T0 + timedelta(seconds=i * 100 + k), "KX-BENCH-0001", {"k": k}, [], [])
            state.flush()

        rows.append([name, "flush 100 decisions", *percentiles(timed(flush_100, max(10, writes // 50)))])
    finally:
        store.close()
    url = fresh_url()
    store = open_store(url, env="bench")
    try:
        state = BotState(store.bot_state())
        for i in range(reload_fills):
            state.write_fill(bot_fill(i))
    finally:
        store.close()
    reloads = []
    for _ in range(3):
        again = open_store(url, env="bench")
        try:
            start = time.perf_counter()
            ledger = BotState(again.bot_state()).load_ledger()
            reloads.append(time.perf_counter() - start)
            assert len(ledger.seen) == reload_fills, "the reload must see every fill"
        finally:
            again.close()
    rows.append([name, f"reload at start ({reload_fills:,} fills)", f"{statistics.median(reloads) * 1000:.1f}", ""])
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--duration", type=float, default=15.0, help="wall seconds per bot run")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--writes", type=int, default=500, help="calls per bot-state write measured")
    parser.add_argument("--reload-fills", type=int, default=2000)
    args = parser.parse_args()

    from tests.store.dynamo_server import MotoServer, use_dummy_credentials
    from tests.store.pg_server import DURABLE, Cluster, unavailable

    if (why := unavailable()) is not None:
        raise SystemExit(f"PostgreSQL is needed: {why}")
    use_dummy_credentials()
    cluster = Cluster(DURABLE, directory="/var/tmp")
    moto = MotoServer()
    counter = iter(range(1, 1_000_000))
    with tempfile.TemporaryDirectory() as tmp:
        backends: dict[str, Callable[[], str]] = {
            "sqlite": lambda: f"sqlite://{tmp}/s{next(counter)}/",
            "postgresql": lambda: cluster.url(cluster.create_database()),
            "dynamodb (moto)": lambda: moto.url(f"b{next(counter)}_"),
        }
        try:
            cluster.start()
            moto.start()
            runs: dict[str, list[dict]] = {name: [] for name in backends}
            for r in range(args.rounds):
                for name, fresh in backends.items():
                    print(f"round {r + 1}/{args.rounds}: kalshi auto --sim on {name}", file=sys.stderr, flush=True)
                    runs[name].append(auto_run(fresh(), args.duration, args.seed))
            loop_rows = []
            for name, reports in runs.items():
                loop_rows.append([name, *(median_of(reports, key) for key in (
                    "decision_latency_ms_p50", "decision_latency_ms_p99", "loop_latency_ms_p50",
                    "loop_latency_ms_p99")), statistics.median(rep["fills"] for rep in reports)])
            print(f"\nkalshi auto --sim (mm, seed {args.seed}, x60, {args.duration:g} s wall), medians of "
                  f"{args.rounds} interleaved rounds")
            print(tabulate(loop_rows, headers=["store", "decision p50 ms", "decision p99 ms", "loop p50 ms",
                                               "loop p99 ms", "fills"], tablefmt="github"))
            rows = []
            for name, fresh in backends.items():
                moto_run = name.startswith("dynamodb")  # an emulator that slows (and grows) with every item
                rows += state_rows(name, fresh, min(args.writes, 100) if moto_run else args.writes,
                                   min(args.reload_fills, 500) if moto_run else args.reload_fills)
            print(f"\nthe bot state's writes ({args.writes} calls each) and its reload at start")
            print(tabulate(rows, headers=["store", "operation", "p50 ms (median for reload)", "p99 ms"],
                           tablefmt="github"))
        finally:
            moto.stop()
            cluster.destroy()


if __name__ == "__main__":
    main()
