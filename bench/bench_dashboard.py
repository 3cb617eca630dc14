"""The dashboard under a big state: 200 open positions and 10,000 journal fills.

    python bench/bench_dashboard.py [--positions 200] [--fills 10000] [--runs 10] [--refresh 0.5]

Measured in one run, medians (p50) and the slowest of each:
- page load in Chromium (Playwright): from `goto /portfolio` to the 200 positions on the page;
- update round trip in Chromium: from a fill on the simulator (the demo account buys one more contract over
  HTTP) to the page showing the new position, without a reload; it is bounded below by the dashboard's
  --refresh (the board's read) and the page's poll (half of it, at most a second);
- beside them, the obvious alternatives: the same section's JSON fetched without a browser
  (`GET /api/section/portfolio`), the board's own read of it (the dashboard's `read_ms`: sync, balance,
  positions, batch market and book reads, lot P&L over every fill), and `kalshi portfolio --json` run in-process
  (the CLI's way to the same numbers).

The simulator is served from this process on loopback; positions are made through its engine in copied one-cent
markets that close in a year (tests/e2e/positions.py); the journal's fills are written through the storage port
(98 closed markets of 100 fills each, after `kalshi sync` brings in the 200 real ones).  Not a test.
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

import httpx
from tabulate import tabulate

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from kalshi_trading.models import BookSide, Fill, OrderRequest, Side, TimeInForce  # noqa: E402
from kalshi_trading.sim.runtime import start_embedded  # noqa: E402
from kalshi_trading.store import open_store  # noqa: E402
from tests.e2e.conftest import client_for  # noqa: E402
from tests.e2e.positions import open_positions  # noqa: E402
from tests.ops.conftest import CHROMIUM, CHROMIUM_ARGS, Dashboard  # noqa: E402

CLI_DRIVER = """
import json, sys, time
from typer.testing import CliRunner
from kalshi_trading.cli.main import app
runs, runner, times = int(sys.argv[1]), CliRunner(), []
for _ in range(runs + 1):
    t0 = time.perf_counter()
    result = runner.invoke(app, ["portfolio", "--json"])
    times.append(time.perf_counter() - t0)
    if result.exit_code:
        sys.exit(f"exit {result.exit_code}: {result.output[-800:]}")
