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
        env = {**os.environ, "KALSHI_DATA_DIR": os.path.join(tmp, "data"), "KALSHI_LOG_DIR": os.path.join(tmp, "logs"),
               "KALSHI_ENV": "sim", "PYTHONPATH": str(code)}
        for name in ("KALSHI_API_BASE", "KALSHI_API_KEY_ID", "KALSHI_PRIVATE_KEY_PATH", "KALSHI_WS_BASE"):
            env.pop(name, None)
        cmd = [sys.executable, "-m", "kalshi_trading", "auto", "--sim", "--duration", str(args.duration),
               "--seed", str(args.seed), "--speed", str(args.speed), "--json"]
        out = subprocess.run(cmd, env=env, cwd=tmp, capture_output=True, text=True, timeout=args.duration + 300)
        if out.returncode != 0:
            raise SystemExit(f"run failed ({out.returncode}): {out.stderr[-2000:]}")
        return json.loads(out.stdout[out.stdout.index("{"):])


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


def cli(env: dict, cwd: str, *args: str, timeout: float = 600) -> str:
    out = subprocess.run([sys.executable, "-m", "kalshi_trading", *args], env=env, cwd=cwd, capture_output=True,
                         text=True, timeout=timeout)
    if out.returncode != 0:
        raise SystemExit(f"kalshi {' '.join(args)} failed ({out.returncode}): {out.stderr[-2000:]}")
    return out.stdout


def replay_rows(args: argparse.Namespace) -> list[list]:
    """Record the seeded world for the run's duration, then backtest this tree's market maker on it."""
    import time

    with tempfile.TemporaryDirectory() as tmp:
        env = {**os.environ, "KALSHI_DATA_DIR": os.path.join(tmp, "data"), "KALSHI_LOG_DIR": os.path.join(tmp, "logs"),
               "KALSHI_ENV": "sim", "PYTHONPATH": str(ROOT)}
        for name in ("KALSHI_API_BASE", "KALSHI_API_KEY_ID", "KALSHI_PRIVATE_KEY_PATH", "KALSHI_WS_BASE"):
            env.pop(name, None)
        server = subprocess.Popen([sys.executable, "-m", "kalshi_trading", "sim", "serve", "--speed", str(args.speed),
                                   "--seed", str(args.seed)], env=env, cwd=tmp, stdout=subprocess.DEVNULL,
                                  stderr=subprocess.DEVNULL)
        try:
            deadline = time.monotonic() + 60
            while True:
                try:
                    listed = json.loads(cli(env, tmp, "markets", "--series", "KXBTCD", "--json", timeout=30))
                    break
                except SystemExit:
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(0.5)
            markets = listed if isinstance(listed, list) else listed["markets"]
            last = max(m["close_time"] for m in markets)
            ladder = [m for m in markets if m["close_time"] == last]
            ticker = min(ladder, key=lambda m: abs(Decimal(m.get("yes_bid") or 0) - Decimal("0.5")))["ticker"]
            cli(env, tmp, "record", ticker, "--duration", str(args.duration), "--snapshot-every", "10", "--out",
                os.path.join(tmp, "rec"), timeout=args.duration + 120)
        finally:
            server.terminate()
            server.wait(30)
        rows = []
        for queue in ("conservative", "probabilistic"):
            doc = json.loads(cli(env, tmp, "backtest", "--data", os.path.join(tmp, "rec"), "--clock", "exchange",
                                 "--queue", queue, "--json"))
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
