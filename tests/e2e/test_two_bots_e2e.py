"""Several bots, one store, one exchange account, end to end: `kalshi auto` processes sharing one store (a SQLite
directory, a PostgreSQL database, DynamoDB tables: each on its real server) and one simulator (served by this test
process on a loopback port), each trading its own market under its lease.

- A second bot asking for a leased market is refused (exit 3) naming the holder and the expiry.
- A bot killed with SIGKILL leaves its quotes; a new bot takes its market over at once (the holder is provably gone:
  a process of this machine that ended) and its start-up reconciliation cancels the dead bot's orders.
- A bot that stalls (SIGSTOP) keeps its lease until it lapses (a short TTL): until then another is refused, after it
  the other takes the market over; the stalled bot, resumed, finds its lease taken, sends nothing more there and
  cancels its own quotes.
- Throughout, the account never shows more than one order a side per market; at the end nothing rests, and the
  journal holds every fill of the account exactly once.  No timing is asserted.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter

import pytest

from kalshi_trading.models import BookSide, TimeInForce
from kalshi_trading.store import open_store
from tests.e2e.conftest import cent_market, order
from tests.store import pg_server
from tests.store.dynamo_server import shared_server

TTL = 3  # seconds: the test configuration's lease_ttl_seconds
CONFIG = f"""lease_ttl_seconds = {TTL}
loop_interval_ms = 200
max_orders_per_minute = 600
"""


STORES = {  # backend -> the shared store's URL
    "sqlite": lambda tmp_path: f"sqlite://{tmp_path / 'data' / 'sim'}/",
    "postgresql": lambda tmp_path: pg_server.fresh_url(),
    "dynamodb": lambda tmp_path: shared_server().url(),
}


def _env(sim, tmp_path, store_url: str):
    account = sim.demo_account
    env = {**os.environ, "KALSHI_ENV": "sim", "KALSHI_API_BASE": sim.base_url, "KALSHI_API_KEY_ID": account.key_id,
           "KALSHI_PRIVATE_KEY_PATH": str(account.private_key_path), "KALSHI_DATA_DIR": str(tmp_path / "data"),
           "KALSHI_LOG_DIR": str(tmp_path / "logs")}
    env.pop("KALSHI_WS_BASE", None)
    env["KALSHI_STORE"] = store_url
    return env


class Bots:
    """The bot processes of one test, each a `kalshi auto --bot NAME` on the shared store and simulator."""

    def __init__(self, sim, tmp_path, store_url: str):
        self.store_url = store_url
        self.env = _env(sim, tmp_path, store_url)
        self.config = tmp_path / "bot.toml"
        self.config.write_text(CONFIG)
        self.procs: dict[str, subprocess.Popen] = {}

    def cmd(self, name: str, ticker: str, duration: float, *extra: str) -> list[str]:
        return [sys.executable, "-m", "kalshi_trading", "auto", "--bot", name, "--markets", ticker, "--feed", "poll",
                "--config", str(self.config), "--duration", str(duration), "--json", *extra]

    def start(self, name: str, ticker: str, duration: float = 120, *extra: str) -> subprocess.Popen:
        proc = subprocess.Popen(self.cmd(name, ticker, duration, *extra), env=self.env, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE)
        self.procs[name] = proc
        return proc

    def run(self, name: str, ticker: str, *extra: str) -> subprocess.CompletedProcess:
        return subprocess.run(self.cmd(name, ticker, 5, *extra), env=self.env, capture_output=True, text=True,
                              timeout=120)

    def tag(self, name: str) -> str:
        store = open_store(self.store_url, env="sim")
        try:
            return f"kbot-{store.bot_state(bot=name).get('bot_id')}-"
        finally:
            store.close()

    def stop(self, name: str) -> tuple[int, str, str]:
        proc = self.procs[name]
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=60)
        return proc.returncode, out.decode(), err.decode()

    def cleanup(self) -> None:
        for proc in self.procs.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGCONT)
                proc.kill()
                proc.wait(10)


@pytest.fixture(params=sorted(STORES))
def bots(request, sim, tmp_path):
    b = Bots(sim, tmp_path, STORES[request.param](tmp_path))
    try:
        yield b
    finally:
        b.cleanup()


def lease_expiry(bots, name: str):
    store = open_store(bots.store_url, env="sim")
    try:
        [lease] = store.leases().holders(name)
        return lease.expires
    finally:
        store.close()


def resting(client, ticker):
    return list(client.iter_orders(ticker=ticker, status="resting"))


def wait_for(predicate, what: str, procs=(), timeout: float = 60.0):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        value = predicate()
        if value:
            return value
        for proc in procs:
            if proc.poll() is not None:
                raise AssertionError(f"{what}: a bot exited early ({proc.returncode}): "
                                     f"{proc.stderr.read().decode()[-3000:]}")
        time.sleep(0.1)
    raise AssertionError(f"{what}: not within {timeout} s")


class Watch:
    """Every look at the account's resting orders: never more than one a side per market."""

    def __init__(self, client, tickers):
        self.client = client
        self.tickers = tickers
        self.looks = 0

    def look(self) -> dict[str, list]:
        seen = {t: resting(self.client, t) for t in self.tickers}
        for t, orders in seen.items():
            sides = Counter(o.book_side for o in orders)
            assert sides["bid"] <= 1 and sides["ask"] <= 1, (t, [(o.order_id, o.client_order_id) for o in orders])
        self.looks += 1
        return seen

    def quoted_by(self, ticker: str, tag: str) -> bool:
        orders = self.look()[ticker]
        return len(orders) == 2 and all(o.client_order_id.startswith(tag) for o in orders)


