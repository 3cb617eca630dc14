"""Local order book throughput (speed only; not a test).

    python bench/bench_book.py                    # 1,000,000 seeded deltas, median of 3 runs
    python bench/bench_book.py --deltas 200000 --runs 5

Part 1 applies the same seeded deltas (random prices 1-99 cents on both sides, whole and fractional
sizes, levels added, shrunk and removed) and reads the best bid and ask after every delta, with:
our `LocalBook` (integer sub-units, from pre-parsed fields and from the wire dicts); a plain
dict-of-levels using `max()` for the best price; and, when installed, the `kalshi-simple-ws-orderbook`
package's `OrderbookManager` (`pip install kalshi-simple-ws-orderbook`; not a project dependency).

Part 2 goes from raw WebSocket JSON text (current `orderbook_delta` envelopes) to an updated book,
against `json.loads` alone on the same messages (the floor): our fast path (seq check +
fixed-point strings parsed straight to integers + apply), the full `BookKeeper.on_delta` (which also
stamps times and builds `BookUpdated` events), and a Decimal-based parse for contrast.
"""

from __future__ import annotations

import argparse
import gc
import json
import random
import statistics
import time
from decimal import Decimal

from tabulate import tabulate

from kalshi_trading.marketdata.book import LocalBook
from kalshi_trading.marketdata.feed import BookKeeper

TICKER = "KXBENCH-26NOV21-T50"


def synthetic_deltas(n: int, seed: int = 7) -> list[tuple[bool, int, int]]:
    """(YES side?, price in 1/10,000 $, size change in 1/100 contract): a consistent stream (no level below 0)."""
    rng = random.Random(seed)
    sides: tuple[dict[int, int], dict[int, int]] = ({}, {})
    out = []
    for _ in range(n):
        yes = rng.random() < 0.5
        price = rng.randint(1, 99) * 100
        levels = sides[0 if yes else 1]
        size = levels.get(price, 0)
        if size and rng.random() < 0.5:
            delta = -size if rng.random() < 0.3 else -rng.randint(1, size)
        else:
            delta = rng.choice((100, 200, 500, 1000, 2500, 50, 125, 1)) * rng.randint(1, 4)
        new = size + delta
        if new:
            levels[price] = new
        else:
            del levels[price]
        out.append((yes, price, delta))
    return out


def wire_messages(deltas) -> list[dict]:
    return [{"market_ticker": TICKER, "market_id": "m-1", "price_dollars": f"{p / 10_000:.4f}",
             "delta_fp": f"{d / 100:.2f}", "side": "yes" if yes else "no", "ts_ms": 1_790_000_000_000 + i}
            for i, (yes, p, d) in enumerate(deltas)]


def json_texts(deltas) -> list[str]:
    return [json.dumps({"type": "orderbook_delta", "sid": 1, "seq": i + 2, "msg": m})
            for i, m in enumerate(wire_messages(deltas))]


# ----------------------------------------------------------------------------------- part 1 contenders
def ours_units(deltas):
    book = LocalBook(TICKER)
    book.apply_snapshot([], [])
    apply = book.apply_delta
    for yes, p, d in deltas:
        apply(yes, p, d)
        _best = book.best_bid_units, book.best_ask_units  # the read is what is timed
    return book.best_bid_units, book.best_ask_units


def ours_units_decimal_reads(deltas):
    book = LocalBook(TICKER)
    book.apply_snapshot([], [])
    apply = book.apply_delta
    for yes, p, d in deltas:
        apply(yes, p, d)
        _best = book.best_bid, book.best_ask  # the read is what is timed
    return book.best_bid, book.best_ask


def ours_dicts(msgs):
    book = LocalBook(TICKER)
    book.apply_snapshot([], [])
    apply = book.apply_message
    for m in msgs:
        apply(m)
        _best = book.best_bid_units, book.best_ask_units  # the read is what is timed
    return book.best_bid_units, book.best_ask_units


def plain_dict(deltas):
    sides = ({}, {})
    best = None
    for yes, p, d in deltas:
        levels = sides[0 if yes else 1]
        size = levels.get(p, 0) + d
        if size > 0:
            levels[p] = size
        else:
            levels.pop(p, None)
        bid = max(sides[0]) if sides[0] else None
        no = max(sides[1]) if sides[1] else None
        best = (bid, 10_000 - no if no else None)
    return best


def package(msgs):
    from orderbook_manager import OrderbookManager

    manager = OrderbookManager()
    manager.orderbooks[TICKER] = {"yes": {}, "no": {}}  # its handle_snapshot prints; set the empty book directly
    handle, best = manager.handle_delta, manager.get_best_prices
    for m in msgs:
        handle(m)
        best(TICKER)
    return best(TICKER)


