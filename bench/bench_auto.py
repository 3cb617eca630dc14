"""Benchmark: `kalshi auto --sim` (market maker, one market, 500 ms exchange-time loop interval), full HTTP path.

For each simulator speed it runs the real CLI in a subprocess (its own data directory, a fresh simulated
exchange), reads the --json report, and prints medians over the rounds:

  sim s / wall s      exchange time that passed per wall-clock second (the simulator's clock)
  covered x           exchange seconds the loop actually covered with timer passes per wall second
                      (timer passes x 0.5 s / wall s): the bot keeps up when this is close to the speed
  decision p50/p99    strategy + diff + risk per market pass, no I/O (ms)
  loop p50/p99        the same pass including the HTTP writes it triggered (ms)

Usage:  python bench/bench_auto.py [--speeds 60,120,240] [--rounds 3] [--duration 10] [--feed ws|poll|auto]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile

from tabulate import tabulate


def one_run(speed: float, duration: float, feed: str, seed: int) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        env = {**os.environ, "KALSHI_DATA_DIR": os.path.join(tmp, "data"), "KALSHI_LOG_DIR": os.path.join(tmp, "logs")}
        for name in ("KALSHI_API_BASE", "KALSHI_API_KEY_ID", "KALSHI_PRIVATE_KEY_PATH", "KALSHI_WS_BASE"):
            env.pop(name, None)
        env["KALSHI_ENV"] = "sim"
        cmd = [sys.executable, "-m", "kalshi_trading", "auto", "--sim", "--strategy", "mm", "--speed", str(speed),
               "--duration", str(duration), "--interval-ms", "500", "--seed", str(seed), "--feed", feed, "--json"]
        out = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=duration + 120)
        if out.returncode != 0:
            raise SystemExit(f"run failed ({out.returncode}): {out.stderr[-2000:]}")
        return json.loads(out.stdout[out.stdout.index("{"):])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--speeds", default="60,120,240")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--duration", type=float, default=10.0)
    ap.add_argument("--feed", default="auto")
    args = ap.parse_args()
    rows = []
    feeds = set()
    for speed in [float(s) for s in args.speeds.split(",")]:
        runs = [one_run(speed, args.duration, args.feed, seed=7 + i) for i in range(args.rounds)]
        feeds.update(r["feed"].split(" ")[0] for r in runs)
        m = [r["metrics"] for r in runs]

        def med(key, rows=m):
            values = [x[key] for x in rows if x.get(key) is not None]
            return statistics.median(values) if values else None

        covered = statistics.median(x["timer_passes"] * 0.5 / x["wall_seconds"] for x in m)
        rows.append([f"x{speed:g}", f"{med('speed'):.1f}", f"{covered:.1f}", med("timer_passes"), med("ticks"),
                     med("decision_latency_ms_p50"), med("decision_latency_ms_p99"), med("loop_latency_ms_p50"),
                     med("loop_latency_ms_p99"), med("orders_placed") + med("orders_amended"),
                     med("fills"), med("api_errors"), med("resyncs")])
    print(f"kalshi auto --sim, market maker on one market, 500 ms loop interval, feed: {', '.join(sorted(feeds))}; "
          f"medians of {args.rounds} runs of {args.duration:g} s")
    print(tabulate(rows, headers=["speed", "sim s / wall s", "covered x", "timer passes", "passes", "decision p50 ms",
                                  "decision p99 ms", "loop p50 ms", "loop p99 ms", "writes", "fills", "API errors",
                                  "resyncs"], disable_numparse=True))


if __name__ == "__main__":
    main()
