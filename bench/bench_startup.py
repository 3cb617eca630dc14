"""`kalshi --help` start-up against `--help` of a minimal two-command Typer app (speed only; not a test).

    python bench/bench_startup.py                      # 40 cold processes each, alternated, median
    python bench/bench_startup.py --runs 100 --instructions

Wall time: the two commands alternate in one loop so machine noise hits both alike; the table shows the
median, the quartiles and the ratio of medians. `--instructions` also counts the instructions each
start-up executes under `valgrind --tool=callgrind` (noise-free on a shared machine, ~20 s per count;
PYTHONHASHSEED is fixed so two counts of one command agree closely). `--json` prints one JSON object.

Python runs each command from the current directory's copy of `kalshi_trading` (`-m` puts the working
directory first on sys.path): run this from the tree you mean to measure. By default the environment decides
about bytecode caches (PYTHONDONTWRITEBYTECODE=1 makes every start compile the project's own sources, while
installed libraries keep their .pyc); `--pyc` compiles every module once into a temporary cache directory
(PYTHONPYCACHEPREFIX), as an installed package would have it.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

MINIMAL_TYPER = textwrap.dedent('''
    import typer
    app = typer.Typer()
    @app.command()
    def hello(name: str):
        """Say hello."""
        print(name)
    @app.command()
    def bye(name: str):
        """Say bye."""
        print(name)
    app()
''')


ENV = {**os.environ, "NO_COLOR": "1", "PYTHONHASHSEED": "0"}


def _env() -> dict[str, str]:
    return ENV


def wall(cmd: list[str]) -> float:
    """Seconds one cold process of `cmd` takes (output discarded)."""
    t0 = time.perf_counter()
    subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True, env=_env())
    return time.perf_counter() - t0


def instructions(cmd: list[str]) -> int | None:
    """Instructions `cmd` executes, counted by callgrind; None when valgrind is not installed."""
    if shutil.which("valgrind") is None:
        return None
    out = subprocess.run(["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null", *cmd],
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=_env(), check=True)
    match = re.search(r"Collected\s*:\s*(\d+)", out.stderr)
    return int(match.group(1)) if match else None


def quartiles(values: list[float]) -> tuple[float, float]:
    q = statistics.quantiles(values, n=4)
    return q[0], q[2]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=40)
    parser.add_argument("--instructions", action="store_true", help="also count instructions with callgrind")
    parser.add_argument("--pyc", action="store_true", help="cache bytecode (in a temporary directory)")
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of tables")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        if args.pyc:
            ENV.pop("PYTHONDONTWRITEBYTECODE", None)
            ENV["PYTHONPYCACHEPREFIX"] = str(Path(tmp) / "pycache")
        minimal = Path(tmp) / "minimal_typer.py"
        minimal.write_text(MINIMAL_TYPER)
        cmds = {"kalshi --help": [sys.executable, "-m", "kalshi_trading", "--help"],
                "minimal two-command Typer app --help": [sys.executable, str(minimal), "--help"]}
        for cmd in cmds.values():  # warm the file cache and the .pyc files; not timed
            wall(cmd)
        times: dict[str, list[float]] = {name: [] for name in cmds}
        for _ in range(args.runs):
            for name, cmd in cmds.items():
                times[name].append(wall(cmd))
        counts = {name: instructions(cmd) for name, cmd in cmds.items()} if args.instructions else {}

    ours, floor = (statistics.median(times[n]) for n in cmds)
    result = {"runs": args.runs, "pyc": args.pyc, "wall_ms": {n: statistics.median(v) * 1000 for n, v in times.items()},
              "wall_ratio": ours / floor, "instructions": counts}
    names = list(cmds)
    if all(counts.get(n) for n in names):
        result["instructions_ratio"] = counts[names[0]] / counts[names[1]]
    if args.json:
        print(json.dumps(result))
        return
    from tabulate import tabulate

    rows = []
    for name in names:
        lo, hi = quartiles(times[name])
        row = [name, f"{statistics.median(times[name]) * 1000:.0f} ms", f"{lo * 1000:.0f}-{hi * 1000:.0f} ms",
               f"{statistics.median(times[name]) / floor:.2f}x"]
        if counts:
            n = counts.get(name)
            row += [f"{n / 1e6:,.0f} M" if n else "n/a",
                    f"{n / counts[names[1]]:.2f}x" if n and counts.get(names[1]) else ""]
        rows.append(row)
    headers = ["command", "wall (median)", "wall (quartiles)", "vs minimal"]
    if counts:
        headers += ["instructions", "vs minimal"]
    caches = "bytecode cached" if args.pyc else "bytecode as the environment says"
    print(f"CLI start-up, {args.runs} cold processes each, alternated ({caches})")
    print(tabulate(rows, headers=headers, disable_numparse=True))


if __name__ == "__main__":
    main()