def package_messages(deltas) -> list[dict]:
    # The package reads the legacy fields: `price` in cents and `delta` as a number.
    return [{"market_ticker": TICKER, "price": p // 100, "delta": d, "side": "yes" if yes else "no"}
            for yes, p, d in deltas]


# ----------------------------------------------------------------------------------- part 2 contenders
def loads_only(texts):
    loads = json.loads
    for t in texts:
        loads(t)


def ours_fast_path(texts):
    """What the feed's hot path must do per frame: parse, check seq, parse fixed-point text, apply."""
    loads = json.loads
    book = LocalBook(TICKER)
    book.apply_snapshot([], [])
    books = {TICKER: book}
    last = {1: 1}
    for t in texts:
        env = loads(t)
        msg = env["msg"]
        sid, seq = env["sid"], env["seq"]
        if seq != last[sid] + 1:
            raise AssertionError("gap")
        last[sid] = seq
        books[msg["market_ticker"]].apply_message(msg)
    return book.best_bid_units


def ours_keeper(texts):
    loads = json.loads
    keeper = BookKeeper(lambda tickers: None)
    keeper.add(TICKER).apply_snapshot([], [])
    keeper.check_seq(1, 1)
    on_delta = keeper.on_delta
    for t in texts:
        env = loads(t)
        on_delta(env["sid"], env["seq"], env["msg"])
    return keeper.books[TICKER].best_bid_units


def decimal_parse(texts):
    """The fast path's work, with the strings parsed through Decimal instead."""
    loads = json.loads
    book = LocalBook(TICKER)
    book.apply_snapshot([], [])
    books = {TICKER: book}
    last = {1: 1}
    for t in texts:
        env = loads(t)
        msg = env["msg"]
        sid, seq = env["sid"], env["seq"]
        if seq != last[sid] + 1:
            raise AssertionError("gap")
        last[sid] = seq
        books[msg["market_ticker"]].apply_delta(msg["side"] == "yes", int(Decimal(msg["price_dollars"]) * 10_000),
                                                int(Decimal(msg["delta_fp"]) * 100))
    return book.best_bid_units


def median_time(fn, arg, runs: int) -> float:
    times = []
    for _ in range(runs):
        gc.collect()
        gc.disable()
        try:
            start = time.perf_counter()
            fn(arg)
            times.append(time.perf_counter() - start)
        finally:
            gc.enable()
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--deltas", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    n = args.deltas
    deltas = synthetic_deltas(n, args.seed)
    msgs = wire_messages(deltas)
    # every contender must end on the same book
    expected = ours_units(deltas)
    assert ours_dicts(msgs) == expected
    bid, ask = plain_dict(deltas)
    assert (bid or 0, ask or 0) == expected

    part1 = [("LocalBook.apply_delta (int fields) + int best reads", ours_units, deltas),
             ("LocalBook.apply_delta (int fields) + Decimal best reads", ours_units_decimal_reads, deltas),
             ("LocalBook.apply_message (wire dicts) + int best reads", ours_dicts, msgs),
             ("plain dict of levels + max() for best", plain_dict, deltas)]
    try:
        import orderbook_manager  # noqa: F401  (kalshi-simple-ws-orderbook)
        pkg = package_messages(deltas)
        part1.append(("kalshi-simple-ws-orderbook OrderbookManager", package, pkg))
    except ImportError:
        pkg = None
        print("kalshi-simple-ws-orderbook is not installed: pip install kalshi-simple-ws-orderbook to compare\n")
    rows = []
    results = {}
    for name, fn, arg in part1:
        t = median_time(fn, arg, args.runs)
        results[name] = n / t
        rows.append((name, f"{t:.3f}", f"{n / t:,.0f}"))
    ref = results.get("kalshi-simple-ws-orderbook OrderbookManager")
    if ref:
        rows = [r + (f"{results[r[0]] / ref:.1f}x",) for r in rows]
    print(f"Part 1: {n:,} deltas, best bid and ask read after each (median of {args.runs})")
    print(tabulate(rows, headers=["book", "seconds", "deltas/s"] + (["vs package"] if ref else []),
                   disable_numparse=True, colalign=("left", "right", "right", "right")))

    texts = json_texts(deltas)
    part2 = [("json.loads alone (floor)", loads_only),
             ("JSON -> book: fast path (seq check, no Decimal)", ours_fast_path),
             ("JSON -> book: BookKeeper.on_delta (+ times, events)", ours_keeper),
             ("JSON -> book: Decimal parse of the strings", decimal_parse)]
    assert ours_fast_path(texts) == ours_keeper(texts) == decimal_parse(texts) == expected[0]
    rows = []
    floor = None
    for name, fn in part2:
        t = median_time(fn, texts, args.runs)
        floor = floor or n / t
        rows.append((name, f"{t:.3f}", f"{n / t:,.0f}", f"{(n / t) / floor:.2f}x"))
    print(f"\nPart 2: {n:,} raw orderbook_delta frames to an updated book (median of {args.runs})")
    print(tabulate(rows, headers=["path", "seconds", "deltas/s", "vs json.loads"], disable_numparse=True,
                   colalign=("left", "right", "right", "right")))


if __name__ == "__main__":
    main()
