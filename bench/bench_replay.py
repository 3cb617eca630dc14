"""Replay throughput: recorded book events per second from a recording to the local book (speed only; not a test).

    python bench/bench_replay.py                         # 1,000,000 seeded book events, median of 3 runs
    python bench/bench_replay.py --events 200000 --runs 5

The first half of issue 16's "Measured" section (the full loop, feed -> book -> strategy -> risk -> exchange
model, comes with the backtest).  One seeded stream of deltas on one market (prices 1-99 cents on both sides,
levels added, shrunk and removed, a snapshot first) is written twice:

* as a recording, by the real recorder (`replay.Recorder`, through the tap a live feed calls), and
* as the raw WebSocket frames a recorder of the wire would keep (`orderbook_delta` envelopes, one per line, gzip).

Timed, each from its gzip file: the reader alone (decompress, parse, check, merge); the replay feed (reader ->
sequence check -> `LocalBook` -> `BookUpdated` events: what a backtest consumes); and the baseline, replaying the
raw frames through the live WebSocket path (`json.loads` of each frame -> `BookKeeper.on_delta`, as the feed does).
The recorder's own writing speed is shown for scale.
"""

from __future__ import annotations

import argparse
import gc
import gzip
import json
import statistics
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from types import SimpleNamespace
from typing import Callable

from tabulate import tabulate

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_book import synthetic_deltas, wire_messages  # noqa: E402  (a sibling script)

from kalshi_trading.marketdata.feed import BookKeeper  # noqa: E402
from kalshi_trading.replay.feed import ReplayFeed  # noqa: E402
from kalshi_trading.replay.reader import Recording  # noqa: E402
from kalshi_trading.replay.recorder import Recorder  # noqa: E402
from kalshi_trading.replay.writer import SessionWriter  # noqa: E402

TICKER = "KXBENCH-26NOV21-T50"
T0 = datetime(2026, 11, 21, 12, tzinfo=timezone.utc)


class Stamp:
    """Receive times 50 microseconds apart (20,000 events a second of recorded time)."""

    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        self.now += timedelta(microseconds=50)
        return self.now


def write_recording(directory: Path, deltas) -> float:
    """The real recorder writing the stream; returns the seconds it took."""
    start = time.process_time()
    writer = SessionWriter(directory, [TICKER], T0, environment="bench", source="bench")
    rec = Recorder(SimpleNamespace(tap=None), writer, clock=Stamp())
    rec.book_snapshot(TICKER, 1, 1, [], [], T0)
    for i, (yes, price, delta) in enumerate(deltas):
        rec.book_delta(TICKER, 1, i + 2, yes, price, delta, T0 + timedelta(milliseconds=i // 20))
    writer.close(T0, rec.counts.as_dict())
    return time.process_time() - start


def write_frames(path: Path, deltas) -> None:
    with gzip.open(path, "wt", compresslevel=6) as fh:
        fh.write(json.dumps({"type": "orderbook_snapshot", "sid": 1, "seq": 1,
                             "msg": {"market_ticker": TICKER, "yes_dollars_fp": [], "no_dollars_fp": []}}) + "\n")
        for i, msg in enumerate(wire_messages(deltas)):
            fh.write(json.dumps({"type": "orderbook_delta", "sid": 1, "seq": i + 2, "msg": msg}) + "\n")


# ----------------------------------------------------------------------------------- contenders
def reader_only(directory: Path) -> int:
    return sum(1 for _ in Recording(directory).records([]))


def replay_feed(directory: Path) -> int:
    feed = ReplayFeed(directory)
    feed.subscribe([TICKER])
    n = sum(1 for _ in feed.events())
    assert not feed.problems, feed.problems
    return n


def websocket_path(path: Path) -> int:
    """Raw frames through what the live feed does per frame: parse the JSON, then the book keeper."""
    keeper = BookKeeper(lambda tickers: None)
    keeper.add(TICKER)
    loads = json.loads
    on_delta, on_snapshot = keeper.on_delta, keeper.on_snapshot
    n = 0
    with gzip.open(path, "rt") as fh:
        for line in fh:
            env = loads(line)
            if env["type"] == "orderbook_delta":
                n += len(on_delta(env["sid"], env["seq"], env["msg"]))
            else:
                n += len(on_snapshot(env["sid"], env["seq"], env["msg"]))
    return n


def timed(fn: Callable[[Path], int], arg: Path, runs: int) -> tuple[float, int]:
    """Median CPU seconds of this process (a busy shared machine inflates wall time far more)."""
    times, count = [], 0
    for _ in range(runs):
        gc.collect()
        start = time.process_time()
        count = fn(arg)
        times.append(time.process_time() - start)
    return statistics.median(times), count


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000, help="book events (deltas) in the stream")
    parser.add_argument("--runs", type=int, default=3, help="runs per contender (the median is shown)")
    args = parser.parse_args(argv)
    deltas = synthetic_deltas(args.events)
    with tempfile.TemporaryDirectory() as tmp:
        rec_dir, frames = Path(tmp) / "rec", Path(tmp) / "frames.jsonl.gz"
        wrote = write_recording(rec_dir, deltas)
        write_frames(frames, deltas)
        size = sum(p.stat().st_size for p in rec_dir.iterdir())
        rows = [("recorder: tap -> gzip JSON lines (writing)", args.events + 1, wrote)]
        for name, fn, arg in (("reader: gzip -> rows, checked, merged", reader_only, rec_dir),
                              ("replay feed: reader -> seq check -> LocalBook -> events", replay_feed, rec_dir),
                              ("baseline: raw WS frames -> json.loads -> BookKeeper", websocket_path, frames)):
            seconds, count = timed(fn, arg, args.runs)
            rows.append((name, count, seconds))
        base = rows[-1][2]
        table = [(name, f"{count:,}", f"{seconds:.2f}", f"{count / seconds:,.0f}", f"{seconds / count * 1e6:.2f}",
                  f"{base / seconds:.2f}x") for name, count, seconds in rows]
        print(f"{args.events:,} book events, median CPU seconds of {args.runs} runs; recording {size / 1e6:.1f} MB, "
              f"raw frames {frames.stat().st_size / 1e6:.1f} MB (gzip)")
        print(tabulate(table, headers=["path", "events", "CPU s", "events/s", "us/event", "vs baseline"],
                       colalign=("left", "right", "right", "right", "right", "right")))


if __name__ == "__main__":
    main()
