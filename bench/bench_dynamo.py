"""The DynamoDB store beside SQLite, in the same run: journal ingest (fills/s, batched), the trades export of the
same fills, and the bot's fill writes one at a time (p50/p99) and their reload at bot start.

    python bench/bench_dynamo.py                       # 5,000 fills, median of 3 runs
    python bench/bench_dynamo.py --trades 100000 --runs 1 --bot-fills 500

DynamoDB here is moto's server (`moto_server`, a separate process on loopback; dummy credentials).  moto is a
Python emulator: its numbers measure this adapter's work and moto's, and say NOTHING about AWS's latency or
throughput (a real region adds milliseconds of network per request, on-demand tables scale by partition, and
BatchWriteItem / Query run in parallel there).  SQLite runs as in production (WAL, synchronous=FULL) in /tmp.
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Callable

from bench_pnl import synthetic_fills
from tabulate import tabulate

from kalshi_trading.models import BookSide
from kalshi_trading.store import Store, open_store
from kalshi_trading.store.botstate import BotFill
from kalshi_trading.trading.csv_export import export_trades


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_moto(port: int) -> subprocess.Popen:
    server = subprocess.Popen([os.path.join(os.path.dirname(sys.executable), "moto_server"), "-H", "127.0.0.1",
                               "-p", str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return server
        except OSError:
            time.sleep(0.1)
    server.kill()
    raise SystemExit("moto_server did not start")


def median_time(fn: Callable[[], object], runs: int) -> tuple[float, object]:
    times, result = [], None
    for _ in range(runs):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), result


def bot_fill(i: int) -> BotFill:
    """One of the bot's fills (a market maker's: alternating sides)."""
    return BotFill(f"t{i}/o{i}", f"o{i}", "KX-BENCH-0001", BookSide.BID if i % 2 else BookSide.ASK,
                   Decimal("0.41"), Decimal("2"), Decimal("0.0175"),
                   datetime(2026, 1, 1, tzinfo=timezone.utc) + timedelta(seconds=i))


def bench_backend(name: str, make_url: Callable[[], str], fills: list, bot_fills: int, runs: int,
                  workdir: Path) -> list[tuple]:
    stores: list[Store] = []

    def fresh(url: str | None = None) -> Store:
        store = open_store(url or make_url(), env="sim")
        stores.append(store)
        return store

    def ingest() -> int:
        return fresh().journal().record_fills(fills)

    ingest_s, n = median_time(ingest, runs)
    journal = stores[-1].journal()
    export_s, m = median_time(lambda: export_trades(journal, workdir / f"{name}.csv", force=True), runs)

    bot_store = fresh()
    state = bot_store.bot_state()
    latencies = []
    for i in range(bot_fills):
        start = time.perf_counter()
        state.write_fill(bot_fill(i))
        latencies.append(time.perf_counter() - start)
    reload_s, loaded = median_time(lambda: len(fresh(bot_store.url.text).bot_state().fills()), runs)
    for store in stores:
        store.close()
    cuts = statistics.quantiles(latencies, n=100)
    return [
        (name, "journal ingest: record_fills, one batch", n, f"{ingest_s:.3f} s", f"{n / ingest_s:,.0f} fills/s"),
        (name, "export-trades of those fills", m, f"{export_s:.3f} s", f"{m / export_s:,.0f} rows/s"),
        (name, "bot write_fill, one at a time", bot_fills, f"p50 {cuts[49] * 1000:.2f} ms",
         f"p99 {cuts[98] * 1000:.2f} ms"),
        (name, "bot state reload at start: fills()", loaded, f"{reload_s:.3f} s", f"{loaded / reload_s:,.0f} fills/s"),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--trades", type=int, default=5_000, help="fills ingested and exported")
    parser.add_argument("--tickers", type=int, default=200)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--bot-fills", type=int, default=300)
    args = parser.parse_args()

    os.environ.update(AWS_ACCESS_KEY_ID="bench", AWS_SECRET_ACCESS_KEY="bench", AWS_EC2_METADATA_DISABLED="true")
    fills = synthetic_fills(args.trades, args.tickers)
    port = free_port()
    server = start_moto(port)
    counter = iter(range(1_000_000))
    try:
        with tempfile.TemporaryDirectory(dir="/tmp") as tmp:
            workdir = Path(tmp)
            rows = bench_backend("sqlite", lambda: f"sqlite://{workdir}/s{next(counter)}/", fills, args.bot_fills,
                                 args.runs, workdir)
            rows += bench_backend(
                "dynamodb (moto)", lambda: f"dynamodb://us-east-1?endpoint=http://127.0.0.1:{port}"
                f"&prefix=b{next(counter)}_", fills, args.bot_fills, args.runs, workdir)
            same = (workdir / "sqlite.csv").read_bytes() == (workdir / "dynamodb (moto).csv").read_bytes()
    finally:
        server.terminate()
        try:
            server.wait(5)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(5)
    print(f"{args.trades:,} fills over {args.tickers:,} tickers; median of {args.runs} runs; "
          f"{args.bot_fills} bot fills (p50/p99 of each write); exports identical: {same}")
    print(tabulate(rows, headers=["backend", "case", "rows", "time", "rate"]))
    print("moto is a Python emulator on loopback: these DynamoDB numbers say nothing about AWS's latency or "
          "throughput.")


if __name__ == "__main__":
    main()
