"""Old revision vs this tree on the same machine in one run: book, bot and journal benchmarks, interleaved.

    python bench/compare.py                          # against e4f32d7, 5 rounds of each benchmark, CPU-time clock
    python bench/compare.py --clock instructions     # book and journal by instructions counted (noise-free, slow)
    python bench/compare.py --rev main~3 --rounds 7 --benches book,journal,pricing --json results.json

The old revision is checked out into a temporary `git worktree` (removed afterwards). Each round runs the old
tree's OWN copy of a benchmark script and then this tree's (the order alternates from round to round so a
machine getting busier or quieter does not favour one side), each in its own process with its tree as the
working directory and first on PYTHONPATH: modules may have moved between the revisions, the scripts know
where. The scripts' printed tables are parsed (tabulate's plain text format, which the old scripts print
too), and one table per benchmark shows old and new medians over the rounds, their spreads (min-max),
new/old, and a verdict: for times, a change only when the spreads of 3+ rounds do not overlap; for counted
instructions, a change beyond 2%.

Clocks (--clock) for the scripts that time code in their own process (book, journal, pricing): their
time.perf_counter reads this process's CPU time (default: waiting for a core on a shared machine does not
count, a VM's stolen time still does), the wall clock, or the instructions callgrind counts (`instructions`:
identical runs give identical counts, so one round suffices; ~50x slower, so smaller sizes by default; time
blocked in I/O such as fsync is not counted). bench_auto.py times a live bot against the simulator and always
runs on the wall clock (it is left out of the instruction clock's default set).

Benchmarks: bench_book.py (deltas/s), bench_auto.py (simulated seconds per wall second, covered x, decision
and loop latency), bench_journal.py (ingest and export rows/s); on request bench_pricing.py (the strategies'
decision latency alone). Sizes are smaller than the scripts' defaults so rounds are cheap; set them with
--book-deltas, --auto-speeds, --auto-duration, --journal-trades.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from tabulate import tabulate

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_REV = "e4f32d7"  # the last commit before issue 11's rebuild


@dataclass(frozen=True)
class Metric:
    """A column of a script's table worth comparing, and which way is better."""

    column: str
    higher_is_better: bool


@dataclass(frozen=True)
class Bench:
    """One benchmark script, the arguments a round runs it with, and the columns compared."""

    name: str
    script: str
    args: tuple[str, ...]
    metrics: tuple[Metric, ...]
    # per table label, a row the script measures in the same run with code this project does not own (e.g.
    # json.loads): each metric is also shown divided by that row's, which cancels much of the machine's noise
    references: tuple[tuple[str, str], ...] = ()
    cpu_clock: bool = True  # the script's timings may be CPU time (see --clock); False: it times a live system
    # rows a later script calls differently: (older name, newer name); older names are read as the newer
    renames: tuple[tuple[str, str], ...] = ()
    timeout: float = 1800.0


@dataclass
class Table:
    """A table parsed from a script's output: its title line, headers and rows of cells."""

    title: str
    headers: list[str]
    rows: list[list[str]] = field(default_factory=list)


SEPARATOR = re.compile(r"-+(?: +-+)*")


def parse_tables(text: str) -> list[Table]:
    """Every tabulate 'simple' table in `text` (a header line, a line of dash runs, rows until a blank line)."""
    lines = text.splitlines()
    tables = []
    for i in range(1, len(lines)):
        if not SEPARATOR.fullmatch(lines[i].strip()) or not lines[i - 1].strip():
            continue
        starts = [m.start() for m in re.finditer(r"-+", lines[i])]

        def cut(line: str, starts: list[int] = starts) -> list[str]:
            bounds = [*starts[1:], max(len(line), starts[-1]) + 1]
            return [line[a:b].strip() for a, b in zip(starts, bounds, strict=True)]

        title = lines[i - 2].strip() if i >= 2 else ""  # the line right above the header, if any
        table = Table(title, cut(lines[i - 1]))
        for line in lines[i + 1:]:
            if not line.strip():
                break
            table.rows.append(cut(line))
        tables.append(table)
    return tables


