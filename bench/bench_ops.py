"""Benchmark: the bot's decision latency with the ops on (alert rules and digests sent to a loopback HTTP server,
/metrics served and scraped) and off, in one run.

Each round is the same seeded `kalshi auto --sim` session (a fresh simulated exchange with the given seed in a data
directory of its own, the market maker on the Bitcoin strike nearest the spot, the WebSocket feed, a 500 ms
exchange-time loop at --speed), built as the CLI builds it, run for --duration wall seconds; rounds alternate off,
on, off, on... so both see the same machine.  "on" wraps the run in `ops.runtime.BotOps` exactly as `kalshi auto`
does, with:

  notifications  every rule on, the daily P&L rule's threshold above any P&L (so it fires), a bot digest every
                 exchange minute (about one a second at x60), delivered by the real notifier (`ops/notify`: its
                 bounded queue and sender thread, every outcome recorded in the store) to its webhook channel,
                 KALSHI_WEBHOOK_URL pointing at a loopback HTTP server
  metrics        /metrics on 127.0.0.1, scraped every 0.5 s by a client thread

Printed (the median over the rounds of each mode, with the lowest and highest round): decision p50/p99 (strategy +
diff + risk per market pass, what the loop records), loop p50/p99 (the same pass with its I/O), passes, messages
delivered and scrapes.  The goal is no measurable change: compare the spread of the off rounds with the difference
between the modes.

Usage:  python bench/bench_ops.py [--rounds 3] [--duration 10] [--speed 60] [--seed 7]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import statistics
import sys
import tempfile
import threading
import time
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from tabulate import tabulate

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from kalshi_trading.auto.botconfig import BotConfig  # noqa: E402
from kalshi_trading.auto.report import percentile  # noqa: E402
from kalshi_trading.auto.runner import BotRun, BotSetup  # noqa: E402
from kalshi_trading.auto.strategies import MarketMaker  # noqa: E402
from kalshi_trading.auto.underlying import ExchangeClock, SimSpotUnderlying  # noqa: E402
from kalshi_trading.cli.commands_auto import _open_feed, _pick_market  # noqa: E402
from kalshi_trading.cli.context import AppContext  # noqa: E402
from kalshi_trading.ops.notify.dispatch import build_dispatcher  # noqa: E402
from kalshi_trading.ops.runtime import BotOps, MetricsPlace  # noqa: E402
from kalshi_trading.ops.settings import build_settings  # noqa: E402

HEADERS = ["ops", "rounds", "decision p50 µs", "decision p99 µs", "loop p50 µs", "loop p99 µs", "passes",
           "messages", "scrapes"]  # latencies: the median of the rounds' figures [the lowest-highest round]


class Receiver:
    """A loopback HTTP server that accepts JSON posts and counts them (the webhook's other end)."""

    def __init__(self) -> None:
        self.count = 0
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's name)
                json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                outer.count += 1
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class Scraper:
    """GET /metrics every `every` seconds until closed."""

    def __init__(self, url: str, every: float = 0.5):
        self.url, self.every, self.count = url, every, 0
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while not self.stop.wait(self.every):
            urllib.request.urlopen(self.url, timeout=5).read()
            self.count += 1

    def close(self) -> None:
        self.stop.set()
        self.thread.join(timeout=10)


def one_round(with_ops: bool, args: argparse.Namespace, receiver: Receiver) -> dict:
    """One seeded session of the market maker; its latency samples and what the ops delivered."""
    with tempfile.TemporaryDirectory() as tmp:
        os.environ.update(KALSHI_DATA_DIR=os.path.join(tmp, "data"), KALSHI_LOG_DIR=os.path.join(tmp, "logs"),
                          KALSHI_ENV="sim", HOME=tmp, KALSHI_WEBHOOK_URL=receiver.url)
        app_ctx = AppContext()
        try:
            app_ctx.use_simulator(Path(tmp) / "data", speed=args.speed, seed=args.seed, rate_tier="prestige")
            client = app_ctx.client
            ticker = _pick_market(client, SimSpotUnderlying(client), args.duration * args.speed)
            feed, name = _open_feed("ws", app_ctx, client, (ticker,))
            cfg = dataclasses.replace(BotConfig.default(), max_orders_per_minute=120, loop_interval_ms=500)
            setup = BotSetup(client=client, executor=app_ctx.executor, state=app_ctx.bot_state("default"),
                             strategy=MarketMaker(), config=cfg, tickers=(ticker,), clock=ExchangeClock(client),
                             feed=feed, feed_name=name)
            run = BotRun(setup)
            ops = sink = scraper = None
            before = receiver.count
            if with_ops:
                settings = build_settings({"digest_every": "1m", "daily_pnl": {"below": 1000}})
                sink = build_dispatcher(app_ctx.settings)
                assert sink is not None, "the webhook is configured"
                ops = BotOps(run, bot="default", env="SIM", settings=settings, sink=sink, store=app_ctx.store,
                             metrics=MetricsPlace("127.0.0.1", 0))
                assert ops.server is not None
                scraper = Scraper(ops.server.url)
            run.prepare()
            try:
                run.run(threading.Event(), args.duration, ops.status() if ops is not None else None)
            finally:
                run.shutdown("bench")
                for part in (scraper, ops, sink):  # the scraper before the server it scrapes
                    if part is not None:
                        part.close()
            time.sleep(0.2)  # the last posts land
            m = run.metrics
            return {"decision": list(m.decision_latency), "tick": list(m.tick_latency), "passes": m.ticks,
                    "messages": receiver.count - before, "scrapes": scraper.count if scraper else 0}
        finally:
            app_ctx.close()


def us(seconds: float | None) -> float:
    return round((seconds or 0.0) * 1e6, 1)


def summary(label: str, rounds: list[dict]) -> list:
    def med(key: str, q: float) -> str:
        each = [us(percentile(r[key], q)) for r in rounds]
        return f"{statistics.median(each)} [{min(each)}-{max(each)}]"

    return [label, len(rounds), med("decision", 50), med("decision", 99), med("tick", 50), med("tick", 99),
            statistics.median(r["passes"] for r in rounds), statistics.median(r["messages"] for r in rounds),
            statistics.median(r["scrapes"] for r in rounds)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3, help="rounds of each mode (alternated)")
    parser.add_argument("--duration", type=float, default=10.0, help="wall seconds per round")
    parser.add_argument("--speed", type=float, default=60.0)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    receiver = Receiver()
    off: list[dict] = []
    on: list[dict] = []
    try:
        for i in range(args.rounds * 2):
            with_ops = i % 2 == 1
            result = one_round(with_ops, args, receiver)
            (on if with_ops else off).append(result)
            print(f"round {i + 1}: ops {'on' if with_ops else 'off'}: decision p99 "
                  f"{us(percentile(result['decision'], 99))} µs over {result['passes']} passes", file=sys.stderr)
    finally:
        receiver.close()
    rows = [summary("off", off), summary("on", on)]
    print(tabulate(rows, headers=HEADERS, tablefmt="github"))
    print("\nlatencies: the median of the rounds' figures [the lowest and highest round]: the spread of the off "
          "rounds is the noise to compare the modes with")


if __name__ == "__main__":
    main()
