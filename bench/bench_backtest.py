"""Backtest speed: recorded book events per second through the full loop (feed -> book -> strategy -> risk ->
exchange model), the market maker on one market and on ten, against replaying the same events through the
live-simulator path (HTTP + WebSocket).  Speed only; not a test.

    python bench/bench_backtest.py                              # 100,000 and 1,000,000 events; sim path 2,000
    python bench/bench_backtest.py --events 100000 --runs 3 --sim-events 1000

The streams are seeded synthetic markets (tests/backtest/streams.py) written by the real recorder: uncrossed books
on the one-cent grid around a drifting mid, 92% size changes near the top of either side, 8% trades; 50 us apart
(20,000 events a recorded second).  On ten markets the same number of events is spread over them.

Timed, each a median of `--runs` (1 at a million events and more: they take minutes):

* `replay feed only`: reader -> sequence checks -> LocalBook -> events (what every path below starts with);
* `backtest, mm`: `run_backtest` (BotLoop, MarketMaker, RiskEngine, Ledger, the queue model, 50 ms latency, the
  conservative model): CPU seconds of this process, the report not included;
* `live simulator, mm`: the embedded simulator, the same stream applied to it as orders over HTTP by two other
  accounts (size changes as resting orders, decreases and cancels; trades as immediate-or-cancel orders), the bot
  (`BotRun`, the same market maker) trading it over HTTP on its own WebSocket feed in a thread; timed from the
  first order to the moment the bot's book equals the simulator's (the bot has seen every event): wall seconds.

The goal in issue 16 is 200,000 events a second for one market on one core.
"""

from __future__ import annotations

import argparse
import gc
import logging
import statistics
import sys
import tempfile
import threading
import time
from decimal import Decimal as D
from pathlib import Path

from tabulate import tabulate

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from kalshi_trading.backtest.engine import BacktestSpec, run_backtest  # noqa: E402
from kalshi_trading.replay.feed import ReplayFeed  # noqa: E402
from kalshi_trading.replay.reader import Recording  # noqa: E402
from tests.backtest.streams import write_market  # noqa: E402

CONFIG = {"max_orders_per_minute": 100_000}  # the rate limit would keep the bot off the book most of the time


def feed_only(directory: Path) -> tuple[int, float, float]:
    rec = Recording(directory)
    feed = ReplayFeed(rec)
    feed.subscribe(rec.markets)
    wall, cpu = time.perf_counter(), time.process_time()
    n = sum(1 for _ in feed.events())
    return n, time.perf_counter() - wall, time.process_time() - cpu


def backtest(directory: Path) -> tuple[int, float, float]:
    run = run_backtest(BacktestSpec(directory, config=CONFIG))
    return run.feed.events_seen, run.wall_seconds, run.cpu_seconds


def timed(fn, arg, runs: int) -> tuple[int, float, float]:
    results = []
    for _ in range(runs):
        gc.collect()
        results.append(fn(arg))
    return results[0][0], statistics.median(r[1] for r in results), statistics.median(r[2] for r in results)