print(json.dumps(times[1:]))
"""


def cli_env(base_url: str, data: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KALSHI_")}
    env.update(KALSHI_ENV="sim", KALSHI_API_BASE=base_url, KALSHI_DATA_DIR=str(data), KALSHI_RATE_TIER="prestige",
               KALSHI_LOG_DIR=str(data / "logs"), NO_COLOR="1",
               PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    return env


def journal_fills(data: Path, total: int) -> int:
    """Closed round trips on synthetic markets (100 fills each, flat at the end) through the store port."""
    store = open_store(f"sqlite://{data}/sim/", env="sim")
    start = datetime.now(timezone.utc) - timedelta(days=30)
    fills = []
    for i in range(total):
        market, n = divmod(i, 100)
        buy = n % 2 == 0
        price = Decimal(30 + (i * 7) % 40) / 100
        fills.append(Fill(f"bench-{i}", f"bench-order-{i}", f"KXBENCH-{market:03d}", Side.YES if buy else Side.NO,
                          BookSide.BID if buy else BookSide.ASK, Decimal(1 + n % 3 if buy else 1 + (n - 1) % 3),
                          price, False, Decimal("0.0100"), start + timedelta(seconds=i * 250)))
    try:
        return store.journal().record_fills(fills)
    finally:
        store.close()


def p50(values: list[float]) -> str:
    return f"{statistics.median(values) * 1000:.0f}"


def worst(values: list[float]) -> str:
    return f"{max(values) * 1000:.0f}"


def browser_runs(url: str, tickers: list[str], me, runs: int) -> tuple[list[float], list[float]]:
    from playwright.sync_api import sync_playwright

    loads, updates = [], []
    rows = len(tickers)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            for _ in range(runs):
                page = browser.new_page()
                t0 = time.perf_counter()
                page.goto(f"{url}/portfolio")
                page.wait_for_function("n => document.querySelectorAll('[data-block=positions] tbody tr').length "
                                       "=== n", arg=rows, timeout=120_000)
                loads.append(time.perf_counter() - t0)
                page.close()
            page = browser.new_page()
            page.goto(f"{url}/portfolio")
            page.wait_for_function("n => document.querySelectorAll('[data-block=positions] tbody tr').length === n",
                                   arg=rows, timeout=120_000)
            page.evaluate("window.__loaded = true")
            for ticker in tickers[:runs]:
                t0 = time.perf_counter()
                me.create_order(OrderRequest(ticker, BookSide.BID, Decimal(1), Decimal("0.60"),
                                             time_in_force=TimeInForce.IOC))
                page.wait_for_function(
                    "t => [...document.querySelectorAll('[data-block=positions] tbody tr')].some("
                    "r => r.cells[0].textContent === t && r.cells[1].textContent === '2 YES')", arg=ticker,
                    timeout=120_000)
                updates.append(time.perf_counter() - t0)
            assert page.evaluate("window.__loaded === true"), "the page reloaded"
        finally:
            browser.close()
    return loads, updates


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--positions", type=int, default=200)
    parser.add_argument("--fills", type=int, default=10_000, help="journal fills in all (the positions' included)")
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--refresh", default="1", help="the dashboard's --refresh (seconds)")
    a = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-dashboard-") as tmp:
        data = Path(tmp)
        server = start_embedded(data / "sim", seed=11, participants=False)
        try:
            tickers = open_positions(server, a.positions, copies_only=True)
            env = cli_env(server.base_url, data)
            subprocess.run([sys.executable, "-m", "kalshi_trading", "sync"], env=env, check=True,
                           capture_output=True, timeout=600)
            written = journal_fills(data, a.fills - a.positions)
            print(f"{len(tickers)} positions; journal: {a.positions} real fills + {written} written through the "
                  "store port", file=sys.stderr, flush=True)
            board = Dashboard(env, refresh=a.refresh, wait=300)
            try:
                me = client_for(server.base_url, server.demo_account)
                fetches, reads = [], []
                with httpx.Client(base_url=board.url, timeout=120) as http:
                    while not http.get("/api/section/portfolio").json()["fresh_at"]:
                        time.sleep(0.2)
                    for _ in range(a.runs):
                        t0 = time.perf_counter()
                        doc = http.get("/api/section/portfolio").json()
                        fetches.append(time.perf_counter() - t0)
                        reads.append(doc["read_ms"] / 1000)
                        time.sleep(float(a.refresh))
                loads, updates = browser_runs(board.url, tickers, me, a.runs)
                me.close()
            finally:
                code, _, err = board.stop()
                if code != 0:
                    print(err[-2000:], file=sys.stderr)
            done = subprocess.run([sys.executable, "-c", CLI_DRIVER, str(a.runs)], env=env, capture_output=True,
                                  text=True, timeout=3600)
            if done.returncode != 0:
                raise SystemExit(f"kalshi portfolio --json failed: {done.stderr[-800:]}")
            cli_times = json.loads(done.stdout.strip().splitlines()[-1])
        finally:
            server.stop()
    rows = [
        ["page load in Chromium (goto -> 200 positions shown)", p50(loads), worst(loads)],
        [f"update round trip in Chromium (fill -> shown; --refresh {a.refresh})", p50(updates), worst(updates)],
        ["GET /api/section/portfolio without a browser (cached section)", p50(fetches), worst(fetches)],
        ["the board's read of the section (sync, reads, lot P&L)", p50(reads), worst(reads)],
        ["kalshi portfolio --json, in-process (the CLI's way)", p50(cli_times), worst(cli_times)],
    ]
    print(f"\n{a.positions} positions, {a.fills} journal fills; {a.runs} runs each; milliseconds")
    print(tabulate(rows, headers=["what", "p50 ms", "slowest ms"], disable_numparse=True, colalign=("left",
                                                                                                     "right", "right")))


if __name__ == "__main__":
    main()
