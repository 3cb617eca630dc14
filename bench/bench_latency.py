"""Read commands under network latency: `kalshi portfolio` and `kalshi positions --json` with 1, 10, 50 and 200
open positions, at 0 ms and at 50 ms injected latency (`kalshi sim serve --faults latency=0.05`), the batch and
concurrent reads against the sequential path they replaced, in the same run.

    python bench/bench_latency.py [--positions 1,10,50,200] [--latencies 0,0.05] [--runs 5] [--rate-tier basic]

The simulator is served from this process on loopback; the commands run in a second process that imports the
CLI once and invokes it in-process `runs + 1` times (the first is a warm-up), timing each invocation: a whole
command (settings, client, key, journal, sync, reads, rendering) without Python start-up, and without sharing a
GIL with the simulator.  The sequential path is the same CLI with `Portfolio.sequential_reads = True` (a
benchmark-only switch, no user flag).  Positions are made through the simulator's in-process engine in copied
one-cent markets that close in a year (tests/e2e/positions.py).  Requests are counted by the simulator.
Prints medians.  Not a test.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from tabulate import tabulate

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from kalshi_trading.sim.runtime import start_embedded  # noqa: E402
from tests.e2e.positions import open_positions  # noqa: E402

COMMANDS = {"portfolio": ["portfolio"], "positions --json": ["positions", "--json"]}
DRIVER = """
import json, sys, time
from typer.testing import CliRunner
from kalshi_trading.cli.main import app
from kalshi_trading.trading.portfolio import Portfolio
runs, Portfolio.sequential_reads, args = int(sys.argv[1]), sys.argv[2] == "sequential", sys.argv[3:]
runner, times = CliRunner(), []
for _ in range(runs + 1):
    t0 = time.perf_counter()
    result = runner.invoke(app, args)
    times.append(time.perf_counter() - t0)
    if result.exit_code:
        sys.exit(f"exit {result.exit_code}: {result.output[-800:]}")
print(json.dumps(times[1:]))
"""


def cli_env(base_url: str, data: Path, tier: str) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KALSHI_")}
    env.update(KALSHI_ENV="sim", KALSHI_API_BASE=base_url, KALSHI_DATA_DIR=str(data),
               KALSHI_LOG_DIR=str(data / "logs"), KALSHI_RATE_TIER=tier, NO_COLOR="1",
               PYTHONPATH=str(ROOT) + os.pathsep + env.get("PYTHONPATH", ""))
    return env


def timed(server, env: dict, args: list[str], path: str, runs: int) -> tuple[float, float]:
    """(median seconds, requests per command) of `runs` invocations in one driver process."""
    before = server.app.requests
    done = subprocess.run([sys.executable, "-c", DRIVER, str(runs), path, *args], env=env, capture_output=True,
                          text=True, timeout=3600)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(args)} ({path}) failed: {done.stderr[-800:]}")
    times = json.loads(done.stdout.strip().splitlines()[-1])
    return (statistics.median(times) if times else 0.0), (server.app.requests - before) / (runs + 1)


def measure(data: Path, latency: float, tier: str, runs: int) -> dict:
    """{(command, path): (median seconds, requests)} against the exchange in `data` served with `latency`."""
    faults = f"latency={latency}" if latency else None
    server = start_embedded(data / "sim", participants=False, faults=faults)
    out = {}
    try:
        env = cli_env(server.base_url, data, tier)
        timed(server, env, ["sync"], "batch", 0)  # the journal's first sync, outside the timings
        for name, args in COMMANDS.items():
            for path in ("sequential", "batch"):
                out[(name, path)] = timed(server, env, args, path, runs)
    finally:
        server.stop()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--positions", default="1,10,50,200")
    parser.add_argument("--latencies", default="0,0.05", help="seconds added to every response")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--rate-tier", default="basic", help="the client's token buckets (KALSHI_RATE_TIER)")
    a = parser.parse_args()
    counts = [int(x) for x in a.positions.split(",")]
    latencies = [float(x) for x in a.latencies.split(",")]
    rows = []
    with tempfile.TemporaryDirectory(prefix="bench-latency-") as tmp:
        for n in counts:
            data = Path(tmp) / f"p{n}"
            server = start_embedded(data / "sim", seed=11, participants=False)
            try:
                open_positions(server, n, copies_only=True)
            finally:
                server.stop()
            results = {lat: measure(data, lat, a.rate_tier, a.runs) for lat in latencies}
            for name in COMMANDS:
                for path in ("sequential", "batch"):
                    base = results[latencies[0]][(name, path)][0]
                    row = [name, n, path]
                    for lat in latencies:
                        seconds, requests = results[lat][(name, path)]
                        row += [f"{seconds:.3f}", f"{requests:g}"]
                    if len(latencies) > 1:
                        row.append(f"{results[latencies[-1]][(name, path)][0] - base:+.3f}")
                    rows.append(row)
                    print("  ", *row, file=sys.stderr, flush=True)
    headers = ["command", "positions", "reads"]
    for lat in latencies:
        headers += [f"s @{lat * 1000:.0f}ms", f"requests @{lat * 1000:.0f}ms"]
    if len(latencies) > 1:
        headers.append(f"s added by {latencies[-1] * 1000:.0f}ms")
    print(f"\nmedian of {a.runs} in-process runs of the whole command; client rate tier {a.rate_tier}; "
          "requests per command counted by the simulator")
    print(tabulate(rows, headers=headers, disable_numparse=True))


if __name__ == "__main__":
    main()