def number(cell: str) -> float | None:
    """`1,234.5`, `0.47x`, `12 ms` -> a float; None for blanks and words."""
    match = re.fullmatch(r"([-+]?[\d,]*\.?\d+)\s*(?:x|ms|s|%)?", cell.strip())
    return float(match.group(1).replace(",", "")) if match else None


def label(table: Table, index: int, count: int) -> str:
    """A short name for a table that stays the same between revisions ('Part 1', its position, or none)."""
    head = table.title.split(":", 1)[0]
    if head and len(head) <= 12:
        return head
    return f"table {index + 1}" if count > 1 else ""


def samples_of(bench: Bench, text: str) -> dict[tuple[str, str, str], float]:
    """{(table, row, column): value} for the bench's metric columns in one run's output, with the
    reference-relative values as columns named '<column> / ref'."""
    wanted = {m.column for m in bench.metrics}
    references = dict(bench.references)
    tables = parse_tables(text)
    out = {}
    for index, table in enumerate(tables):
        name = label(table, index, len(tables))
        for row in table.rows:
            for column, cell in zip(table.headers, row, strict=True):
                value = number(cell)
                if column in wanted and value is not None:
                    out[(name, row[0], column)] = value
        reference = references.get(name)
        for table_name, row_name, column in list(out):
            ref = out.get((name, reference, column))
            if table_name == name and ref and row_name != reference:
                out[(name, row_name, f"{column} / ref")] = out[(name, row_name, column)] / ref
    return out


BENCHES = {
    "book": Bench("book", "bench/bench_book.py", ("--deltas", "{book_deltas}", "--runs", "{runs}"),
                  (Metric("deltas/s", True),),
                  references=(("Part 1", "plain dict of levels + max() for best"),
                              ("Part 2", "json.loads alone (floor)"))),
    "auto": Bench("auto", "bench/bench_auto.py",
                  ("--speeds", "{auto_speeds}", "--rounds", "1", "--duration", "{auto_duration}"),
                  (Metric("sim s / wall s", True), Metric("covered x", True), Metric("decision p50 ms", False),
                   Metric("decision p99 ms", False), Metric("loop p50 ms", False), Metric("loop p99 ms", False)),
                  cpu_clock=False),
    # not in the default set: the strategies' own decision latency (bench_auto's includes diff and risk)
    "pricing": Bench("pricing", "bench/bench_pricing.py", ("--ticks", "5000", "--runs", "{runs}", "--calls", "300"),
                     (Metric("median us/tick", False), Metric("p50 us", False), Metric("p99 us", False))),
    "journal": Bench("journal", "bench/bench_journal.py", ("--trades", "{journal_trades}", "--runs", "{runs}"),
                     (Metric("rows/s", True),),
                     renames=(("export: export_trades_csv (stored CSV pieces, one ordered scan)",
                               "export: export_trades (trade_csv: stored CSV pieces, one ordered scan)"),)),
}


def script_args(bench: Bench, args: argparse.Namespace) -> list[str]:
    return [a.format(**vars(args)) for a in bench.args]


