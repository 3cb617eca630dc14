"""Benchmark: the market maker's order churn, old code against new, in one run of `kalshi auto --sim`.

Runs the real CLI in a subprocess (its own data directory, a fresh simulated exchange with the given seed):
`kalshi auto --sim --duration D --seed S --json`, first with the code of an older revision (`--rev`, exported with
`git archive` into a temporary directory and put first on PYTHONPATH), then with this tree, one after the other
(never both at once: they would share the CPU).  Prints one row per run:

  placed, amended, cancelled    order actions the exchange accepted (amended includes decreases)
  rejected (%)                  exchange rejections, and their share of placements sent (older revisions counted
                                rejected placements only)
  denials (unique/raw)          risk denials: withheld orders / passes withheld (older revisions: raw only)
  fills, actions/fill           (placed + amended + cancelled) per fill
  uptime (gate open)            both quotes working over the time the spread gate was open; in brackets over the
                                whole run (older revisions: the whole run only)
  net P&L                       realized + unrealized - fees, dollars

`--rev none` (or a revision git cannot export) prints the figures the issue measured before the fix instead of
running the old code.  `--replay` adds the replay of the same seeded world: `kalshi sim serve` at the same seed and
speed, `kalshi record` of the market the bot picks (the strike nearest the money on the event it would trade) for
the same duration, then `kalshi backtest --clock exchange` of this tree's market maker on it, once per queue model
(conservative and probabilistic); uptime there is over the whole recording, not the gate-open time.
The simulator is driven by the wall clock, so two runs of the same seed differ in detail.

Usage:  python bench/bench_mm.py [--duration 60] [--seed 7] [--rev cd9c6a9] [--speed 60]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tarfile
import tempfile
from decimal import Decimal
from pathlib import Path

from simserve import kalshi, served, sim_env
from tabulate import tabulate

ROOT = Path(__file__).resolve().parent.parent
BASELINE = "cd9c6a9"  # main before the fix: one bot state merged, the market maker as it churned
# `kalshi auto --sim --duration 20` (1,200 simulated seconds) before the fix, as the task measured it
BEFORE = {"label": "before (20 s, the issue's figures)", "placed": 435, "amended": 1194, "cancelled": 423,
          "rejected": 559, "denials": 9219, "fills": 16, "uptime": 0.40}
HEADERS = ["code", "placed", "amended", "cancelled", "rejected (%)", "denials (unique/raw)", "fills", "actions/fill",
           "uptime (gate open)", "net P&L"]


def export(rev: str, into: Path) -> Path | None:
    """The package of revision `rev` under `into` (None when git cannot export it)."""
    archive = into / "old.tar"
    with archive.open("wb") as out:
        done = subprocess.run(["git", "-C", str(ROOT), "archive", "--format=tar", rev, "kalshi_trading"],
                              stdout=out, stderr=subprocess.PIPE, text=False)
    if done.returncode != 0:
        print(f"cannot export {rev}: {done.stderr.decode(errors='replace').strip()}", file=sys.stderr)
        return None
    tree = into / "old"
    with tarfile.open(archive) as tar:
        tar.extractall(tree, filter="data")
    return tree


def run(code: Path, args: argparse.Namespace) -> dict:
    """One `kalshi auto --sim` run with the package under `code`; its --json report."""
    with tempfile.TemporaryDirectory() as tmp:
        out = kalshi(sim_env(tmp, PYTHONPATH=str(code)), "auto", "--sim", "--duration", str(args.duration),
                     "--seed", str(args.seed), "--speed", str(args.speed), "--json", timeout=args.duration + 300,
                     cwd=tmp)
        return json.loads(out[out.index("{"):])


def pct(value: float | None) -> str:
    return "-" if value is None else f"{value:.1%}"


def row(label: str, doc: dict) -> list:
    m = doc["metrics"]
    amended = m["orders_amended"] + m.get("orders_decreased", 0)
    actions = m["orders_placed"] + amended + m["orders_cancelled"]
    if "orders_rejected_pct" in m:
        rejected = f"{m['orders_rejected']} ({m['orders_rejected_pct'] or 0:.1f}%)"
        denials = f"{m['risk_denials_unique']}/{m['risk_denials']}"
    else:  # an older report: rejections were placements only, denials raw only
        sent = m["orders_placed"] + m["orders_rejected"]
        rejected = f"{m['orders_rejected']} ({100 * m['orders_rejected'] / sent if sent else 0:.1f}%)"
        denials = f"-/{m['risk_denials']}"
    uptime = f"{pct(doc.get('quote_uptime_gate_open'))} ({pct(doc.get('quote_uptime'))})"
    per_fill = f"{actions / m['fills']:.1f}" if m["fills"] else "-"
    return [label, m["orders_placed"], amended, m["orders_cancelled"], rejected, denials, m["fills"], per_fill,
            uptime, f"{Decimal(doc['net_pnl']):+.4f}"]


def before_row() -> list:
    b = BEFORE
    actions = b["placed"] + b["amended"] + b["cancelled"]
    return [b["label"], b["placed"], b["amended"], b["cancelled"], f"{b['rejected']} (share not stated)",
            f"-/{b['denials']}", b["fills"], f"{actions / b['fills']:.1f}", f"- ({b['uptime']:.0%})", "-"]


def replay_rows(args: argparse.Namespace) -> list[list]:
    """Record the seeded world for the run's duration, then backtest this tree's market maker on it."""
    with tempfile.TemporaryDirectory() as tmp:
        env = sim_env(tmp, PYTHONPATH=str(ROOT))
        with served(env, args.speed, args.seed):
            listed = json.loads(kalshi(env, "markets", "--series", "KXBTCD", "--json", timeout=30, cwd=tmp))
            markets = listed if isinstance(listed, list) else listed["markets"]
            last = max(m["close_time"] for m in markets)
            ladder = [m for m in markets if m["close_time"] == last]
            ticker = min(ladder, key=lambda m: abs(Decimal(m.get("yes_bid") or 0) - Decimal("0.5")))["ticker"]
            kalshi(env, "record", ticker, "--duration", str(args.duration), "--snapshot-every", "10", "--out",
                   os.path.join(tmp, "rec"), timeout=args.duration + 120, cwd=tmp)
        rows = []
        for queue in ("conservative", "probabilistic"):
            doc = json.loads(kalshi(env, "backtest", "--data", os.path.join(tmp, "rec"), "--clock", "exchange",
                                    "--queue", queue, "--json", timeout=600, cwd=tmp))
            o, f = doc["orders"], doc["fills"]
            per_fill = f"{o['actions_per_fill']:.1f}" if o["actions_per_fill"] is not None else "-"
            sent = o["placed"] + o["rejected"]
            rows.append([f"replay, {queue}", o["placed"], o["amended"], o["cancelled"],
                         f"{o['rejected']} ({100 * o['rejected'] / sent if sent else 0:.1f}%)",
                         f"-/{o['risk_denials']}", f["count"], per_fill,
                         f"- ({pct(doc['quote_uptime']['share'])})", f"{Decimal(doc['pnl']['net']):+.4f}"])
        return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--duration", type=float, default=60.0, help="wall seconds per run (x speed simulated)")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--speed", type=float, default=60.0)
    ap.add_argument("--rev", default=BASELINE, help="the old code's revision, or 'none'")
    ap.add_argument("--replay", action="store_true", help="also record the seeded world and backtest on it")
    args = ap.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        old = None if args.rev == "none" else export(args.rev, Path(tmp))
        if old is not None:
            rows.append(row(f"old ({args.rev})", run(old, args)))
        else:
            rows.append(before_row())
        rows.append(row("new (this tree)", run(ROOT, args)))
    if args.replay:
        rows += replay_rows(args)
    print(f"kalshi auto --sim --duration {args.duration:g} --seed {args.seed} --speed {args.speed:g} "
          f"({args.duration * args.speed:g} simulated s), market maker, demo configuration")
    print(tabulate(rows, headers=HEADERS, disable_numparse=True))


if __name__ == "__main__":
    main()
