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
running the old code.  The simulator is driven by the wall clock, so two runs of the same seed differ in detail.

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
BEFORE = {"label": "before (20 s, as measured)", "placed": 410, "amended": 1400, "cancelled": 390, "rejected": 330,
          "denials": 7500, "fills": 26, "uptime": 0.49}
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
    return [b["label"], f"~{b['placed']}", f"~{b['amended']}", f"~{b['cancelled']}",
            f"~{b['rejected']} ({100 * b['rejected'] / b['placed']:.0f}%)", f"-/~{b['denials']}", f"~{b['fills']}",
            f"{actions / b['fills']:.0f}", f"- ({b['uptime']:.0%})", "-"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--duration", type=float, default=60.0, help="wall seconds per run (x speed simulated)")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--speed", type=float, default=60.0)
    ap.add_argument("--rev", default=BASELINE, help="the old code's revision, or 'none'")
    args = ap.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        old = None if args.rev == "none" else export(args.rev, Path(tmp))
        if old is not None:
            rows.append(row(f"old ({args.rev})", run(old, args)))
        else:
            rows.append(before_row())
        rows.append(row("new (this tree)", run(ROOT, args)))
    print(f"kalshi auto --sim --duration {args.duration:g} --seed {args.seed} --speed {args.speed:g} "
          f"({args.duration * args.speed:g} simulated s), market maker, demo configuration")
    print(tabulate(rows, headers=HEADERS, disable_numparse=True))


if __name__ == "__main__":
    main()