# Runs a script as `python script args` would, with time.perf_counter reading another clock.
#   cpu: this process's CPU time: time spent waiting for a core on a shared machine no longer counts.
#   instructions: under callgrind, each reading dumps (and zeroes) callgrind's counters through a tiny C helper;
#     the clock is the sum of the instructions so far in units of 1e9 (collection pauses while a dump is read).
RUNNER = """
import os, runpy, sys, time
script = sys.argv[1]
sys.argv = sys.argv[1:]
sys.path.insert(0, os.path.dirname(script))
if os.environ["BENCH_CLOCK"] == "cpu":
    time.perf_counter = time.process_time
else:
    import ctypes
    lib, out, state = ctypes.CDLL(os.environ["BENCH_CG_LIB"]), os.environ["BENCH_CG_OUT"], [0, 0]

    def perf_counter():
        lib.bench_dump()
        lib.bench_toggle()
        state[0] += 1
        with open(f"{out}.{state[0]}") as fh:
            state[1] += next(int(line.split()[1]) for line in fh if line.startswith("summary:"))
        os.remove(f"{out}.{state[0]}")
        lib.bench_toggle()
        return state[1] / 1e9

    time.perf_counter = perf_counter
runpy.run_path(script, run_name="__main__")
"""
CALLGRIND_HELPER = """
#include <valgrind/callgrind.h>
void bench_dump(void) { CALLGRIND_DUMP_STATS; }
void bench_toggle(void) { CALLGRIND_TOGGLE_COLLECT; }
"""


def build_helper(tmp: Path) -> Path:
    """The C helper the instruction clock calls (needs valgrind, its headers and a C compiler)."""
    if shutil.which("valgrind") is None or shutil.which("cc") is None:
        raise SystemExit("--clock instructions needs valgrind and a C compiler (cc)")
    source, lib = tmp / "bench_callgrind.c", tmp / "libbench_callgrind.so"
    source.write_text(CALLGRIND_HELPER)
    done = subprocess.run(["cc", "-O2", "-shared", "-fPIC", "-o", str(lib), str(source)], capture_output=True,
                          text=True)
    if done.returncode != 0:
        raise SystemExit(f"cannot build the callgrind helper (valgrind/callgrind.h missing?): {done.stderr}")
    return lib


def run_script(tree: Path, bench: Bench, args: argparse.Namespace) -> str:
    """One run of `tree`'s own copy of the bench script against `tree`; its standard output."""
    argv = script_args(bench, args)
    env = {**os.environ, "PYTHONPATH": str(tree) + os.pathsep + os.environ.get("PYTHONPATH", ""),
           "BENCH_CLOCK": args.clock, "PYTHONHASHSEED": "0"}  # one hash seed: same dict and set layouts
    script = str(tree / bench.script)
    cmd = [sys.executable, script, *argv]
    with tempfile.TemporaryDirectory(prefix="bench-run-") as tmp:
        if args.clock == "cpu" and bench.cpu_clock:
            cmd = [sys.executable, "-c", RUNNER, script, *argv]
        elif args.clock == "instructions" and bench.cpu_clock:
            env.update(BENCH_CG_LIB=str(args.helper), BENCH_CG_OUT=f"{tmp}/cg")
            cmd = ["valgrind", "--tool=callgrind", f"--callgrind-out-file={tmp}/cg", "--dump-line=no",
                   sys.executable, "-c", RUNNER, script, *argv]
        done = subprocess.run(cmd, cwd=tree, env=env, capture_output=True, text=True, timeout=bench.timeout)
    if done.returncode != 0:
        raise RuntimeError(f"{tree / bench.script} exited {done.returncode}: {done.stderr[-1500:]}")
    return done.stdout


def spread(values: list[float]) -> str:
    return f"{fmt(min(values))}-{fmt(max(values))}" if len(values) > 1 else ""


def fmt(value: float) -> str:
    return f"{value:,.0f}" if abs(value) >= 1000 else f"{value:.3g}"


def verdict(old: list[float], new: list[float], higher_is_better: bool, counted: bool) -> str:
    """Counted instructions: a change beyond 2% (they vary by less between runs of one tree). Times: a change
    only when the two spreads do not overlap, over at least 3 rounds each."""
    if counted:
        ratio = statistics.median(new) / statistics.median(old)
        if abs(ratio - 1) < 0.02:
            return "same"
        return "better" if (ratio > 1) == higher_is_better else "worse"
    if min(len(old), len(new)) < 3:
        return "too few rounds"
    if max(new) < min(old):
        return "worse" if higher_is_better else "better"
    if min(new) > max(old):
        return "better" if higher_is_better else "worse"
    return "within noise"


