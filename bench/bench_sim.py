"""Simulator benchmark: engine order actions/s in-process (with and without an orderbook_delta
subscriber on the WebSocket feed), loopback HTTP requests/s with server CPU per request, WebSocket
messages/s fanned out to 1 and 10 subscribers while the engine trades, and embedded cold start.
Prints a table of medians.  Not a test.

    python bench/bench_sim.py [--quick]
"""

from __future__ import annotations

import argparse
import base64
import random
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import requests
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding
from tabulate import tabulate

from kalshi_trading.sim.clock import ManualClock
from kalshi_trading.sim.engine import Engine
from kalshi_trading.sim.errors import SimError
from kalshi_trading.sim.market import Market
from kalshi_trading.sim.records import RESTING, Account

T0 = 1_795_000_000_000


def _market() -> Market:
    far = T0 + 86_400_000
    m = Market(ticker="B", event_ticker="E", series_ticker="S", title="t", subtitle="", yes_sub_title="y",
               no_sub_title="n", created_ms=T0, open_ms=T0, close_ms=far, expected_expiration_ms=far,
               latest_expiration_ms=far, settlement_timer_seconds=60, rules_primary="", rules_secondary="",
               price_level_structure="linear_cent", price_ranges=[("0.01", "0.99", "0.01")], strike_type=None,
               floor_strike=None, cap_strike=None, fee_type="quadratic_with_maker_fees", fee_multiplier="1",
               can_close_early=False, underlying=None)
    m.status = "active"
    return m


class _Sink:
    """A feed connection that only counts what it is handed (the engine-side cost of publishing)."""

    def __init__(self, account):
        self.account = account
        self.subs = {}
        self.next_sid = 0
        self.frames = 0

    def push(self, batch, force=False):
        self.frames += len(batch)
        return []

    def drop(self):
        pass


def _script(rng: random.Random, accounts, n: int, ticker: str = "B") -> list:
    """~55% resting orders, ~20% crossing IOCs, ~25% cancels."""
    script = []
    for _ in range(n):
        roll = rng.random()
        acct = accounts[rng.randrange(4)]
        if roll < 0.55:
            side = "bid" if rng.random() < 0.5 else "ask"
            price = rng.randint(30, 49) * 100 if side == "bid" else rng.randint(51, 70) * 100
            script.append(("rest", acct, side, price, rng.randint(1, 50) * 100))
        elif roll < 0.75:
            side = "bid" if rng.random() < 0.5 else "ask"
            script.append(("cross", acct, side, 6500 if side == "bid" else 3500, rng.randint(1, 20) * 100))
        else:
            script.append(("cancel", rng.random()))
    return script


def _run(engine, script, ticker: str = "B", lock=None, after=None) -> None:
    """Play a script; `lock` held per action and `after()` run after each (as the HTTP layer does)."""
    live = []
    place, cancel = engine.place, engine.cancel
    for action in script:
        if lock is not None:
            lock.acquire()
        try:
            if action[0] == "cancel":
                if live:
                    i = int(action[1] * len(live))
                    order = live[i]
                    live[i] = live[-1]
                    live.pop()
                    if order.status == RESTING:
                        cancel(order.account, order.order_id)
            else:
                _, acct, side, price, count = action
                try:
                    order = place(acct, ticker, side, price, count,
                                  "good_till_canceled" if action[0] == "rest" else "immediate_or_cancel")
                except SimError:
                    order = None
                if order is not None and order.status == RESTING:
                    live.append(order)
            if after is not None:
                after()
        finally:
            if lock is not None:
                lock.release()


def engine_actions(n: int, seed: int, subscribed: bool = False) -> float:
    """Order actions per second in-process; with `subscribed`, a WebSocket feed with one
    orderbook_delta subscriber is attached and flushed after every action (frames counted, not sent)."""
    rng = random.Random(seed)
    clock = ManualClock(T0)
    engine = Engine(clock)
    engine.add_market(_market())
    accounts = [engine.add_account(Account(f"a{i}", f"u{i}", f"k{i}", "", 10**15)) for i in range(4)]
    script = _script(rng, accounts, n)
    after = None
    if subscribed:
        from types import SimpleNamespace

        from kalshi_trading.sim.feed import Feed, Sub

        feed = Feed(SimpleNamespace(engine=engine, lock=engine.lock, clock=clock, feed=None))
        sink = _Sink(accounts[0])
        with engine.lock:
            feed._add(Sub(sink, 1, "orderbook_delta", {"B"}, {}))
        after = feed.flush
    start = time.perf_counter()
    _run(engine, script, after=after)
    return n / (time.perf_counter() - start)


