"""Benchmark: does the edge taker earn the edge it predicts?  `kalshi auto --sim --strategy edge` on the live simulator.

For each seed it runs the real CLI in a subprocess, its own data directory and a fresh simulated exchange:

  kalshi auto --sim --strategy edge --duration D --speed S --seed N --json

then moves that simulated exchange on (`kalshi sim advance`) until every market the taker traded has settled, and
values each fill at the settlement (1 or 0).  Per seed, and pooled over the seeds, it prints:

  orders / filled     take orders sent (immediate-or-cancel) and how many filled at all (fill ratio)
  fills, contracts    executions and contracts bought or sold
  first order (min)   simulated minutes from the start of trading to the first order sent
  predicted /c        the model's edge per contract at entry: value - price - fee each (buy), the mirror (sell)
  realized /c         what each contract made at settlement, fees included (contract-weighted)
  hit rate            share of fills with a positive realized P&L per contract
  net $               realized dollars over the run's fills, fees included

All the fills of one run are on one market (the strike nearest the spot) and share one outcome, so a run is one
draw: the pooled line's standard error is taken over the runs, not the fills.

`--replay` measures the same taker on the replay too: per seed, `kalshi sim serve` at the same seed and speed, the
market the live run traded recorded (`kalshi record`) for the same duration while the simulator's index is polled
into a CSV, then `kalshi backtest --strategy edge --clock exchange --underlying that.csv --market-info (the market's
close time and strike)`, conservative queue model; its fills are valued at the served simulator's settlement, as
the live run's are.

Usage:  python bench/bench_edge.py [--seeds 1,2,3,4,5] [--duration 60] [--speed 120] [--replay]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
from decimal import Decimal

from simserve import kalshi, served, sim_env
from tabulate import tabulate

SETTLE_STEP = "1h"  # advance the simulated exchange in these steps until the traded markets have settled


def settle(env: dict, tickers: set[str]) -> dict[str, Decimal]:
    """Advance the simulated exchange until every ticker settled; what one YES contract paid on each."""
    paid: dict[str, Decimal] = {}
    for _ in range(6):
        for t in sorted(tickers - set(paid)):
            market = json.loads(kalshi(env, "market", t, "--json"))["market"]
            if market["result"] in ("yes", "no"):
                paid[t] = Decimal(1) if market["result"] == "yes" else Decimal(0)
        if set(paid) >= tickers:
            return paid
        kalshi(env, "sim", "advance", SETTLE_STEP)
    raise SystemExit(f"markets did not settle: {sorted(tickers - set(paid))}")


def edge_rows(edge: dict, paid: dict[str, Decimal]) -> list[tuple[Decimal, Decimal, Decimal]]:
    """(contracts, predicted per contract, realized per contract at the settlement, fees included) per fill."""
    rows = []
    for r in edge["rows"]:
        count, price, fee = Decimal(r["count"]), Decimal(r["price"]), Decimal(r["fee"])
        value = paid[r["ticker"]]
        gross = value - price if r["side"] == "bid" else price - value
        rows.append((count, Decimal(r["predicted_per_contract"]), gross - fee / count))
    return rows


def replay_run(seed: int, ticker: str, duration: float, speed: float) -> dict:
    """The seeded world served again, `ticker` recorded with the index beside it, and the taker backtested on it."""
    import threading
    import time
    import urllib.request

    with tempfile.TemporaryDirectory() as tmp:
        env = sim_env(tmp)
        stop = threading.Event()
        with served(env, speed, seed) as base:
            market = json.loads(kalshi(env, "market", ticker, "--json"))["market"]
            info = {k: market.get(k) for k in ("close_time", "strike_type", "floor_strike", "cap_strike")}
            info_path = os.path.join(tmp, "markets.json")
            with open(info_path, "w") as fh:
                json.dump({ticker: info}, fh)
            spot_path = os.path.join(tmp, "spot.csv")

            def poll() -> None:  # the index the live taker read, in exchange time
                with open(spot_path, "w") as fh:
                    fh.write("timestamp,price\n")
                    last = None
                    while not stop.is_set():
                        with urllib.request.urlopen(f"{base}/sim/underlying/KXBTCD", timeout=5) as resp:
                            doc = json.loads(resp.read())
                        if doc["ts"] != last:
                            fh.write(f"{doc['ts']},{doc['price']}\n")
                            fh.flush()
                            last = doc["ts"]
                        time.sleep(0.02)

            poller = threading.Thread(target=poll, daemon=True)
            poller.start()
            try:
                time.sleep(1.0)  # some index history before the recording starts (the taker estimates volatility)
                kalshi(env, "record", ticker, "--duration", str(duration), "--snapshot-every", "10", "--out",
                       os.path.join(tmp, "rec"), timeout=duration + 120)
            finally:
                stop.set()
                poller.join(10)
            out = kalshi(env, "backtest", "--data", os.path.join(tmp, "rec"), "--strategy", "edge", "--clock",
                         "exchange", "--underlying", spot_path, "--market-info", info_path, "--json", timeout=600)
            edge = json.loads(out)["edge"]
            paid = settle(env, {r["ticker"] for r in edge["rows"]} | {ticker})
    return {"seed": seed, "orders": edge["orders"], "filled": edge["orders_filled"], "rows": edge_rows(edge, paid),
            "first": edge["minutes_to_first_order"], "market": ticker}


def one_run(seed: int, duration: float, speed: float) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        env = sim_env(tmp)
        out = kalshi(env, "auto", "--sim", "--strategy", "edge", "--duration", str(duration), "--speed", str(speed),
                     "--seed", str(seed), "--json", timeout=duration + 300)
        report = json.loads(out[out.index("{"):])
        edge = report["edge"]
        paid = settle(env, {r["ticker"] for r in edge["rows"]})
    rows = edge_rows(edge, paid)
    return {"seed": seed, "orders": edge["orders"], "filled": edge["orders_filled"], "rows": rows,
            "first": edge["minutes_to_first_order"],
            "market": report["markets"][0]["ticker"] if report["markets"] else "-"}


def summarize(label: str, runs: list[dict]) -> list:
    rows = [row for run in runs for row in run["rows"]]
    contracts = sum((c for c, _, _ in rows), Decimal(0))
    orders, filled = sum(r["orders"] for r in runs), sum(r["filled"] for r in runs)
    predicted = sum((c * p for c, p, _ in rows), Decimal(0))
    realized = sum((c * q for c, _, q in rows), Decimal(0))
    wins = sum(1 for _, _, q in rows if q > 0)
    firsts = [r["first"] for r in runs if r["first"] is not None]
    return [label, f"{orders} / {filled}", f"{len(rows)}, {contracts}",
            min(firsts) if firsts else "-",
            f"{predicted / contracts:+.4f}" if contracts else "-",
            f"{realized / contracts:+.4f}" if contracts else "-",
            f"{wins / len(rows):.0%}" if rows else "-", f"{realized:+.2f}"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", default="1,2,3,4,5")
    ap.add_argument("--duration", type=float, default=60.0)
    ap.add_argument("--speed", type=float, default=120.0)
    ap.add_argument("--replay", action="store_true", help="also record the seeded world and backtest the taker on it")
    args = ap.parse_args()
    runs, replays = [], []
    for seed in [int(s) for s in args.seeds.split(",")]:
        runs.append(one_run(seed, args.duration, args.speed))
        print(f"seed {seed}: {runs[-1]['market']} done", file=sys.stderr)
        if args.replay and runs[-1]["market"] != "-":
            replays.append(replay_run(seed, runs[-1]["market"], args.duration, args.speed))
            print(f"seed {seed}: replay done", file=sys.stderr)
    table = [summarize(f"seed {r['seed']}", [r]) for r in runs]
    table.append(summarize("all", runs))
    if replays:
        table += [summarize(f"replay, seed {r['seed']}", [r]) for r in replays]
        table.append(summarize("replay, all", replays))
    print(tabulate(table, headers=["run", "orders / filled", "fills, contracts", "first order (min)", "predicted /c",
                                   "realized /c", "hit rate", "net $"]))
    per_run = [float(sum(c * q for c, _, q in r["rows"]) / sum(c for c, _, _ in r["rows"]))
               for r in runs if r["rows"]]
    if len(per_run) > 1:
        mean, se = statistics.mean(per_run), statistics.stdev(per_run) / len(per_run) ** 0.5
        print(f"\nrealized per contract over {len(per_run)} runs (one outcome each): {mean:+.4f} +- {se:.4f} "
              "(standard error)")


if __name__ == "__main__":
    main()