def report(bench: Bench, argv: list[str], clock_name: str, old: list[dict], new: list[dict], old_name: str,
           new_name: str) -> str:
    """The comparison table of one benchmark over its rounds."""
    counted = clock_name == "instructions" and bench.cpu_clock
    better = {m.column: m.higher_is_better for m in bench.metrics}
    better.update({f"{column} / ref": higher for column, higher in list(better.items())})
    keys = list(dict.fromkeys([k for run in new for k in run] + [k for run in old for k in run]))
    rows = []
    for key in keys:
        o = [run[key] for run in old if key in run]
        n = [run[key] for run in new if key in run]
        table, row, column = key
        name = f"{table} | {row} | {column}" if table else f"{row} | {column}"
        arrow = "higher" if better[column] else "lower"
        if not o or not n:
            rows.append([name, arrow, fmt(statistics.median(o)) if o else "-", spread(o),
                         fmt(statistics.median(n)) if n else "-", spread(n), "", "only in one revision"])
            continue
        mo, mn = statistics.median(o), statistics.median(n)
        ratio = f"{mn / mo:.2f}x" if mo else ""
        rows.append([name, arrow, fmt(mo), spread(o), fmt(mn), spread(n), ratio,
                     verdict(o, n, better[column], counted)])
    headers = ["metric", "better", f"old {old_name}", "old min-max", f"new {new_name}", "new min-max", "new/old",
               "verdict"]
    rounds = min(len(old), len(new))
    refs = "; '/ ref': divided by the same run's " + ", ".join(f"'{r}'" for _, r in bench.references) \
        if bench.references else ""
    clock = {"cpu": "CPU-time clock", "wall": "wall clock",
             "instructions": "instruction clock (callgrind): '/s' means per 1e9 instructions"}[clock_name]
    if not bench.cpu_clock:
        clock = "wall clock"
    return (f"{bench.name}: {bench.script} {' '.join(argv)}, {rounds} interleaved rounds, {clock}, "
            f"medians{refs}\n"
            + tabulate(rows, headers=headers, disable_numparse=True))


def git(*args: str) -> str:
    return subprocess.run(["git", "-C", str(ROOT), *args], capture_output=True, text=True, check=True).stdout.strip()


def describe_current() -> str:
    dirty = git("status", "--porcelain", "--untracked-files=no")
    return git("rev-parse", "--short", "HEAD") + ("+changes" if dirty else "")


def renamed(bench: Bench, run: dict[tuple[str, str, str], float]) -> dict[tuple[str, str, str], float]:
    """One run's samples with any row the bench has renamed called by its newer name (either revision's)."""
    names = dict(bench.renames)
    return {(table, names.get(row, row), column): value for (table, row, column), value in run.items()}


def key_text(key: tuple[str, str, str]) -> str:
    return " | ".join(key)


def key_of(text: str) -> tuple[str, str, str]:
    table, row, column = text.split(" | ", 2)
    return table, row, column


def show_saved(path: Path) -> None:
    """Print the tables of a --json file again (with today's renames and verdicts)."""
    saved = json.loads(path.read_text())
    for name, result in saved["results"].items():
        bench = BENCHES[name]
        old = [renamed(bench, {key_of(k): v for k, v in run.items()}) for run in result["old"]]
        new = [renamed(bench, {key_of(k): v for k, v in run.items()}) for run in result["new"]]
        argv = result.get("argv", list(bench.args))
        print(report(bench, argv, saved.get("clock", "cpu"), old, new, saved["old"], saved["new"]) + "\n")