def test_two_bots_share_a_store_refuse_each_others_markets_and_take_over_a_dead_ones(sim, client, bob, bots):
    x = cent_market(sim)
    y = next(m.ticker for m in sorted(sim.exchange.engine.markets.values(), key=lambda m: m.ticker)
             if m.series_ticker == "KXBTCD" and m.status == "active" and m.ticker != x)
    for t in (x, y):  # someone else's quotes, so both books have a spread to quote inside
        bob.create_order(order(t, BookSide.BID, "0.40", 50))
        bob.create_order(order(t, BookSide.ASK, "0.60", 50))
    watch = Watch(client, (x, y))

    a, b = bots.start("a", x), bots.start("b", y)
    wait_for(lambda: len(watch.look()[x]) == 2 and len(watch.look()[y]) == 2, "both bots quote", [a, b])
    tag_a, tag_b = bots.tag("a"), bots.tag("b")
    assert tag_a != tag_b and watch.quoted_by(x, tag_a) and watch.quoted_by(y, tag_b)

    # a third bot asking for a's market is refused, naming the holder and the expiry; it touches nothing
    before = {o.order_id for o in watch.look()[x]}
    refused = bots.run("c", x)
    assert refused.returncode == 3, refused.stderr[-2000:]
    assert f"market/{x} is held by bot a (pid {a.pid} on " in refused.stderr and " until 20" in refused.stderr
    assert "Traceback" not in refused.stderr
    assert {o.order_id for o in watch.look()[x]} == before
    same_name = bots.run("a", y)  # a second process as bot a: refused by its PID file
    assert same_name.returncode == 2 and "already running" in same_name.stderr

    # fills on both markets, so the journal has something to account for
    bob.create_order(order(x, BookSide.ASK, "0.01", 1, TimeInForce.IOC))
    bob.create_order(order(y, BookSide.BID, "0.99", 1, TimeInForce.IOC))

    # a is killed: its quotes stay; c takes x over at once and cancels them at its start
    a.send_signal(signal.SIGKILL)
    a.wait(10)
    orphans = {o.order_id for o in watch.look()[x]}
    assert orphans and all(o.client_order_id.startswith(tag_a) for o in watch.look()[x])
    c = bots.start("c", x)
    wait_for(lambda: bots.tag("c") != "kbot-None-" and watch.quoted_by(x, bots.tag("c")), "c quotes x", [c, b])
    assert not orphans & {o.order_id for o in watch.look()[x]}  # the dead bot's orders are gone
    wait_for(lambda: watch.quoted_by(y, tag_b), "b quotes y (its ask was filled)", [c, b])  # b went on

    # b stalls: its lease holds until it lapses, then d takes y over; b, resumed, gives y up
    b.send_signal(signal.SIGSTOP)
    expires = lease_expiry(bots, f"market/{y}")
    early = bots.run("d", y)
    if time.time() < expires.timestamp():  # it ended while b's lease ran: it must have been refused
        assert early.returncode == 3 and f"market/{y} is held by bot b" in early.stderr, early.stderr[-2000:]
    else:  # a slow machine: it started after the lease lapsed, took y over and stopped cleanly
        assert early.returncode in (0, 3), early.stderr[-2000:]
    time.sleep(max(0.0, expires.timestamp() + 0.5 - time.time()))
    d = bots.start("d", y, 120, "--on-start", "cancel")
    tag_d = wait_for(lambda: (t := bots.tag("d")) != "kbot-None-" and watch.quoted_by(y, t) and t,
                     "d quotes y", [c, d])
    b.send_signal(signal.SIGCONT)
    for _ in range(30):  # b runs again: it must not quote y beside d
        assert all(o.client_order_id.startswith(tag_d) for o in watch.look()[y])
        time.sleep(0.1)

    # clean stops: each cancels its own orders and releases its leases
    results = {name: bots.stop(name) for name in ("b", "c", "d")}
    for name, (code, _out, err) in results.items():
        assert code == 0, (name, err[-3000:])
    assert "no longer traded by this bot" in results["b"][2]
    report_b = json.loads(results["b"][1])
    assert any(e["kind"] == "market_dropped" for e in report_b["risk_events"])
    assert resting(client, x) == [] and resting(client, y) == []  # no orphans
    assert watch.looks > 40

    store = open_store(bots.store_url, env="sim")
    try:
        now = time.time()
        live = [lease for lease in store.leases().holders() if lease.expires.timestamp() > now]
        assert live == []  # every lease released or lapsed
        dropped = store.bot_state(bot="b").events(50, kinds=["market_dropped"])
        assert dropped and y in dropped[0].message and "taken over by bot d" in dropped[0].message
        journal_fills = [f.fill_id for f in store.journal().fills()]
    finally:
        store.close()
    exchange_fills = [f.fill_id for f in client.iter_fills()]
    assert len(exchange_fills) >= 2
    assert sorted(journal_fills) == sorted(exchange_fills)  # every fill of the account, once
    assert len(set(journal_fills)) == len(journal_fills)