def ws_fanout(n_actions: int, subscribers: int, data_dir: Path, seed: int = 0) -> tuple[float, float]:
    """(messages/s received in total by `subscribers` loopback WebSocket clients of one market's
    orderbook_delta, engine order actions/s meanwhile).  The engine of a running server is driven
    in-process under its lock, flushing after each action like an HTTP request does."""
    from websockets.sync.client import connect

    from kalshi_trading.sim.runtime import start_embedded

    import contextlib

    srv = start_embedded(data_dir, participants=False, rate_limits=False)
    stack = contextlib.ExitStack()
    try:
        srv.app.ws_max_queue = 10**7  # measure throughput, not overflow
        ex = srv.exchange
        ticker = next(m.ticker for m in ex.engine.markets.values()
                      if m.status == "active" and m.series_ticker == "KXBTCD")
        with ex.lock:
            accounts = [ex.engine.add_account(Account(f"bench{i}", f"u{i}", "", "", 10**15)) for i in range(4)]
        acct = srv.demo_account
        signer = Signer(acct.key_id, acct.private_key_path)
        clients = []
        for _ in range(subscribers):
            ws = stack.enter_context(connect(srv.ws_url, additional_headers=signer.headers("GET", "/trade-api/ws/v2"),
                                             max_queue=None))
            ws.send('{"id":1,"cmd":"subscribe","params":{"channels":["orderbook_delta"],"market_tickers":["%s"]}}'
                    % ticker)
            assert '"subscribed"' in ws.recv(timeout=5) and '"orderbook_snapshot"' in ws.recv(timeout=5)
            clients.append(ws)
        subs = [s for s in srv.app.feed.subs["orderbook_delta"]]
        script = _script(random.Random(seed), accounts, n_actions)
        counts = [0] * subscribers
        target: list[int] = []

        def read(i, ws):
            import json

            while True:
                frame = json.loads(ws.recv(timeout=30))
                counts[i] += 1
                if target and frame.get("seq", 0) >= target[0]:
                    return

        readers = [threading.Thread(target=read, args=(i, ws), daemon=True) for i, ws in enumerate(clients)]
        for t in readers:
            t.start()
        start = time.perf_counter()
        _run(ex.engine, script, ticker, lock=ex.lock, after=ex.feed.flush)
        engine_s = time.perf_counter() - start
        target.append(subs[0].seq)
        with ex.lock:  # one more change so every reader sees a frame at or past the target
            ex.engine.place(accounts[0], ticker, "bid", 100, 100)
            ex.feed.flush()
        for t in readers:
            t.join(timeout=60)
        wall = time.perf_counter() - start
        return sum(counts) / wall, n_actions / engine_s
    finally:
        stack.close()
        srv.stop()


class Signer:
    def __init__(self, key_id: str, key_path: Path):
        self.key_id = key_id
        self.key = serialization.load_pem_private_key(key_path.read_bytes(), password=None)

    def headers(self, method: str, path: str) -> dict:
        ts = str(int(time.time() * 1000))
        sig = self.key.sign(f"{ts}{method}{path}".encode(),
                            padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=32), hashes.SHA256())
        return {"KALSHI-ACCESS-KEY": self.key_id, "KALSHI-ACCESS-TIMESTAMP": ts,
                "KALSHI-ACCESS-SIGNATURE": base64.b64encode(sig).decode()}