def compare(old_tree: Path, args: argparse.Namespace, old_name: str, new_name: str) -> dict:
    """Run every chosen benchmark, old and new interleaved, printing each table as it completes."""
    results = {}
    for name in args.benches.split(","):
        bench = BENCHES[name]
        if not (old_tree / bench.script).exists():
            print(f"{name}: {bench.script} does not exist at {old_name}; skipped\n", flush=True)
            continue
        old: list[dict] = []
        new: list[dict] = []
        for round_ in range(args.rounds):
            sides = [(old_tree, old), (ROOT, new)]
            for tree, sink in sides if round_ % 2 == 0 else sides[::-1]:
                t0 = time.perf_counter()
                sink.append(renamed(bench, samples_of(bench, run_script(tree, bench, args))))
                print(f"  {name} round {round_ + 1}/{args.rounds} {'old' if tree == old_tree else 'new'}: "
                      f"{time.perf_counter() - t0:.0f} s", file=sys.stderr, flush=True)
        print(report(bench, script_args(bench, args), args.clock, old, new, old_name, new_name) + "\n", flush=True)
        results[name] = {"argv": script_args(bench, args),
                         "old": [{key_text(k): v for k, v in run.items()} for run in old],
                         "new": [{key_text(k): v for k, v in run.items()} for run in new]}
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rev", default=DEFAULT_REV, help="the old git revision (default: %(default)s)")
    parser.add_argument("--rounds", type=int, help="rounds per benchmark (default 5; 1 with instructions)")
    parser.add_argument("--benches", help="default book,auto,journal (book,journal with instructions)")
    parser.add_argument("--book-deltas", help="default 100000 (10000 with instructions)")
    parser.add_argument("--auto-speeds", default="60,240")
    parser.add_argument("--auto-duration", default="10")
    parser.add_argument("--journal-trades", help="default 100000 (10000 with instructions)")
    parser.add_argument("--clock", choices=("cpu", "wall", "instructions"), default="cpu",
                        help="what the book and journal scripts' timers read: this process's CPU time (default; "
                             "steadier on a shared machine; leaves out time blocked in fsync), wall time, or "
                             "instructions counted by callgrind (noise-free, ~50x slower; the bot's benchmark, "
                             "which times a live system, is then left out)")
    parser.add_argument("--json", type=Path, help="also write every sample to this file")
    parser.add_argument("--show", type=Path, metavar="JSON", help="print the tables of a --json file and stop")
    args = parser.parse_args()
    if args.show:
        show_saved(args.show)
        return
    counting = args.clock == "instructions"
    args.rounds = args.rounds or (1 if counting else 5)
    args.runs = 1 if counting else 3  # each script's own repeats: counts do not vary, times do
    args.benches = args.benches or ("book,journal" if counting else "book,auto,journal")
    args.book_deltas = args.book_deltas or ("10000" if counting else "100000")
    args.journal_trades = args.journal_trades or ("10000" if counting else "100000")
    unknown = set(args.benches.split(",")) - set(BENCHES)
    if unknown:
        parser.error(f"unknown benchmark(s): {', '.join(sorted(unknown))}; choose from {', '.join(BENCHES)}")

    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # a plain kill still removes the worktree
    old_name, new_name = git("rev-parse", "--short", args.rev), describe_current()
    tmp = Path(tempfile.mkdtemp(prefix="bench-compare-"))
    old_tree = tmp / "old"
    git("worktree", "add", "--detach", str(old_tree), args.rev)
    try:
        args.helper = build_helper(tmp) if counting else None
        print(f"old: {old_name} (temporary worktree {old_tree}); new: {new_name} ({ROOT})\n", flush=True)
        results = compare(old_tree, args, old_name, new_name)
    finally:
        git("worktree", "remove", "--force", str(old_tree))
        shutil.rmtree(tmp, ignore_errors=True)
    if args.json:
        args.json.write_text(json.dumps({"old": old_name, "new": new_name, "clock": args.clock, "results": results},
                                        indent=1))


if __name__ == "__main__":
    main()