# ------------------------------------------------------------------------------------------------ live simulator
def sim_path(events: int, markets: int, tmp: Path) -> tuple[int, float, float]:
    """The stream applied to the embedded simulator over HTTP while the bot trades it (see the module docstring)."""
    from kalshi_trading.api.signer import Signer
    from kalshi_trading.auto.botconfig import BotConfig
    from kalshi_trading.auto.runner import BotRun, BotSetup
    from kalshi_trading.auto.state import BotState
    from kalshi_trading.auto.strategies import MarketMaker
    from kalshi_trading.auto.underlying import ExchangeClock
    from kalshi_trading.config import load_private_key
    from kalshi_trading.errors import ApiError
    from kalshi_trading.marketdata.feed_ws import WebSocketFeed
    from kalshi_trading.models import BookSide, OrderRequest
    from kalshi_trading.sim.runtime import start_embedded
    from kalshi_trading.store import open_store
    from kalshi_trading.store.sqlite.journal import SqliteJournal
    from kalshi_trading.trading.executor import Executor
    from tests.e2e.conftest import client_for

    stream = write_market(tmp / f"sim-{markets}", events, markets=markets, keep_ops=True)
    server = start_embedded(tmp / f"simx-{markets}", seed=1, participants=False, rate_limits=False)
    try:
        active = sorted((m for m in server.exchange.engine.markets.values()
                         if m.series_ticker == "KXBTCD" and m.status == "active"), key=lambda m: (m.close_ms, m.ticker))
        real = [m.ticker for m in active[len(active) // 2: len(active) // 2 + markets]]
        name = dict(zip(stream.initial, real, strict=True))  # synthetic ticker -> a simulator market
        maker = client_for(server.base_url, server.create_account(D(10**8)))
        taker = client_for(server.base_url, server.create_account(D(10**8)))
        resting: dict[tuple, list[list]] = {}  # (ticker, yes, price) -> [[order id, size units]]

        def add(t: str, yes: bool, price: int, size: int) -> None:
            side, yes_price = (BookSide.BID, price) if yes else (BookSide.ASK, 10_000 - price)
            if size > 0:
                ack = maker.create_order(OrderRequest(name[t], side, D(size) / 100, D(yes_price) / 10_000))
                resting.setdefault((t, yes, price), []).append([ack.order_id, size])
                return
            left = -size
            orders = resting.get((t, yes, price), [])
            while left > 0 and orders:
                oid, have = orders[-1]
                try:
                    if have <= left:
                        maker.cancel_order(oid, name[t])
                        orders.pop()
                        left -= have
                    else:
                        maker.decrease_order(oid, reduce_by=D(left) / 100)
                        orders[-1][1] -= left
                        left = 0
                except ApiError:  # taken by a trade meanwhile
                    orders.pop()

        for t, (yes_levels, no_levels) in stream.initial.items():
            for p, s in yes_levels.items():
                add(t, True, p, s)
            for p, s in no_levels.items():
                add(t, False, p, s)
        account = server.create_account(D(10**6))
        client = client_for(server.base_url, account)
        journal = SqliteJournal.open(tmp / f"journal-{markets}.sqlite")
        state = BotState(open_store(f"sqlite://{tmp}/bot-{markets}/", env="sim").bot_state())
        feed = WebSocketFeed(server.ws_url, Signer(account.key_id, load_private_key(account.private_key_path)))
        config = BotConfig.from_mapping(CONFIG)
        run = BotRun(BotSetup(client=client, executor=Executor(client, journal, "sim"), state=state,
                              strategy=MarketMaker(), config=config, tickers=tuple(real), clock=ExchangeClock(client),
                              feed=feed, feed_name="ws"))
        run.prepare()
        stop = threading.Event()
        timing: list[float] = []
        replayer = threading.Thread(target=_replay, args=(stream, real, feed, maker, taker, name, add, stop, timing),
                                    daemon=True)
        feed.subscribe(real)
        replayer.start()
        run.run(stop, None)  # the bot on this thread (its journal and state are this thread's)
        replayer.join(30)
        elapsed, used = timing if len(timing) == 2 else (float("nan"), float("nan"))
        run.shutdown("bench end")
        state.close()
        journal.close()
        return len(stream.ops), elapsed, used
    finally:
        server.stop()


def _replay(stream, real, feed, maker, taker, name, add, stop, timing) -> None:
    """The replayer's thread: wait for the bot's books, apply the stream over HTTP, wait until the bot's books are
    the simulator's, stop the bot."""
    from kalshi_trading.errors import ApiError
    from kalshi_trading.marketdata.book import orderbook_units
    from kalshi_trading.models import BookSide, OrderRequest, TimeInForce

    def books_agree() -> bool:
        try:
            return all(feed.books[t].levels_units() == tuple(dict(s) for s in orderbook_units(maker.get_orderbook(t)))
                       for t in real)
        except (KeyError, RuntimeError):  # not subscribed yet, or changed while read from this thread
            return False

    try:
        while not all(t in feed.books and not feed.books[t].stale for t in real):
            time.sleep(0.01)
        wall, cpu = time.perf_counter(), time.process_time()
        for op in stream.ops:
            if op[0] == "add":
                _, t, yes, price, size = op
                add(t, yes, price, size)
            else:
                _, t, buy, yes_price, size = op
                try:
                    taker.create_order(OrderRequest(name[t], BookSide.BID if buy else BookSide.ASK, D(size) / 100,
                                                    D(yes_price) / 10_000, time_in_force=TimeInForce.IOC))
                except ApiError:
                    pass
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and not books_agree():  # the bot has seen every event
            time.sleep(0.01)
        timing.extend((time.perf_counter() - wall, time.process_time() - cpu))
    finally:
        stop.set()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", default="100000,1000000", help="stream sizes, comma-separated")
    parser.add_argument("--runs", type=int, default=3, help="runs per contender below a million events")
    parser.add_argument("--sim-events", type=int, default=2000, help="events through the live-simulator path")
    parser.add_argument("--markets", default="1,10", help="market counts, comma-separated")
    args = parser.parse_args(argv)
    logging.getLogger("kalshi_trading").setLevel(logging.ERROR)  # the live bot's rejected amends are expected here
    sizes = [int(x) for x in args.events.split(",")]
    counts = [int(x) for x in args.markets.split(",")]
    rows = []
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        for markets in counts:
            for n in sizes:
                directory = tmp / f"rec-{markets}-{n}"
                write_market(directory, n, markets=markets, gap_us=50)
                runs = args.runs if n < 1_000_000 else 1
                for name, fn in (("replay feed only", feed_only), ("backtest, mm (full loop)", backtest)):
                    count, wall, cpu = timed(fn, directory, runs)
                    rows.append((name, markets, n, count, runs, wall, cpu))
                    print(f"  {name}: {markets} market(s), {n:,} events: {cpu:.1f} CPU s", file=sys.stderr)
            if args.sim_events:
                count, wall, cpu = sim_path(args.sim_events, markets, tmp)
                rows.append(("live simulator, mm (HTTP + WebSocket)", markets, args.sim_events, count, 1, wall, cpu))
                print(f"  sim path: {markets} market(s): {wall:.1f} wall s", file=sys.stderr)
    table = [(name, m, f"{n:,}", runs, f"{wall:.2f}", f"{cpu:.2f}", f"{n / wall:,.0f}", f"{n / cpu:,.0f}",
              f"{cpu / n * 1e6:.1f}") for name, m, n, count, runs, wall, cpu in rows]
    print(tabulate(table, headers=["path", "markets", "events", "runs", "wall s", "CPU s", "events/wall s",
                                   "events/CPU s", "CPU us/event"],
                   colalign=("left", "right", "right", "right", "right", "right", "right", "right", "right")))
    best = max((n / cpu for name, m, n, _, _, _, cpu in rows if name.startswith("backtest") and m == 1), default=0)
    print(f"goal: 200,000 events/s for one market on one core: {'met' if best >= 200_000 else 'NOT met'} "
          f"(best {best:,.0f} events per CPU second)")


if __name__ == "__main__":
    main()