def http_runs(n: int, data_dir: Path) -> dict[str, tuple[float, float]]:
    """{name: (requests per second, server CPU ms per request)} over one keep-alive session."""
    from kalshi_trading.sim.runtime import start_embedded

    srv = start_embedded(data_dir, participants=False, rate_limits=False)
    try:
        acct = srv.demo_account
        signer = Signer(acct.key_id, acct.private_key_path)
        base = srv.base_url
        prefix = "/trade-api/v2"
        session = requests.Session()
        ticker = next(m.ticker for m in srv.exchange.engine.markets.values()
                      if m.status == "active" and m.series_ticker == "KXBTCD")
        out = {}

        def measure(name, fn, count):
            app = srv.app
            req0, cpu0 = app.requests, app.cpu_seconds
            t = time.perf_counter()
            for _ in range(count):
                fn()
            wall = time.perf_counter() - t
            reqs = app.requests - req0
            out[name] = (reqs / wall, (app.cpu_seconds - cpu0) / reqs * 1000)

        def public_read():
            r = session.get(base + f"/markets/{ticker}")
            assert r.status_code == 200

        def signed_read():
            r = session.get(base + "/portfolio/balance", headers=signer.headers("GET", prefix + "/portfolio/balance"))
            assert r.status_code == 200

        body = {"ticker": ticker, "side": "bid", "price": "0.05", "count": "1", "time_in_force": "good_till_canceled",
                "self_trade_prevention_type": "taker_at_cross"}

        def create_cancel():
            path = prefix + "/portfolio/events/orders"
            r = session.post(base + "/portfolio/events/orders", json=body, headers=signer.headers("POST", path))
            assert r.status_code == 201, r.text
            oid = r.json()["order_id"]
            p = f"{path}/{oid}"
            r = session.delete(base + f"/portfolio/events/orders/{oid}", headers=signer.headers("DELETE", p))
            assert r.status_code == 200

        measure("public read (GET market)", public_read, n)
        measure("signed read (GET balance)", signed_read, n)
        measure("create+cancel (2 signed writes)", create_cancel, n // 2)
        return out
    finally:
        srv.stop()


def cold_start(data_dir: Path) -> float:
    """Fresh process: import, load state, bind, serve the first request, stop (seconds)."""
    code = ("import time,sys,urllib.request;t=time.perf_counter();"
            "from kalshi_trading.sim.runtime import start_embedded;from pathlib import Path;"
            f"s=start_embedded(Path({str(data_dir)!r}));urllib.request.urlopen(s.base_url+'/exchange/status').read();"
            "s.stop();print(time.perf_counter()-t)")
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return float(res.stdout.strip())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="smaller runs")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    n_engine = 50_000 if args.quick else 200_000
    n_http = 300 if args.quick else 1000
    rows = []
    eng = [engine_actions(n_engine, seed) for seed in range(args.repeats)]
    rows.append(["engine order actions (in-process)", f"{statistics.median(eng):,.0f} actions/s", "-"])
    eng = [engine_actions(n_engine, seed, subscribed=True) for seed in range(args.repeats)]
    rows.append(["engine order actions, 1 orderbook_delta subscriber (feed flush per action)",
                 f"{statistics.median(eng):,.0f} actions/s", "-"])
    n_ws = 5_000 if args.quick else 20_000
    with tempfile.TemporaryDirectory() as tmp:
        for subscribers in (1, 10):
            got = [ws_fanout(n_ws, subscribers, Path(tmp) / f"ws{subscribers}-{i}", i) for i in range(args.repeats)]
            msgs = statistics.median(g[0] for g in got)
            acts = statistics.median(g[1] for g in got)
            rows.append([f"WS fan-out to {subscribers} orderbook_delta subscriber(s) over loopback",
                         f"{msgs:,.0f} msgs/s", f"engine {acts:,.0f} actions/s meanwhile"])
    runs: dict[str, list] = {}
    cold = []
    with tempfile.TemporaryDirectory() as tmp:
        for _ in range(args.repeats):
            for name, value in http_runs(n_http, Path(tmp)).items():
                runs.setdefault(name, []).append(value)
            cold.append(cold_start(Path(tmp)))
    for name, values in runs.items():
        rate = statistics.median(v[0] for v in values)
        cpu = statistics.median(v[1] for v in values)
        unit = "pairs/s" if name.startswith("create") else "req/s"
        shown = rate / 2 if unit == "pairs/s" else rate
        rows.append([f"loopback HTTP: {name}", f"{shown:,.0f} {unit}", f"{cpu:.3f} ms/req"])
    cold_ms = statistics.median(cold) * 1000
    rows.append(["embedded cold start (import+load+bind+1st req+stop)", f"{cold_ms:,.0f} ms", "-"])
    print(tabulate(rows, headers=["benchmark (median of %d)" % args.repeats, "throughput", "server CPU"]))


if __name__ == "__main__":
    main()
